"""Speed of a training epoch: JAX (one seed, and seeds vmapped) vs a PyTorch-eager baseline.

Usage::

    python benchmarks/bench_train.py [--preset two-stimuli] [--epochs 1000] [--repeats 5] [--seeds 8]

Reports medians over ``--repeats`` runs of a chunk of ``--epochs`` epochs (compile
time excluded), measured in the same process so the ratios are meaningful on a
shared machine:

* ``jax``: ms per epoch of the compiled epoch (sample -> loss -> grad -> Adam);
* ``jax vmap K``: ms per network-epoch with K seeds in one program, on one CPU device and
  split over one device per core (as ``tightbalance train --seeds ...`` runs them);
* ``drawing signals + noise``: the part of the epoch spent in the PRNG;
* ``autodiff of the scan``: the same epoch differentiated by JAX instead of the
  hand-written adjoint of ``network.leaky_recurrence``;
* ``evaluation``: one evaluation (relaxation, held-out loss, diagnostics);
* ``full run``: estimated wall time of the preset's 100 001 epochs with evaluations;
* ``torch eager``: the same epoch in plain PyTorch, if ``torch`` is installed
  (``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np

from tightbalance import network
from tightbalance.cli import use_every_cpu_core
from tightbalance.config import preset
from tightbalance.train import Trainer, _metric_rows, _programs


def median_seconds(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_jax(config, seeds, epochs, repeats, devices=None) -> float:
    trainer = Trainer(config, seeds, devices)
    state, _ = trainer.init_state()
    trainer.run_epochs(state, 0, epochs)  # compile
    return median_seconds(lambda: trainer.run_epochs(state, 0, epochs), repeats) / epochs


def bench_parts(config, epochs, repeats) -> dict[str, float]:
    """Drawing the epoch's signals and noise alone (per epoch), and one evaluation."""
    programs = _programs(config.replace(epochs=0, eval_every=1, seed=0))
    trainer = Trainer(config, [1])
    state, _ = trainer.init_state()
    key = jax.random.key(0)

    @jax.jit
    def noise_only(key):
        def body(total, epoch):
            signals, noise = programs._batch(jax.random.fold_in(key, epoch))
            return total + noise.sum() + signals.sum(), None

        return jax.lax.scan(body, 0.0, jnp.arange(epochs))[0]

    noise_only(key)
    parts = {"noise": median_seconds(lambda: noise_only(key), repeats) / epochs}

    # one evaluation: relaxation + held-out loss + diagnostics (k-means, eigenvalues)
    def evaluation():
        evaluated, evaluation = trainer.evaluate(state, 1)
        return _metric_rows(trainer, evaluated, evaluation, 1, np.array([-0.01]), None, 0.0)

    evaluation()  # compile
    parts["evaluation"] = median_seconds(evaluation, repeats)
    return parts


def bench_autodiff(config, epochs, repeats) -> float:
    """The training epoch with autodiff of the plain scan instead of the hand-written adjoint.

    The same Euler loop (``network._recurrence_forward``, node-major, the reference of the
    adjoint's tests) traced into fresh programs; per epoch, one seed.
    """
    with mock.patch.object(network, "leaky_recurrence", network._recurrence_forward):
        _programs.cache_clear()
        seconds = bench_jax(config, [1], epochs, repeats)
    _programs.cache_clear()
    return seconds


