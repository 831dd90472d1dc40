"""Acceptance sweeps of the information rate against balance (SPEC §5; notes: docs/notes/issue-3.md).

Usage::

    python examples/info_rate_sweep.py [--out DIR] [SECTION ...]

Sections (all by default):

* ``linear-population``: linear network, N = 1000, signal std 0.05 — the population rate
  is resolved on the grid (pi/dt >> sqrt(N K)/tau_s); checks the population estimate
  against the grid theory (2%), single-unit estimates against their CI, R^2 of lines
  over b in [4, 32].
* ``linear-unit``: the same with signal std 0.5 — single-unit rates large enough to be
  measured precisely (the population rate is then not resolved by the grid).
* ``relu-noise``: relu, additive noise, g = 0 (N = 1000) and g = 0.5 (N = 500).
* ``chaos``: relu, g = 1.6 > sqrt(2), tiny noise sigma = 0.1, N = 500; sigma = 0 at two
  time steps, to see whether the single-unit rate stays finite as dt -> 0; and g = 1.5,
  N = 1000, sigma = 0.1.

Each section writes ``DIR/<section>[-variant]/info_rate.csv``, fits and a figure, and prints
the acceptance numbers.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from tightbalance.experiments.info_rate import InfoRateConfig, run_info_rate_experiment, write_results
from tightbalance.plots.information import plot_rate_vs_balance
from tightbalance.theory import linear

BALANCES = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
T_QUANTILE = 2.093  # t(19), 95%: the CI half width is this many SE


def _run(name: str, out: Path, config: InfoRateConfig) -> dict:
    start = time.perf_counter()
    result = run_info_rate_experiment(config)
    elapsed = time.perf_counter() - start
    folder = out / name
    write_results(result, folder)
    plot_rate_vs_balance(
        result.rows, result.fits, folder / "info_rate.png", title=f"{name}: {config.describe()}"
    )
    print(f"\n== {name} ({elapsed:.0f} s) ==")
    print(f"{'b':>5} {'readout':<10} {'theory':>10} {'estimate':>10} {'SE':>8} {'z':>6} {'rel.dev':>8}")
    for row in result.rows:
        se = row["standard_error"]
        deviation = row["estimate_bits_per_tau"] - row["theory_bits_per_tau"]
        relative = deviation / row["theory_bits_per_tau"] if row["theory_bits_per_tau"] > 1e-9 else math.nan
        print(
            f"{row['balance']:5g} {row['readout']:<10} {row['theory_bits_per_tau']:10.4g} "
            f"{row['estimate_bits_per_tau']:10.4g} {se:8.2g} {deviation / se:6.2f} {relative:8.2%}"
        )
    for fit in result.fits:
        print(
            f"fit b>=4 {fit['readout']:<10} {fit['source']:<18} slope {fit['slope']:.4g} bits/tau per b, "
            f"R^2 {fit['r_squared']:.4f}"
        )
    return {"result": result, "elapsed": elapsed}


def linear_population(out: Path) -> None:
    config = InfoRateConfig(balances=BALANCES, signal_std=0.05, n_units=1000, duration=4000.0, dt=0.01)
    k_max = linear.snr_constant(
        max(BALANCES), sigma=config.sigma, signal_std=config.signal_std, tau_s=config.tau_s
    )
    corner = math.sqrt(config.n_units * k_max) / config.tau_s
    print(f"resolution: pi/dt = {math.pi / config.dt:.0f} vs sqrt(N K)/tau_s = {corner:.0f} at b = 32")
    _run("linear-population", out, config)


def linear_unit(out: Path) -> None:
    config = InfoRateConfig(balances=BALANCES, signal_std=0.5, n_units=1000, duration=1000.0, dt=0.01)
    _run("linear-unit", out, config)


def relu_noise(out: Path) -> None:
    _run(
        "relu-noise-g0",
        out,
        InfoRateConfig(
            balances=BALANCES, nonlinearity="relu", signal_std=0.05, n_units=1000, duration=1000.0
        ),
    )
    _run(
        "relu-noise-g0.5",
        out,
        InfoRateConfig(
            balances=BALANCES, nonlinearity="relu", g=0.5, signal_std=0.05, n_units=500, duration=400.0
        ),
    )


def chaos(out: Path) -> None:
    # b = 0 has no inhibition: above g = sqrt(2) the relu activity diverges there.
    common = dict(
        balances=BALANCES[1:], nonlinearity="relu", g=1.6, signal_std=0.05, n_units=500, burn_in=50.0
    )
    _run("chaos-sigma0.1", out, InfoRateConfig(sigma=0.1, duration=400.0, dt=0.01, **common))
    for dt in (0.02, 0.01):
        _run(f"chaos-sigma0-dt{dt}", out, InfoRateConfig(sigma=0.0, duration=400.0, dt=dt, **common))
    # Weaker chaos, larger network: closer to the N -> inf mean-field limit.
    weaker = {**common, "g": 1.5, "n_units": 1000}
    _run("chaos-g1.5-N1000-sigma0.1", out, InfoRateConfig(sigma=0.1, duration=300.0, dt=0.01, **weaker))


SECTIONS = {
    "linear-population": linear_population,
    "linear-unit": linear_unit,
    "relu-noise": relu_noise,
    "chaos": chaos,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sections", nargs="*", help=f"any of {list(SECTIONS)} (default: all)")
    parser.add_argument("--out", type=Path, default=Path("info_rate_sweep"))
    args = parser.parse_args()
    np.set_printoptions(precision=4)
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {list(SECTIONS)}")
    for name in args.sections or SECTIONS:
        SECTIONS[name](args.out)


if __name__ == "__main__":
    main()
