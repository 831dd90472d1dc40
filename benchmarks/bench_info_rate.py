"""Speed of the information-rate pipeline (notes: docs/notes/issue-3.md).

1. The 7-balance sweep of ``tightbalance info-rate`` at N = 1000 (linear network, 1000 tau at
   dt = 0.01, i.e. 10^5 steps, 20 recorded units, both readouts estimated, grid and
   continuous theory): target under a minute on 2 cores.
2. ``readout_info_rate`` for a trained-size network (N = 100, S = 1 and 2, dt = 0.2,
   20 000 steps), as called at every evaluation during training: target about 0.2 s.

Usage::

    python benchmarks/bench_info_rate.py [--repeats 3]

Prints the wall time of each run (the first includes JAX compilation) and the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax

from tightbalance.analysis.information import readout_info_rate
from tightbalance.experiments.info_rate import InfoRateConfig, run_info_rate_experiment
from tightbalance.network import init_random_balanced


def _timed(function) -> float:
    start, cpu_start = time.perf_counter(), time.process_time()
    function()
    _CPU_TIMES.append(time.process_time() - cpu_start)
    return time.perf_counter() - start


# CPU seconds of each timed call (all threads): on a shared machine the wall time
# overstates the cost, the CPU time does not.
_CPU_TIMES: list[float] = []


def bench_sweep(repeats: int) -> None:
    config = InfoRateConfig(n_units=1000, duration=1000.0, dt=0.01)
    times = [_timed(lambda: run_info_rate_experiment(config)) for _ in range(repeats)]
    cpu = statistics.median(_CPU_TIMES[-repeats:])
    print(
        f"7-balance sweep, N=1000, 10^5 steps: runs {[round(t, 1) for t in times]} s, "
        f"median {statistics.median(times):.1f} s wall, {cpu:.1f} s CPU"
    )


def bench_readout(repeats: int) -> None:
    for n_inputs in (1, 2):
        params = init_random_balanced(jax.random.PRNGKey(0), 100, n_inputs, g=0.032, gbar=-1.0)
        model = dict(dt=0.2, sigma=1.0, tau_s=0.1, signal_std=0.2236, i_ext=1.0, nonlinearity="relu")
        first = _timed(lambda: readout_info_rate(params, key=jax.random.PRNGKey(0), **model))  # noqa: B023
        times = [
            _timed(lambda k=k: readout_info_rate(params, key=jax.random.PRNGKey(k), **model))  # noqa: B023
            for k in range(1, repeats * 3 + 1)
        ]
        cpu = statistics.median(_CPU_TIMES[-len(times) :])
        print(
            f"readout_info_rate N=100 S={n_inputs}, 20 000 steps: first call {first:.2f} s (compiles), "
            f"then median {statistics.median(times):.3f} s wall, {cpu:.3f} s CPU over {len(times)} calls"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"cores visible: {os.cpu_count()}, load average: {os.getloadavg()}")
    bench_readout(args.repeats)
    bench_sweep(args.repeats)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
