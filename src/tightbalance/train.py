"""Training rate networks on the OU tracking task (SPEC §3).

One epoch = draw a fresh batch of B signals and the noise, simulate T steps from
the current relaxed initial state, compute the loss (burn-in left out), take one
Adam step (optax, default betas) on J, W_in, W_out (and the bias if configured).
The diagonal of J stays zero.  Epochs run inside one compiled program: a
``lax.scan`` over the epochs between two evaluations, ``vmap``-ed over seeds, so
several networks train at once.

Every ``eval_every`` epochs (and at epoch 0) the trainer, as the original code did,
re-relaxes the initial state under the current J (``relax_time`` of constant
input ``I_ext``), evaluates the loss on a fixed held-out batch, computes the
diagnostics of SPEC §4, writes a checkpoint and a row of ``metrics.csv`` per seed.

PRNG keys derive from each seed alone (``fold_in`` of the epoch number), so a run
resumed from a checkpoint continues bit for bit.

Seeds are spread over the local devices (:func:`seed_devices`): on a CPU that exposes one
JAX device per core (``jax_num_cpu_devices``, set by the command line) the vmapped
networks train in parallel, one block of seeds per core.  Each network's numbers agree with
a one-device run to float32 rounding (not bit for bit: vmapped reductions round
differently with the number of seeds per device); the run records its device count and
``resume`` uses it again, so a resumed run stays bit-exact.
"""

from __future__ import annotations

import datetime
import functools
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from tightbalance import rundir
from tightbalance.analysis.balance import (
    balance_index,
    current_cancellation,
    mean_coupling,
    off_diagonal_mean,
)
from tightbalance.analysis.clusters import cluster_couplings
from tightbalance.analysis.spectrum import stability_eigenvalues
from tightbalance.config import TrainConfig, config_to_dict, load_document, save_config
from tightbalance.network import (
    NetworkParams,
    init_excitatory_inhibitory,
    init_random_balanced,
    nonlinearity,
    relax,
    simulate,
)
from tightbalance.signals import sample_signals, standard_normal
from tightbalance.task import tracking_loss, trajectory_loss

__all__ = [
    "TrainState",
    "Trainer",
    "TrainingDivergedError",
    "train",
    "resume",
    "seed_devices",
    "METRIC_COLUMNS",
]

log = logging.getLogger(__name__)

METRIC_COLUMNS = [
    "seed",
    "epoch",
    "test_loss",
    "test_mse",
    "train_loss",
    "balance",
    "mean_coupling",
    "j_same",
    "j_diff",
    "cluster_ari",
    "tuning_ari",
    "eig_min_real",
    "cancellation",
    "info_rate_bits",
    "wall_s",
]

# Fixed stream numbers for fold_in: one independent PRNG stream per purpose.
_STREAM_INIT, _STREAM_TRAIN, _STREAM_RELAX, _STREAM_TEST = 0, 1, 2, 3


class TrainingDivergedError(RuntimeError):
    """The loss or the parameters became NaN or infinite."""


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class TrainState:
    """Everything that evolves during training (one seed, or stacked over seeds).

    Attributes:
      params: network parameters.
      opt_state: optax optimiser state.
      h0: relaxed initial state ``[N, B]`` used by the epochs until the next evaluation.
    """

    params: NetworkParams
    opt_state: Any
    h0: jax.Array


def seed_devices(n_seeds: int, devices: list[jax.Device] | None = None) -> list[jax.Device]:
    """The devices over which ``n_seeds`` vmapped networks are split: the largest number of
    the given (default: local) devices that divides ``n_seeds``, so each holds as many seeds."""
    devices = list(jax.local_devices() if devices is None else devices)
    count = max(d for d in range(1, min(len(devices), n_seeds) + 1) if n_seeds % d == 0)
    return devices[:count]


