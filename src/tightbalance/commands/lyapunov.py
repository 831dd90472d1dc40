"""``tightbalance lyapunov``: largest Lyapunov exponent vs g from simulation and DMFT (SPEC §6).

Writes ``lyapunov.csv`` (b, g, lambda_sim_mean, lambda_sim_sem, lambda_dmft, g_threshold) and
``lyapunov.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
from pathlib import Path

import jax
import numpy as np

from tightbalance.network import NONLINEARITIES
from tightbalance.plots.lyapunov import plot_lyapunov
from tightbalance.rundir import atomic_write_bytes, write_command_record
from tightbalance.theory.gaussian import SUPPORTED_NONLINEARITIES
from tightbalance.theory.lyapunov import LyapunovPoint, dmft_lyapunov_curve, lyapunov_sweep

logger = logging.getLogger(__name__)

COLUMNS = ("b", "g", "lambda_sim_mean", "lambda_sim_sem", "lambda_dmft", "g_threshold")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lyapunov",
        help="largest Lyapunov exponent vs g: simulation and mean-field theory",
        description="Largest Lyapunov exponent of random balanced rate networks "
        "(J = -b/N + g Z/sqrt(N), input u = b I0) from tangent-space simulation and from the DMFT, "
        "with the DMFT chaos threshold (SPEC §6).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--g", type=float, nargs="+", default=[1.0, 1.2, 1.4, 1.6, 1.8, 2.0], help="g values")
    parser.add_argument("--b", type=float, nargs="+", default=[1.0, 4.0], help="balance values b")
    parser.add_argument("--I0", dest="i0", type=float, default=1.0, help="input level I0 (u = b I0)")
    parser.add_argument("--sigma", type=float, default=0.0, help="private noise amplitude")
    parser.add_argument(
        "--nonlinearity",
        choices=sorted(NONLINEARITIES),
        default="relu",
        help=f"rate function phi; the theory supports {', '.join(SUPPORTED_NONLINEARITIES)} "
        "(others need --no-theory)",
    )
    parser.add_argument("--n-units", type=int, default=1000, help="network size N")
    parser.add_argument("--realisations", type=int, default=4, help="networks per (b, g)")
    parser.add_argument("--duration", type=float, default=400.0, help="averaging time (tau)")
    parser.add_argument("--transient", type=float, default=200.0, help="discarded time (tau)")
    parser.add_argument("--dt", type=float, default=0.1, help="Euler step (tau), in (0, 1)")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed")
    parser.add_argument("--no-theory", action="store_true", help="skip the DMFT columns")
    parser.add_argument(
        "--theory-points", type=int, default=0, help="DMFT values on this many g for a denser line (0: none)"
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.set_defaults(func=run)


def write_table(points: list[LyapunovPoint], path: Path) -> None:
    """``lyapunov.csv``: one row per (b, g)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for point in points:
        writer.writerow(
            [
                point.b,
                point.g,
                f"{point.lambda_sim_mean:.6g}",
                f"{point.lambda_sim_sem:.6g}",
                f"{point.lambda_dmft:.6g}",
                f"{point.g_threshold:.6g}",
            ]
        )
    atomic_write_bytes(path, buffer.getvalue().encode())


def _validate(args: argparse.Namespace) -> None:
    """Reject options that would run but give meaningless numbers (ValueError naming the option)."""
    for option, values in (("--g", args.g), ("--b", args.b), ("--I0", [args.i0]), ("--sigma", [args.sigma])):
        for value in values:
            if not math.isfinite(value):
                raise ValueError(f"{option} must be finite, got {value!r}")
    for option, values in (("--g", args.g), ("--b", args.b), ("--sigma", [args.sigma])):
        if min(values) < 0:
            raise ValueError(f"{option} must be >= 0, got {min(values)!r}")
    # Euler map of the leak: h <- (1 - dt) h; dt >= 1 overshoots (and dt >= 2 diverges) even without coupling.
    if not (math.isfinite(args.dt) and 0.0 < args.dt < 1.0):
        raise ValueError(
            f"--dt must lie in (0, 1) (units of tau; Euler stability of the leak), got {args.dt!r}"
        )
    for option, value in (("--duration", args.duration), ("--transient", args.transient)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{option} must be a finite number >= 0, got {value!r}")
    if not args.duration > 0:
        raise ValueError(f"--duration must be > 0, got {args.duration!r}")
    if not args.no_theory and args.nonlinearity not in SUPPORTED_NONLINEARITIES:
        raise ValueError(
            f"--nonlinearity {args.nonlinearity!r} has no mean-field theory (supported: "
            f"{', '.join(SUPPORTED_NONLINEARITIES)}); add --no-theory to simulate it alone"
        )


def run(args: argparse.Namespace) -> int:
    _validate(args)
    points = lyapunov_sweep(
        jax.random.PRNGKey(args.seed),
        args.b,
        args.g,
        i0=args.i0,
        n_units=args.n_units,
        n_realisations=args.realisations,
        duration=args.duration,
        transient=args.transient,
        dt=args.dt,
        sigma=args.sigma,
        nonlinearity=args.nonlinearity,
        with_theory=not args.no_theory,
    )
    table = args.out / "lyapunov.csv"
    write_table(points, table)
    print(f"wrote {write_command_record(args.out, 'lyapunov', vars(args))}")
    dmft_curves = None
    if args.theory_points > 0 and not args.no_theory:
        g_dense = np.linspace(min(args.g), max(args.g), args.theory_points)
        dmft_curves = {
            b: (g_dense, dmft_lyapunov_curve(b, g_dense, args.i0, args.sigma, args.nonlinearity))
            for b in args.b
        }
    figure = plot_lyapunov(
        points,
        args.out / "lyapunov.png",
        dmft_curves=dmft_curves,
        title=f"N = {args.n_units}, I0 = {args.i0:g}, sigma = {args.sigma:g}, {args.nonlinearity}",
    )
    logger.info("wrote %s and %s", table, figure)
    return 0
