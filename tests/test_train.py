"""Training: gradients, a short learning run, checkpoints, bit-exact resume, divergence."""

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tightbalance import rundir
from tightbalance.config import TrainConfig, load_document
from tightbalance.network import init_random_balanced
from tightbalance.task import tracking_loss
from tightbalance.train import Trainer, TrainingDivergedError, resume, train

TINY = TrainConfig(
    n_units=16,
    n_inputs=2,
    batch_size=4,
    n_steps=20,
    epochs=60,
    eval_every=20,
    relax_time=10.0,
    info_rate_steps=0,
)


def test_gradient_matches_finite_differences():
    """JAX reverse-mode gradient of the loss vs central differences, in float64."""
    with jax.enable_x64(True):
        params = init_random_balanced(jax.random.key(0), 5, 2, g=0.5, gbar=-1.0, ws_std=0.3, wr_std=0.3)
        params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), params)
        h0 = jax.random.normal(jax.random.key(1), (5, 3), dtype=jnp.float64)
        signals = 1 + 0.3 * jax.random.normal(jax.random.key(2), (8, 2, 3), dtype=jnp.float64)
        noise = jax.random.normal(jax.random.key(3), (8, 5, 3), dtype=jnp.float64)

        def loss(p):
            return tracking_loss(
                p,
                h0,
                signals,
                noise,
                dt=0.2,
                sigma=0.5,
                gbar=-1.0,
                lambda_act=0.01,
                burn_in_steps=2,
                nonlinearity_name="softplus",
            )[0]

        grads = jax.grad(loss)(params)
        eps = 1e-6
        for name in ("J", "w_in", "w_out", "bias"):
            value = getattr(params, name)
            for index in [(0,), (1,), (-1,)]:
                flat_index = index[0] % value.size
                bump = jnp.zeros(value.size).at[flat_index].set(eps).reshape(value.shape)
                plus = loss(params.__class__(**{**vars(params), name: value + bump}))
                minus = loss(params.__class__(**{**vars(params), name: value - bump}))
                numeric = (plus - minus) / (2 * eps)
                assert float(getattr(grads, name).ravel()[flat_index]) == pytest.approx(
                    float(numeric), rel=1e-5, abs=1e-9
                )


def test_diagonal_stays_zero_and_bias_untrained():
    trainer = Trainer(TINY, [0])
    state, _ = trainer.init_state()
    state, _ = trainer.run_epochs(state, 0, 30)
    J = np.asarray(state.params.J[0])
    assert np.all(np.diag(J) == 0)
    assert np.all(np.asarray(state.params.bias) == 0)


def _read_rows(path):
    with open(path, newline="") as handle:
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in csv.DictReader(handle)]


def test_resume_is_bit_exact_and_checkpoints_round_trip(tmp_path):
    train(TINY, tmp_path / "full", seeds=[3, 4], progress=False, figures=False)
    train(TINY.replace(epochs=40), tmp_path / "split", seeds=[3, 4], progress=False, figures=False)
    resume(tmp_path / "split", epochs=60, progress=False, figures=False)
    full, split = (
        _read_rows(tmp_path / "full" / "metrics.csv"),
        _read_rows(tmp_path / "split" / "metrics.csv"),
    )
    assert len(full) == 2 * 4  # two seeds x evaluations at epochs 0, 20, 40, 60
    assert full == split
    a = rundir.load_checkpoint(rundir.latest_checkpoint(tmp_path / "full"))
    b = rundir.load_checkpoint(rundir.latest_checkpoint(tmp_path / "split"))
    assert a.epoch == b.epoch == 60
    assert all(np.array_equal(x, y) for x, y in zip(a.leaves, b.leaves, strict=True))
    # round trip into the trainer's state structure
    template, _ = Trainer(TINY, [3, 4]).init_state()
    state = a.restore(template)
    assert np.array_equal(np.asarray(state.params.J), a.leaves[0])
    assert a.params.J.shape == (2, 16, 16)


def test_resume_off_the_evaluation_grid_trains_like_an_uninterrupted_run(tmp_path):
    train(TINY, tmp_path / "full", seeds=[3], progress=False, figures=False)
    train(TINY.replace(epochs=50), tmp_path / "split", seeds=[3], progress=False, figures=False)
    resume(tmp_path / "split", epochs=60, progress=False, figures=False)
    split = _read_rows(tmp_path / "split" / "metrics.csv")
    assert [r["epoch"] for r in split] == ["0", "20", "40", "50", "60"]  # the stop adds its own row
    full = _read_rows(tmp_path / "full" / "metrics.csv")
    # train_loss averages the epochs since the previous row (50..60 here, 40..60 there); all else is equal
    drop = lambda rows: [{k: v for k, v in r.items() if k != "train_loss"} for r in rows]  # noqa: E731
    assert drop([r for r in split if r["epoch"] != "50"]) == drop(full)
    assert split[:3] == full[:3]


def test_resume_after_a_crash_between_metrics_and_checkpoint(tmp_path):
    run = tmp_path / "run"
    train(TINY, run, seeds=[5], progress=False, figures=False)
    expected = _read_rows(run / "metrics.csv")
    # a crash after the epoch-60 rows were written but before its checkpoint: resume drops the
    # stray rows and recomputes them from the epoch-40 checkpoint
    (run / "checkpoints" / "epoch-000060.npz").unlink()
    resume(run, progress=False, figures=False)
    assert _read_rows(run / "metrics.csv") == expected