def bench_torch(config, epochs, repeats) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    c = config
    n, s, b, t = c.n_units, c.n_inputs, c.batch_size, c.n_steps
    J = (c.g * torch.randn(n, n) / n**0.5 + c.gbar / n).fill_diagonal_(0).requires_grad_()
    w_in = (c.ws_mean + c.ws_std * torch.randn(n, s)).requires_grad_()
    w_out = (c.wr_mean + c.wr_std * torch.randn(s, n)).requires_grad_()
    optimiser = torch.optim.Adam([J, w_in, w_out], lr=c.learning_rate)
    mask = 1 - torch.eye(n)
    a = float(np.exp(-c.dt / c.tau_s))
    lag = np.subtract.outer(np.arange(t), np.arange(t))
    weights = np.where(lag >= 0, a ** np.maximum(lag, 0), 0.0) * np.sqrt(1 - a * a)
    weights[:, 0] = a ** np.arange(t)
    ou_matrix = torch.tensor(c.signal_std * weights, dtype=torch.float32)
    h0 = torch.randn(n, b)
    noise_scale = c.sigma * c.dt**0.5

    def epoch():
        signals = c.i_ext + torch.tensordot(ou_matrix, torch.randn(t, s, b), dims=1)
        noise = torch.randn(t, n, b)
        h, loss = h0, 0.0
        for k in range(t):
            h = h + c.dt * (J @ torch.relu(h) + w_in @ signals[k] / s - h) + noise_scale * noise[k]
            if k >= c.burn_in_steps:
                y = w_out @ torch.relu(h) / n
                loss = loss + ((y + signals[k] / c.gbar) ** 2).sum() + c.lambda_act * (h**2).sum()
        loss = loss / (b * t * s)
        optimiser.zero_grad()
        loss.backward()
        J.grad *= mask
        optimiser.step()

    def chunk():
        for _ in range(epochs):
            epoch()

    chunk()
    return median_seconds(chunk, repeats) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="two-stimuli")
    parser.add_argument("--epochs", type=int, default=1000, help="epochs per timed chunk")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=8, help="seeds vmapped together")
    args = parser.parse_args()
    use_every_cpu_core()
    config = preset(args.preset)
    print(
        f"preset {args.preset}: N={config.n_units}, S={config.n_inputs}, "
        f"B={config.batch_size}, T={config.n_steps}"
    )
    print(
        f"jax {jax.__version__} on {len(jax.devices())} {jax.devices()[0].platform} devices; "
        f"medians of {args.repeats} x {args.epochs} epochs"
    )
    one = bench_jax(config, [1], args.epochs, args.repeats)
    seeds = list(range(1, args.seeds + 1))
    many = bench_jax(config, seeds, args.epochs, args.repeats, devices=jax.devices()[:1])
    spread_over = len(Trainer(config, seeds).devices)
    spread = bench_jax(config, seeds, args.epochs, args.repeats)
    parts = bench_parts(config, args.epochs, args.repeats)
    autodiff = bench_autodiff(config, args.epochs, args.repeats)
    torch_epoch = bench_torch(config, max(args.epochs // 10, 20), args.repeats)
    full = config.epochs * one + (config.epochs // config.eval_every + 1) * parts["evaluation"]
    rows = [
        ("jax, 1 seed", f"{1e3 * one:.3f} ms/epoch"),
        (f"jax, {args.seeds} seeds vmapped, 1 device", f"{1e3 * many / args.seeds:.3f} ms/network-epoch"),
        (
            f"jax, {args.seeds} seeds vmapped, {spread_over} CPU devices",
            f"{1e3 * spread / args.seeds:.3f} ms/network-epoch",
        ),
        ("  of which drawing signals + noise", f"{1e3 * parts['noise']:.3f} ms/epoch"),
        (
            "  same epoch, autodiff of the scan",
            f"{1e3 * autodiff:.3f} ms/epoch  (adjoint x{autodiff / one:.1f})",
        ),
        ("  one evaluation", f"{1e3 * parts['evaluation']:.1f} ms"),
        (f"full run, {config.epochs} epochs + evaluations", f"{full:.0f} s (estimate)"),
    ]
    if torch_epoch is not None:
        rows.append(
            (
                "torch eager, 1 seed",
                f"{1e3 * torch_epoch:.3f} ms/epoch  (jax speed-up x{torch_epoch / one:.1f})",
            )
        )
    else:
        rows.append(("torch eager", "not installed (pip install -e .[bench])"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