class Trainer:
    """Compiled training and evaluation of ``len(seeds)`` networks for one config.

    The compiled programs depend only on the parts of the config that shape the
    computation, so trainers for configs that differ in ``epochs``, ``eval_every``
    or ``seed`` (and runs that are resumed) share them.  The seed axis of every array is
    split over ``devices`` (default :func:`seed_devices`); the programs follow the data.
    """

    def __init__(self, config: TrainConfig, seeds: list[int], devices: list[jax.Device] | None = None):
        if not seeds:
            raise ValueError("seeds must hold at least one seed")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct, got {seeds}")
        if any(int(s) < 0 for s in seeds):
            raise ValueError(f"seeds must be integers >= 0, got {seeds}")
        self.config = config
        self.seeds = [int(s) for s in seeds]
        self.devices = seed_devices(len(self.seeds), devices)
        mesh = Mesh(np.array(self.devices), ("seeds",))
        self._seed_sharding = NamedSharding(mesh, PartitionSpec("seeds"))
        self.base_keys = self._place(jnp.stack([jax.random.key(s) for s in self.seeds]))
        self._programs = _programs(config.replace(epochs=0, eval_every=1, seed=0))

    def _place(self, tree: Any) -> Any:
        """Split the leading (seed) axis of every array over the trainer's devices."""
        return jax.device_put(tree, self._seed_sharding)

    def init_state(self) -> tuple[TrainState, np.ndarray]:
        """Initial state and the mean off-diagonal J_init per seed.

        ``h0`` is zero here: :meth:`evaluate` at epoch 0 relaxes it before training.
        """
        params = self._programs.init(self.base_keys)
        c = self.config
        h0 = jnp.zeros((len(self.seeds), c.n_units, c.batch_size))
        opt_state = jax.vmap(self._programs.optimizer.init)(params)
        j_init_mean = np.array([off_diagonal_mean(J) for J in np.asarray(params.J)])
        return self._place(TrainState(params=params, opt_state=opt_state, h0=h0)), j_init_mean

    def run_epochs(self, state: TrainState, start: int, n_epochs: int) -> tuple[TrainState, jax.Array]:
        """Epochs ``start .. start + n_epochs - 1``; returns the new state and losses ``[K, n]``."""
        return self._programs.chunk(n_epochs)(self._place(state), self.base_keys, jnp.asarray(start))

    def evaluate(self, state: TrainState, epoch: int) -> tuple[TrainState, dict[str, np.ndarray]]:
        """Re-relax h0 (kept in the returned state) and compute the test loss per seed.

        The evaluation also holds ``h_end [K, N, B]``, the state at the end of the held-out trial.
        """
        state = self._place(state)
        h0, loss, mse, h_end = self._programs.evaluate(state.params, self.base_keys, jnp.asarray(epoch))
        return TrainState(params=state.params, opt_state=state.opt_state, h0=h0), {
            "test_loss": np.asarray(loss),
            "test_mse": np.asarray(mse),
            "h_end": np.asarray(h_end),
        }


@functools.lru_cache(maxsize=16)
def _programs(config: TrainConfig) -> _Programs:
    return _Programs(config)


