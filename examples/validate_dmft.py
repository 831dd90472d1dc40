"""Acceptance of the DMFT (SPEC §6) against simulation of finite networks.

Part ``stationary``: N = 2000 units, several realisations of J, b in {1, 4, 16},
g in {0, 0.5}, sigma = 0.5, I0 in {0.2, 1}.  Compared: the mean input mu0 and the
population rate nu0 (targets: within 0.005) and the variance c0 of h about the
population mean, across units and time (target: within 2%).  The theory is evaluated at
the simulation's dt (the time-resolved scheme run to its fixed point under the constant
input, the N -> inf limit of the Euler network, so no time-step bias); the
continuous-time value of ``stationary_dmft`` is printed beside it.

Part ``time``: N = 4000, an OU input path (b = 4, g = 0.5, sigma = 0.5, I0 = 1,
A = 0.3, tau_s = 1): RMS error of nu(t) relative to its temporal std (target <= 10%) and
the relative error of c(t, t) (target within 10%); plus the band-width convergence.

    python examples/validate_dmft.py [--part stationary|time|all] [--realisations R]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from tightbalance.theory.meanfield import (
    input_path,
    simulate_population,
    stationary_dmft,
    time_resolved_dmft,
)

DT = 0.05
SIGMA = 0.5


def stationary_part(n_units: int, realisations: int, duration: float) -> None:
    n_steps = int(round(duration / DT))
    print(f"# stationary: N={n_units}, {realisations} realisations, {duration:g} tau recorded, dt={DT}")
    header = (
        "b g I0 | mu0 sim theory(dt) err | nu0 sim theory(dt) err | c0 sim theory(dt) rel.err | c0 continuous"
    )
    print(header)
    worst = {"mu0": 0.0, "nu0": 0.0, "c0": 0.0}
    for b, g, i0 in itertools.product((1.0, 4.0, 16.0), (0.0, 0.5), (0.2, 1.0)):
        u = np.full(n_steps, b * i0)
        record = simulate_population(
            u, DT, b, g, SIGMA, n_units=n_units, n_realisations=realisations, seed=11
        )
        discrete = time_resolved_dmft(u[:10], DT, b, g, SIGMA, bandwidth=15.0, warmup=40.0)
        continuous = stationary_dmft(b, g, SIGMA, i0)
        sim = {"mu0": record.m.mean(), "nu0": record.nu.mean(), "c0": record.c_tt.mean()}
        theory = {"mu0": discrete.m[-1], "nu0": discrete.nu[-1], "c0": discrete.c_tt[-1]}
        errors = {
            "mu0": sim["mu0"] - theory["mu0"],
            "nu0": sim["nu0"] - theory["nu0"],
            "c0": sim["c0"] / theory["c0"] - 1.0,
        }
        for name, value in errors.items():
            worst[name] = max(worst[name], abs(value))
        print(
            f"{b:g} {g:g} {i0:g} | {sim['mu0']:.4f} {theory['mu0']:.4f} {errors['mu0']:+.4f}"
            f" | {sim['nu0']:.4f} {theory['nu0']:.4f} {errors['nu0']:+.4f}"
            f" | {sim['c0']:.4f} {theory['c0']:.4f} {100 * errors['c0']:+.2f}% | {continuous.c0:.4f}",
            flush=True,
        )
    print(
        f"worst: |mu0 err| {worst['mu0']:.4f} (target 0.005), |nu0 err| {worst['nu0']:.4f} (target 0.005),"
        f" |c0 rel err| {100 * worst['c0']:.2f}% (target 2%)"
    )


def time_part(n_units: int, realisations: int, duration: float) -> None:
    b, g, i0, amplitude = 4.0, 0.5, 1.0, 0.3
    n_steps = int(round(duration / DT))
    u = input_path("ou", n_steps, DT, b=b, i0=i0, amplitude=amplitude, tau_s=1.0, seed=7)
    print(f"# time-resolved: N={n_units}, {realisations} realisations, OU input, {duration:g} tau, dt={DT}")
    start = time.perf_counter()
    theory = time_resolved_dmft(u, DT, b, g, SIGMA, bandwidth=10.0)
    print(f"theory: {time.perf_counter() - start:.1f} s")
    for width in (2.5, 5.0):
        short = time_resolved_dmft(u, DT, b, g, SIGMA, bandwidth=width)
        difference = np.max(np.abs(short.c_tt / theory.c_tt - 1))
        print(f"band {width:g} tau vs 10 tau: max rel. diff of c(t,t) {difference:.2e}")
    record = simulate_population(u, DT, b, g, SIGMA, n_units=n_units, n_realisations=realisations, seed=13)
    nu_sim, c_sim = record.nu.mean(axis=0), record.c_tt.mean(axis=0)
    rms = np.sqrt(np.mean((nu_sim - theory.nu) ** 2))
    relative = c_sim / theory.c_tt - 1.0
    spread = np.std(theory.nu)
    print(f"std of nu(t) {spread:.4f}; RMS error {rms:.4f} = {100 * rms / spread:.2f}% (target 10%)")
    print(
        f"c(t,t): temporal std/mean {np.std(theory.c_tt) / np.mean(theory.c_tt):.3f}; rel. error mean"
        f" {100 * np.mean(relative):+.2f}%, RMS {100 * np.sqrt(np.mean(relative**2)):.2f}%,"
        f" max {100 * np.max(np.abs(relative)):.2f}% (target 10%)"
    )
    print(f"m(t): RMS error {np.sqrt(np.mean((record.m.mean(axis=0) - theory.m) ** 2)):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=("stationary", "time", "all"), default="all")
    parser.add_argument("--realisations", type=int, default=8)
    parser.add_argument("--duration", type=float, default=50.0, help="recorded time per simulation (tau)")
    args = parser.parse_args()
    if args.part in ("stationary", "all"):
        stationary_part(2000, args.realisations, args.duration)
    if args.part in ("time", "all"):
        time_part(4000, max(args.realisations // 2, 3), args.duration)


if __name__ == "__main__":
    main()
