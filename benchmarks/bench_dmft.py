"""Speed of the time-resolved DMFT (SPEC §6): 2^12 steps with a band of 2^9 lags.

Target: under 60 s on 2 cores.  Reports the median wall time of a few runs of
``time_resolved_dmft`` (relu, b = 4, g = 0.5, sigma = 0.5, OU input, dt = 0.02), with the
default stationary warm-up (20 tau = 1000 extra steps) and without it; the first run
includes the jit compilation, which the cache serves afterwards.

    python benchmarks/bench_dmft.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from tightbalance.theory.meanfield import input_path, time_resolved_dmft

N_STEPS = 2**12
N_LAGS = 2**9
DT = 0.02


def _time(u, warmup: float) -> float:
    start = time.perf_counter()
    time_resolved_dmft(u, DT, 4.0, 0.5, 0.5, bandwidth=N_LAGS * DT, warmup=warmup)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    u = input_path("ou", N_STEPS, DT, b=4.0, i0=1.0, amplitude=0.3, tau_s=1.0, seed=0)
    for warmup in (20.0, 0.0):
        first = _time(u, warmup)
        runs = [_time(u, warmup) for _ in range(args.repeats)]
        listed = ", ".join(f"{r:.1f}" for r in runs)
        print(
            f"steps={N_STEPS} lags={N_LAGS} warmup={warmup:g} tau: first run (compiling) {first:.1f} s,"
            f" median of {args.repeats} {statistics.median(runs):.1f} s (runs: {listed})"
        )


if __name__ == "__main__":
    main()