def test_corrupt_checkpoint_and_existing_run_are_reported(tmp_path):
    run = tmp_path / "run"
    train(TINY.replace(epochs=20), run, seeds=[1], progress=False, figures=False)
    path = rundir.latest_checkpoint(run)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="corrupt"):
        rundir.load_checkpoint(path)
    with pytest.raises(ValueError, match="already holds a run"):
        train(TINY, run, progress=False, figures=False)
    other = TrainConfig(n_units=8, n_inputs=2, batch_size=4, n_steps=20, epochs=0, relax_time=10.0)
    good = rundir.list_checkpoints(run)[0]
    template, _ = Trainer(other, [1]).init_state()
    with pytest.raises(ValueError, match="different config or is corrupt"):
        rundir.load_checkpoint(good).restore(template)


def test_divergence_stops_with_last_good_checkpoint(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match="epoch-000000.npz"):
        train(TINY.replace(learning_rate=1e4, gbar=-20.0), run, progress=False, figures=False)
    checkpoint = rundir.load_checkpoint(rundir.latest_checkpoint(run))
    assert checkpoint.epoch == 0 and all(np.all(np.isfinite(x)) for x in checkpoint.leaves)


@pytest.mark.slow
def test_short_training_lowers_loss_and_tightens_balance(tmp_path):
    """A few thousand epochs of the one-stimulus task: the loss falls, the balance grows (SPEC §3)."""
    config = TrainConfig(n_units=50, n_inputs=1, epochs=3000, eval_every=1000, info_rate_steps=4000)
    train(config, tmp_path / "run", progress=False, figures=True)
    rows = rundir.read_metrics(tmp_path / "run")
    assert rows[-1]["test_loss"] < 0.5 * rows[0]["test_loss"]
    assert rows[-1]["balance"] > 1.5
    assert rows[-1]["eig_min_real"] < rows[0]["eig_min_real"]
    # feed-forward and recurrent input cancel more tightly as the balance grows
    assert rows[-1]["cancellation"] > rows[0]["cancellation"]
    # the input-to-readout information rate is recorded at every evaluation and grows with training
    assert all(np.isfinite(r["info_rate_bits"]) for r in rows)
    assert rows[-1]["info_rate_bits"] > rows[0]["info_rate_bits"]
    assert (tmp_path / "run" / "figures" / "training-seed-1.png").stat().st_size > 10_000


@pytest.mark.parametrize("relax_noise", [False, True])
def test_relaxed_initial_state_with_and_without_noise(relax_noise):
    """Noise-free relaxation (the original's) reaches the stable fixed point from every random
    start; with ``relax_noise`` the batch holds independent samples of the noisy state."""
    config = TINY.replace(relax_noise=relax_noise, relax_time=40.0)
    trainer = Trainer(config, [3])
    state, _ = trainer.init_state()
    h0 = np.asarray(trainer.evaluate(state, 0)[0].h0[0])  # [N, B]
    spread = h0.std(axis=1).max()
    if relax_noise:
        # stationary std of a unit is about sigma sqrt(dt / (2 dt - dt^2)) ~ 0.75 here, far from 0
        assert spread > 0.2
    else:
        assert spread < 1e-4
        params = jax.tree.map(lambda x: np.asarray(x[0], dtype=float), state.params)
        drive = params.w_in.sum(axis=1) * config.i_ext / config.n_inputs
        fixed_point_residual = -h0[:, 0] + params.J @ np.maximum(h0[:, 0], 0) + drive
        assert np.abs(fixed_point_residual).max() < 1e-4


def test_seeds_split_over_devices_train_as_on_one_device(tmp_path):
    """Seeds spread over two CPU devices give the numbers of one device to float32 rounding
    (vmapped reductions over 2 or 4 seeds may round differently), and the run records the
    split so that resume reproduces it."""
    assert len(jax.devices()) >= 2, "tests/conftest.py asks for two CPU devices"
    seeds = [4, 5, 6, 7]
    split, single = Trainer(TINY, seeds), Trainer(TINY, seeds, devices=jax.devices()[:1])
    assert len(split.devices) == 2 and len(single.devices) == 1
    results = []
    for trainer in (split, single):
        state, _ = trainer.init_state()
        state, evaluation = trainer.evaluate(state, 0)
        state, losses = trainer.run_epochs(state, 0, 15)
        results.append((evaluation["test_loss"], np.asarray(losses), np.asarray(state.params.J)))
    assert len(split.run_epochs(state, 15, 1)[1].sharding.device_set) == 2
    for a, b in zip(*results, strict=True):
        assert np.allclose(a, b, rtol=1e-4, atol=1e-6)
    train(TINY.replace(epochs=5), tmp_path / "run", seeds=seeds, progress=False, figures=False)
    assert load_document(tmp_path / "run" / "config.toml")["run"]["devices"] == 2


def test_seed_devices_divide_the_seeds():
    from tightbalance.train import seed_devices

    devices = ["d0", "d1", "d2", "d3"]
    assert seed_devices(6, devices) == ["d0", "d1", "d2"]
    assert seed_devices(7, devices) == ["d0"]
    assert seed_devices(2, devices) == ["d0", "d1"]
    assert seed_devices(8, devices) == devices
