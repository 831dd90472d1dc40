"""``tightbalance dmft``: time-resolved mean-field theory under an input path (SPEC §6).

Solves the DMFT for the common input ``u(t) = b (I0 + A x(t))`` (x: an OU realisation of
unit variance and correlation time tau_s, a sine of period 2 pi tau_s, or a step at a
quarter of the duration) and, with ``--simulate N``, simulates ``--realisations`` networks
of N units driven by the same path at the same dt.  Writes ``dmft.csv`` (t, u, m, nu,
c_tt, plus nu_sim, c_tt_sim when simulating) and the figures ``dmft_rate.png``,
``dmft_variance.png`` and ``dmft_autocorrelation.png`` (stationary c(tau) at I0).
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
from pathlib import Path

import numpy as np

from tightbalance.plots import dmft as plots
from tightbalance.rundir import atomic_write_bytes, write_command_record
from tightbalance.theory import meanfield

logger = logging.getLogger(__name__)

_AUTOCORRELATION_LAGS = 10.0  # lags (tau) shown in the stationary autocorrelation figure
_RECORDED_UNITS = 1000  # at most; all units of smaller networks


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown in the option help, description kept as written."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "dmft",
        help="time-resolved dynamic mean-field theory under an input path, against simulation",
        description=__doc__.replace("``", ""),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--input", choices=meanfield.INPUT_KINDS, default="ou", help="input path x(t)")
    parser.add_argument("--b", type=float, default=4.0, help="balance: mean coupling -b/N, input b(I0 + A x)")
    parser.add_argument("--g", type=float, default=0.5, help="random coupling strength")
    parser.add_argument("--sigma", type=float, default=0.5, help="private white-noise amplitude")
    parser.add_argument("--I0", dest="i0", type=float, default=1.0, help="constant input level I0")
    parser.add_argument("--amplitude", type=float, default=0.3, help="input amplitude A")
    parser.add_argument(
        "--tau-s", type=float, default=1.0, help="OU correlation time / sine period over 2 pi"
    )
    parser.add_argument("--duration", type=float, default=50.0, help="duration (units of tau)")
    parser.add_argument("--dt", type=float, default=0.05, help="time step (units of tau), in (0, 1)")
    parser.add_argument("--bandwidth", type=float, default=10.0, help="largest lag kept in c(t, t') (tau)")
    parser.add_argument(
        "--nonlinearity", choices=("relu", "tanh", "identity"), default="relu", help="rate function phi"
    )
    parser.add_argument("--simulate", type=int, default=0, metavar="N", help="simulate networks of N units")
    parser.add_argument("--realisations", type=int, default=3, help="realisations of J to average over")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input path and the simulations")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.set_defaults(func=run)


def _write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write columns atomically (:func:`tightbalance.rundir.atomic_write_bytes`)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in zip(*columns.values(), strict=True):
        writer.writerow([f"{value:.10g}" for value in row])
    atomic_write_bytes(path, buffer.getvalue().encode())


def _validate(args) -> int:
    """Check the options the library cannot name; returns the number of steps."""
    if not (math.isfinite(args.dt) and 0.0 < args.dt < 1.0):
        raise ValueError(f"--dt must be a finite number in (0, 1) (units of tau), got {args.dt!r}")
    if not (math.isfinite(args.duration) and args.duration >= args.dt):
        raise ValueError(
            f"--duration must be a finite number >= --dt = {args.dt:g} (at least one step), "
            f"got {args.duration!r}"
        )
    if args.simulate < 0 or args.realisations < 1:
        raise ValueError(
            f"--simulate must be >= 0 and --realisations >= 1, got {args.simulate}, {args.realisations}"
        )
    return int(round(args.duration / args.dt))


def run(args) -> int:
    n_steps = _validate(args)
    model = {"b": args.b, "g": args.g, "sigma": args.sigma, "nonlinearity": args.nonlinearity}
    u = meanfield.input_path(
        args.input,
        n_steps,
        args.dt,
        b=args.b,
        i0=args.i0,
        amplitude=args.amplitude,
        tau_s=args.tau_s,
        seed=args.seed,
    )
    logger.info("solving the time-resolved DMFT: %d steps, band of %.1f tau", n_steps, args.bandwidth)
    theory = meanfield.time_resolved_dmft(u, args.dt, bandwidth=args.bandwidth, **model)
    stationary = meanfield.stationary_dmft(args.b, args.g, args.sigma, args.i0, args.nonlinearity)
    rows = slice(0, n_steps)  # the state at t_k and the input acting on [t_k, t_k + dt)
    columns = {
        "t": theory.t[rows],
        "u": u,
        "m": theory.m[rows],
        "nu": theory.nu[rows],
        "c_tt": theory.c_tt[rows],
    }
    nu_sim = c_tt_sim = lag_sim = c_sim = None
    if args.simulate:
        simulation = {"n_units": args.simulate, "n_realisations": args.realisations, **model}
        logger.info("simulating %d networks of %d units", args.realisations, args.simulate)
        driven = meanfield.simulate_population(u, args.dt, seed=args.seed + 1, **simulation)
        nu_sim, c_tt_sim = driven.nu.mean(axis=0), driven.c_tt.mean(axis=0)
        columns |= {"nu_sim": nu_sim[rows], "c_tt_sim": c_tt_sim[rows]}
        still = meanfield.simulate_population(
            np.full(n_steps, args.b * args.i0),
            args.dt,
            seed=args.seed + 2,
            record_units=min(_RECORDED_UNITS, args.simulate),
            **simulation,
        )
        max_lag = min(int(round(_AUTOCORRELATION_LAGS / args.dt)), n_steps - 1)
        c_sim = meanfield.population_autocorrelation(still, max_lag)
        lag_sim = args.dt * np.arange(max_lag + 1)
    table = args.out / "dmft.csv"
    _write_csv(table, columns)
    label = f"simulation, N = {args.simulate}, {args.realisations} realisations"
    written = [table]
    written.append(write_command_record(args.out, "dmft", vars(args)))
    written.append(
        plots.plot_rate(
            args.out / "dmft_rate.png", theory.t, np.append(u, u[-1]), theory.nu, nu_sim, label_sim=label
        )
    )
    written.append(
        plots.plot_variance(args.out / "dmft_variance.png", theory.t, theory.c_tt, c_tt_sim, label_sim=label)
    )
    shown = stationary.tau <= _AUTOCORRELATION_LAGS
    written.append(
        plots.plot_stationary_autocorrelation(
            args.out / "dmft_autocorrelation.png",
            stationary.tau[shown],
            stationary.c[shown],
            stationary.c_static,
            lag_sim,
            c_sim,
            label_sim=label,
        )
    )
    if args.simulate:
        error = np.sqrt(np.mean((nu_sim - theory.nu) ** 2)) / np.std(theory.nu)
        logger.info("RMS error of nu(t): %.3f of its temporal std", error)
    for path in written:
        print(f"wrote {path}")
    return 0