class _Programs:
    """The pure single-seed functions of one config, vmapped over seeds and compiled."""

    def __init__(self, config: TrainConfig):
        self.config = c = config
        self.optimizer = optax.adam(c.learning_rate)
        off_diagonal = 1.0 - jnp.eye(c.n_units) if c.zero_diagonal else jnp.ones((c.n_units, c.n_units))
        self.gradient_mask = NetworkParams(
            J=off_diagonal,
            w_in=jnp.ones((c.n_units, c.n_inputs)),
            w_out=jnp.ones((c.n_inputs, c.n_units)),
            bias=jnp.full((c.n_units,), 1.0 if c.train_bias else 0.0),
        )
        self.loss = partial(
            tracking_loss,
            dt=c.dt,
            sigma=c.sigma,
            gbar=c.gbar,
            lambda_act=c.lambda_act,
            burn_in_steps=c.burn_in_steps,
            nonlinearity_name=c.nonlinearity,
        )
        self.init = jax.jit(jax.vmap(self._init_one))
        self.evaluate = jax.jit(jax.vmap(self._evaluate_one, in_axes=(0, 0, None)))
        self._chunks: dict[int, Any] = {}

    def chunk(self, n_epochs: int):
        """Compiled ``n_epochs`` training epochs of all seeds (one program per chunk length)."""
        if n_epochs not in self._chunks:

            def chunk(state, base_key, start):
                body = lambda st, epoch: self._epoch(st, epoch, base_key)  # noqa: E731
                return jax.lax.scan(body, state, start + jnp.arange(n_epochs))

            self._chunks[n_epochs] = jax.jit(jax.vmap(chunk, in_axes=(0, 0, None)))
        return self._chunks[n_epochs]

    def _init_one(self, base_key: jax.Array) -> NetworkParams:
        c = self.config
        key = jax.random.fold_in(base_key, _STREAM_INIT)
        common = dict(ws_mean=c.ws_mean, ws_std=c.ws_std, wr_mean=c.wr_mean, wr_std=c.wr_std)
        if c.init == "excitatory-inhibitory":
            return init_excitatory_inhibitory(
                key, c.n_units, c.n_inputs, g=c.g, zero_diagonal=c.zero_diagonal, **common
            )
        return init_random_balanced(
            key, c.n_units, c.n_inputs, g=c.g, gbar=c.gbar, zero_diagonal=c.zero_diagonal, **common
        )

    def _batch(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Signals ``[T, S, B]`` and standard normal noise ``[T, N, B]`` from one key."""
        c = self.config
        k_signal, k_noise = jax.random.split(key)
        signals = sample_signals(
            k_signal, c.n_steps, c.n_inputs, c.batch_size, c.dt, c.tau_s, c.signal_std, c.i_ext
        )
        # drawn batch-major, the order in which the time loop consumes it (faster on CPU)
        noise = standard_normal(k_noise, (c.n_steps, c.batch_size, c.n_units))
        return signals, jnp.swapaxes(noise, 1, 2)

    def _epoch(self, state: TrainState, epoch: jax.Array, base_key: jax.Array):
        key = jax.random.fold_in(jax.random.fold_in(base_key, _STREAM_TRAIN), epoch)
        signals, noise = self._batch(key)
        (loss, _), grads = jax.value_and_grad(self.loss, has_aux=True)(state.params, state.h0, signals, noise)
        grads = jax.tree.map(jnp.multiply, grads, self.gradient_mask)
        updates, opt_state = self.optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params=params, opt_state=opt_state, h0=state.h0), loss

    def _evaluate_one(self, params: NetworkParams, base_key: jax.Array, epoch: jax.Array):
        """Relax the initial state under the current J and compute the held-out loss.

        Returns ``(h0, loss, tracking_error, h_end)``; ``h_end`` is the state at the end of
        the held-out trial (noise on), where the original code took the spectrum.
        """
        c = self.config
        h0 = relax(
            params,
            jax.random.fold_in(jax.random.fold_in(base_key, _STREAM_RELAX), epoch),
            batch_size=c.batch_size,
            n_steps=c.relax_steps,
            dt=c.dt,
            sigma=c.relax_sigma,
            i_ext=c.i_ext,
            nonlinearity=c.nonlinearity,
        )
        signals, noise = self._batch(jax.random.fold_in(base_key, _STREAM_TEST))
        trajectory = simulate(params, h0, signals, noise, dt=c.dt, sigma=c.sigma, nonlinearity=c.nonlinearity)
        loss, mse = trajectory_loss(
            params,
            trajectory,
            signals,
            gbar=c.gbar,
            lambda_act=c.lambda_act,
            burn_in_steps=c.burn_in_steps,
            nonlinearity_name=c.nonlinearity,
        )
        return h0, loss, mse, trajectory[-1]


def network_diagnostics(
    params: NetworkParams,
    h_relaxed: np.ndarray,
    h_trial: np.ndarray,
    j_init_mean: float,
    config: TrainConfig,
) -> dict[str, float]:
    """SPEC §4 diagnostics of one network (unstacked parameters, NumPy).

    ``eig_min_real`` is the most negative real part of the spectrum of ``J diag(phi'(h))``
    at ``h_trial``, a state at the end of a noisy held-out trial (as the original code).
    ``cancellation`` compares the feed-forward input ``W_in I_ext / S`` with the recurrent
    input ``J phi(h)`` at the state ``h_relaxed`` relaxed under ``I_ext``:
    (|ff| + |rec|) / (2 |ff + rec|), RMS over units; about 1 without recurrence, large when
    the two cancel (tight balance).
    """
    J = np.asarray(params.J)
    clusters = cluster_couplings(J, np.asarray(params.w_in), config.n_inputs)
    eigenvalues = stability_eigenvalues(J, h_trial, config.nonlinearity)
    feedforward = np.asarray(params.w_in).sum(axis=1) * config.i_ext / config.n_inputs
    recurrent = J @ np.asarray(nonlinearity(config.nonlinearity)(h_relaxed))
    return {
        "balance": balance_index(J, j_init_mean),
        "mean_coupling": mean_coupling(J),
        "j_same": clusters.j_same,
        "j_diff": clusters.j_diff,
        "cluster_ari": clusters.ari,
        "tuning_ari": clusters.tuning_ari,
        "eig_min_real": float(eigenvalues.real.min()),
        "cancellation": current_cancellation(feedforward, recurrent)["ratio"],
    }


def _unstack(tree: Any, index: int) -> Any:
    return jax.tree.map(lambda x: x[index], tree)


def _metric_rows(
    trainer: Trainer,
    state: TrainState,
    evaluation: dict[str, np.ndarray],
    epoch: int,
    j_init_mean: np.ndarray,
    train_loss: np.ndarray | None,
    wall_s: float,
) -> list[dict[str, Any]]:
    config = trainer.config
    h0 = np.asarray(state.h0)
    info_rate = _info_rate_bits(trainer, state, epoch)
    rows = []
    for k, seed in enumerate(trainer.seeds):
        params = _unstack(state.params, k)
        row = {
            "seed": seed,
            "epoch": epoch,
            "test_loss": float(evaluation["test_loss"][k]),
            "test_mse": float(evaluation["test_mse"][k]),
            "train_loss": None if train_loss is None else float(train_loss[k]),
            "info_rate_bits": None if info_rate is None else float(info_rate[k]),
            "wall_s": round(wall_s, 3),
        }
        row.update(
            network_diagnostics(
                params, h0[k, :, 0], evaluation["h_end"][k, :, 0], float(j_init_mean[k]), config
            )
        )
        rows.append(row)
    return rows


def _info_rate_bits(trainer: Trainer, state: TrainState, epoch: int) -> np.ndarray | None:
    """Mean over channels of the input-to-readout information rate, per seed (if enabled)."""
    if trainer.config.info_rate_steps == 0:
        return None
    from tightbalance.analysis.information import checkpoint_info_rates

    keys = [jax.random.fold_in(jax.random.fold_in(k, _STREAM_TEST + 1), epoch) for k in trainer.base_keys]
    return checkpoint_info_rates(state.params, trainer.config, keys).mean(axis=1)


def _is_finite(tree: Any) -> bool:
    return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(tree))


def _next_stop(epoch: int, total: int, eval_every: int) -> int:
    """Evaluations fall on multiples of ``eval_every`` (and the last epoch)."""
    return min(total, (epoch // eval_every + 1) * eval_every)


def _evaluate_and_record(
    run_dir: Path,
    trainer: Trainer,
    state: TrainState,
    epoch: int,
    j_init_mean: np.ndarray,
    train_loss: np.ndarray | None,
    wall_s: float,
) -> tuple[TrainState, list[dict[str, Any]]]:
    """Evaluate at ``epoch``, append the metric rows, then write the checkpoint.

    Rows go first: a crash before the checkpoint leaves rows that ``resume`` drops and
    recomputes.  Off the evaluation grid (the last epoch of a run that stops there) the
    checkpoint keeps the initial state the following epochs would have used, so that a
    resumed run trains exactly as an uninterrupted one.
    """
    evaluated, evaluation = trainer.evaluate(state, epoch)
    if not (_is_finite(evaluated.h0) and np.all(np.isfinite(evaluation["test_loss"]))):
        checkpoints = rundir.list_checkpoints(run_dir)
        kept = (
            f"the last good state is kept in {checkpoints[-1]}"
            if checkpoints
            else "no checkpoint was written"
        )
        raise TrainingDivergedError(
            f"the network state diverged when relaxed at epoch {epoch} (initial state or held-out loss "
            f"not finite; is dt * (1 + balance) above the Euler stability bound 2?); {kept}"
        )
    rows = _metric_rows(trainer, evaluated, evaluation, epoch, j_init_mean, train_loss, wall_s)
    rundir.MetricsTable(run_dir / "metrics.csv", METRIC_COLUMNS).append(rows)
    on_grid = epoch % trainer.config.eval_every == 0
    rundir.save_checkpoint(
        run_dir,
        epoch=epoch,
        state=evaluated if on_grid else state,
        key_data=np.asarray(jax.random.key_data(trainer.base_keys)),
        seeds=np.asarray(trainer.seeds),
        j_init_mean=j_init_mean,
        wall_s=wall_s,
    )
    return evaluated, rows


def _run_loop(
    run_dir: Path,
    trainer: Trainer,
    state: TrainState,
    epoch: int,
    j_init_mean: np.ndarray,
    wall_before: float,
    progress: bool,
) -> TrainState:
    config = trainer.config
    started = time.perf_counter()
    bar = tqdm(
        total=config.epochs,
        initial=epoch,
        unit="epoch",
        disable=not progress,
        dynamic_ncols=True,
        smoothing=0.1,
    )
    try:
        while epoch < config.epochs:
            stop = _next_stop(epoch, config.epochs, config.eval_every)
            new_state, losses = trainer.run_epochs(state, epoch, stop - epoch)
            if not (_is_finite(losses) and _is_finite(new_state.params)):
                last = rundir.latest_checkpoint(run_dir)
                raise TrainingDivergedError(
                    f"training diverged (loss or parameters not finite) between epochs {epoch} and {stop}; "
                    f"the last good state is kept in {last}. Try a smaller learning_rate or dt."
                )
            epoch = stop
            wall_s = wall_before + time.perf_counter() - started
            train_loss = np.asarray(losses).mean(axis=1)
            state, rows = _evaluate_and_record(
                run_dir, trainer, new_state, epoch, j_init_mean, train_loss, wall_s
            )
            bar.update(stop - bar.n)
            bar.set_postfix(
                loss=f"{np.mean([r['test_loss'] for r in rows]):.4g}",
                balance=f"{np.mean([r['balance'] for r in rows]):.2f}",
            )
    finally:
        bar.close()
    return state


def _check_new_run_dir(run_dir: Path) -> None:
    if (run_dir / "metrics.csv").exists() or rundir.list_checkpoints(run_dir):
        raise ValueError(f"out directory {run_dir} already holds a run; use `tightbalance resume {run_dir}`")


def train(
    config: TrainConfig,
    run_dir: Path,
    seeds: list[int] | None = None,
    *,
    progress: bool = True,
    figures: bool = True,
) -> Path:
    """Train ``len(seeds)`` networks (default: ``config.seed``) and write the run directory."""
    run_dir = Path(run_dir)
    _check_new_run_dir(run_dir)
    seeds = list(seeds) if seeds else [config.seed]
    config = config.replace(seed=int(seeds[0]))
    trainer = Trainer(config, seeds)
    save_config(
        config,
        run_dir / "config.toml",
        extra={
            "run": {
                "seeds": seeds,
                "devices": len(trainer.devices),
                "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            },
            "versions": rundir.package_versions(),
        },
    )
    started = time.perf_counter()
    state, j_init_mean = trainer.init_state()
    state, _ = _evaluate_and_record(
        run_dir, trainer, state, 0, j_init_mean, None, time.perf_counter() - started
    )
    wall_s = time.perf_counter() - started
    _run_loop(run_dir, trainer, state, 0, j_init_mean, wall_s, progress)
    if figures:
        write_training_figures(run_dir)
    return run_dir


def load_run(run_dir: Path) -> tuple[TrainConfig, list[int]]:
    """The config and seeds recorded in a run directory."""
    from tightbalance.config import load_config

    run_dir = Path(run_dir)
    config = load_config(run_dir / "config.toml")
    seeds = [
        int(s) for s in load_document(run_dir / "config.toml").get("run", {}).get("seeds", [config.seed])
    ]
    return config, seeds


def resume(run_dir: Path, epochs: int | None = None, *, progress: bool = True, figures: bool = True) -> Path:
    """Continue a run from its latest checkpoint (bit for bit), optionally to a new epoch count."""
    run_dir = Path(run_dir)
    config, seeds = load_run(run_dir)
    document = load_document(run_dir / "config.toml")
    if epochs is not None and epochs != config.epochs:
        config = config.replace(epochs=epochs)
        save_config(
            config, run_dir / "config.toml", extra={k: v for k, v in document.items() if k != "train"}
        )
    checkpoint = rundir.load_checkpoint(rundir.latest_checkpoint(run_dir))
    trainer = Trainer(config, seeds, _recorded_devices(document.get("run", {}).get("devices")))
    if list(checkpoint.seeds) != seeds or not np.array_equal(
        checkpoint.key_data, np.asarray(jax.random.key_data(trainer.base_keys))
    ):
        raise ValueError(
            f"checkpoint seeds/PRNG keys {list(checkpoint.seeds)} differ from the run's seeds {seeds}: "
            "the checkpoint does not belong to this run"
        )
    template, _ = trainer.init_state()
    state = checkpoint.restore(template)
    rundir.MetricsTable(run_dir / "metrics.csv", METRIC_COLUMNS).truncate_after(checkpoint.epoch)
    if checkpoint.epoch >= config.epochs:
        log.info("run %s is already at epoch %d of %d", run_dir, checkpoint.epoch, config.epochs)
    _run_loop(run_dir, trainer, state, checkpoint.epoch, checkpoint.j_init_mean, checkpoint.wall_s, progress)
    if figures:
        write_training_figures(run_dir)
    return run_dir


def _recorded_devices(count: int | None) -> list[jax.Device] | None:
    """The first ``count`` local devices, so that a resumed run splits its seeds as before.

    The split matters in the last digits only (vmapped reductions over a different number
    of seeds per device round differently); with fewer devices than recorded, the default
    split is used and the run continues, though no longer bit for bit.
    """
    if count is None:
        return None
    local = jax.local_devices()
    if count > len(local):
        log.warning(
            "the run was trained on %d devices, %d are available: it continues, but its numbers "
            "can differ from an uninterrupted run in the last digits",
            count,
            len(local),
        )
        return None
    return local[:count]


def write_training_figures(run_dir: Path) -> list[Path]:
    """The eight-panel training figure of each seed, ``figures/training-seed-K.png``."""
    from tightbalance.plots.training import plot_training, training_figure_data

    run_dir = Path(run_dir)
    config, seeds = load_run(run_dir)
    checkpoints = rundir.list_checkpoints(run_dir)
    first, last = rundir.load_checkpoint(checkpoints[0]), rundir.load_checkpoint(checkpoints[-1])
    rows = rundir.read_metrics(run_dir)
    paths = []
    for k, seed in enumerate(seeds):
        data = training_figure_data(
            config,
            _unstack(first.params, k),
            _unstack(last.params, k),
            [r for r in rows if int(r["seed"]) == seed],
            key=jax.random.fold_in(jax.random.key(seed), _STREAM_TEST),
        )
        path = run_dir / "figures" / f"training-seed-{seed}.png"
        plot_training(data, path, title=_figure_title(config, seed, last.epoch))
        paths.append(path)
    return paths


def _figure_title(config: TrainConfig, seed: int, epoch: int) -> str:
    shown = (
        "n_units",
        "n_inputs",
        "batch_size",
        "n_steps",
        "dt",
        "tau_s",
        "g",
        "gbar",
        "sigma",
        "learning_rate",
    )
    values = config_to_dict(config)
    parts = [f"{k}={values[k]}" for k in shown]
    return f"seed {seed}, epoch {epoch}: " + ", ".join(parts) + f", signal std={config.signal_std:.3g}"
