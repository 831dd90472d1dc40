"""``tightbalance info-rate``: information rate against balance, or over a training run (SPEC §5).

Two modes:

* ``--balance B1 B2 ... --out DIR``: simulate the network at each balance (convention of
  SPEC §6), estimate the rate between the input and one unit / the population mean,
  compare with theory; writes ``info_rate.csv``, ``info_rate_fits.csv`` and
  ``info_rate.png``.
* ``--run RUN_DIR [--out DIR]``: the readout rate per input channel of every checkpoint
  of a training run; writes ``info_rate_training.csv`` and ``info_rate_training.png``
  (default ``RUN_DIR/figures``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tightbalance.experiments import info_rate as experiment

logger = logging.getLogger(__name__)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show every option's default and keep the description's line breaks."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "info-rate",
        help="information rate between input and activity against balance, or over training",
        description=__doc__.replace("``", ""),  # plain text in --help, RST in the docs
        formatter_class=_HelpFormatter,
    )
    defaults = experiment.InfoRateConfig()
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--balance", type=float, nargs="+", help="balances b to simulate (mean coupling -b/N)")
    mode.add_argument(
        "--run", type=Path, help="a training run directory: rate per channel at each checkpoint"
    )
    parser.add_argument(
        "--out", type=Path, help="output directory (required with --balance; with --run: RUN_DIR/figures)"
    )
    parser.add_argument(
        "--nonlinearity",
        choices=experiment.NONLINEARITIES,
        default=defaults.nonlinearity,
        help="phi of the simulated network (linear: closed-form theory; relu: mean-field theory)",
    )
    parser.add_argument(
        "--sigma", type=float, default=defaults.sigma, help="private noise amplitude (> 0 for linear)"
    )
    parser.add_argument("--g", type=float, default=defaults.g, help="random coupling strength (relu only)")
    parser.add_argument("--tau-s", type=float, default=defaults.tau_s, help="input correlation time (tau)")
    parser.add_argument("--signal-std", type=float, default=defaults.signal_std, help="std of the input eta")
    parser.add_argument("--I0", dest="i0", type=float, default=defaults.i0, help="constant input level I0")
    parser.add_argument("--n-units", type=int, default=defaults.n_units, help="number of units N")
    parser.add_argument("--duration", type=float, default=defaults.duration, help="recorded time (tau)")
    parser.add_argument("--dt", type=float, default=defaults.dt, help="Euler step (tau)")
    parser.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help="PRNG seed (input, noise and couplings; with --run: the input and noise)",
    )
    parser.add_argument(
        "--n-recorded-units",
        type=int,
        default=defaults.n_recorded_units,
        help="units whose single-unit rates are averaged for the 'unit' readout",
    )
    parser.add_argument("--burn-in", type=float, default=defaults.burn_in, help="discarded time (tau)")
    parser.add_argument(
        "--slope",
        choices=experiment.SLOPES,
        default=defaults.slope,
        help="nu' of the relu mean-field response (see tightbalance.theory.response)",
    )
    parser.add_argument(
        "--info-steps", type=int, default=20_000, help="with --run: simulated steps per checkpoint and seed"
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.run is not None:
        return _run_training(args)
    if args.out is None:
        raise ValueError("--out is required with --balance")
    config = experiment.InfoRateConfig(
        balances=tuple(args.balance),
        nonlinearity=args.nonlinearity,
        sigma=args.sigma,
        g=args.g,
        tau_s=args.tau_s,
        signal_std=args.signal_std,
        i0=args.i0,
        n_units=args.n_units,
        duration=args.duration,
        dt=args.dt,
        seed=args.seed,
        n_recorded_units=args.n_recorded_units,
        burn_in=args.burn_in,
        slope=args.slope,
    )
    result = experiment.run_info_rate_experiment(config)
    paths = experiment.write_results(result, args.out)
    from tightbalance.plots.information import plot_rate_vs_balance

    title = config.describe()
    figure = plot_rate_vs_balance(result.rows, result.fits, Path(args.out) / "info_rate.png", title=title)
    for row in result.rows:
        print(
            f"b={row['balance']:<6g} {row['readout']:<10s} theory {row['theory_bits_per_tau']:.4g}  "
            f"estimate {row['estimate_bits_per_tau']:.4g} "
            f"[{row['ci_low']:.4g}, {row['ci_high']:.4g}] bits/tau"
        )
    for fit in result.fits:
        print(
            f"fit b >= {config.fit_min_balance:g}: {fit['readout']:<10s} {fit['source']:<18s} "
            f"slope {fit['slope']:.4g} bits/tau per b, R^2 {fit['r_squared']:.4f}"
        )
    for path in (*paths.values(), figure):
        print(f"wrote {path}")
    return 0


def _run_training(args) -> int:
    from tightbalance.experiments.info_rate import training_info_rates, write_training_rates
    from tightbalance.plots.information import plot_rate_over_training

    table = training_info_rates(args.run, n_steps=args.info_steps, seed=args.seed)
    out = args.out if args.out is not None else Path(args.run) / "figures"
    csv_path = write_training_rates(table, out)
    figure = plot_rate_over_training(
        table["epochs"],
        table["rate_mean"],
        table["balance_mean"],
        Path(out) / "info_rate_training.png",
        rate_std=table["rate_std"],
        title=f"readout information rate over training: {args.run}",
    )
    for path in (csv_path, figure):
        print(f"wrote {path}")
    return 0
