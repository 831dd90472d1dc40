"""Acceptance check (SPEC §6, issue "Time-resolved mean-field theory and Lyapunov exponents").

The largest Lyapunov exponent of random balanced relu networks (J = -b/N + g Z/sqrt(N), u = b I0,
sigma = 0) changes sign, as a function of g, where the DMFT predicts the chaos threshold; and the
DMFT exponent against simulation across g.

Each call simulates the balances ``--b`` on the grid ``--g`` and appends one row per network to
``OUT/samples-<tag>.csv``; then it summarises and plots *all* samples found in OUT, pooling the
realisations of equal (b, g).  So runs can be split (each within ~10 minutes on two shared cores)
and refined near the threshold with more networks (use another ``--seed`` and ``--tag``)::

    python examples/lyapunov_threshold.py --b 1 4 --tag coarse --out runs/lyapunov-threshold
    python examples/lyapunov_threshold.py --b 1 --g 1.4 1.45 1.5 1.55 --seed 1 --tag fine-b1 --out ...
    python examples/lyapunov_threshold.py --b --out runs/lyapunov-threshold   # summary only

Zero crossing: linear interpolation of the realisation mean between the last negative and first
positive g (first upward sign change); its uncertainty from a bootstrap over realisations
(resampled independently at every g).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import jax
import numpy as np

from tightbalance.commands.lyapunov import write_table
from tightbalance.plots.lyapunov import plot_lyapunov
from tightbalance.theory.lyapunov import LyapunovPoint, dmft_lyapunov_curve, lyapunov_sweep, zero_crossing

G_VALUES = [1.0, 1.2, 1.3, 1.4, 1.45, 1.5, 1.6, 1.8, 2.0]
I0 = 1.0


def bootstrap_crossing(
    g: np.ndarray, samples: list[np.ndarray], rng: np.random.Generator, n_boot: int = 2000
):
    """16th, 50th and 84th percentiles of the zero crossing over bootstrap resamples of realisations
    (independently at every g), and the fraction of resamples that cross at all."""
    crossings = np.array(
        [
            zero_crossing(g, np.array([rng.choice(values, size=values.size).mean() for values in samples]))
            for _ in range(n_boot)
        ]
    )
    finite = crossings[np.isfinite(crossings)]
    return np.percentile(finite, [16, 50, 84]), finite.size / crossings.size


SAMPLE_COLUMNS = (
    "b",
    "g",
    "lambda_sim",
    "lambda_dmft",
    "g_threshold",
    "n_units",
    "transient",
    "duration",
    "dt",
)


def simulate_balances(args: argparse.Namespace) -> None:
    """Simulate every (b, g) of the call and append the per-network exponents to the samples file."""
    path = args.out / f"samples-{args.tag}.csv"
    new_file = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new_file:
            writer.writerow(SAMPLE_COLUMNS)
        for b in args.b:
            key = jax.random.PRNGKey(args.seed + int(round(100 * b)))
            for j, g in enumerate(args.g):
                started = time.perf_counter()
                (point,) = lyapunov_sweep(
                    jax.random.fold_in(key, j),
                    [b],
                    [g],
                    i0=I0,
                    n_units=args.n_units,
                    n_realisations=args.realisations,
                    duration=args.duration,
                    transient=args.transient,
                    dt=args.dt,
                )
                for value in point.lambda_sim:
                    writer.writerow(
                        [b, g, value, point.lambda_dmft, point.g_threshold]
                        + [args.n_units, args.transient, args.duration, args.dt]
                    )
                handle.flush()
                print(
                    f"b = {b:g}, g = {g:.2f}: lambda_sim = {np.round(point.lambda_sim, 4)}, "
                    f"lambda_dmft = {point.lambda_dmft:+.4f} ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )


def read_samples(out: Path) -> dict[float, list[LyapunovPoint]]:
    """All samples in OUT, pooled per (b, g): ``{b: [LyapunovPoint sorted by g]}``."""
    rows: dict[tuple[float, float], list[dict[str, str]]] = {}
    for path in sorted(out.glob("samples-*.csv")):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                rows.setdefault((float(row["b"]), float(row["g"])), []).append(row)
    pooled: dict[float, list[LyapunovPoint]] = {}
    for (b, g), group in sorted(rows.items()):
        pooled.setdefault(b, []).append(
            LyapunovPoint(
                b=b,
                g=g,
                lambda_sim=np.array([float(row["lambda_sim"]) for row in group]),
                lambda_dmft=float(group[0]["lambda_dmft"]),
                g_threshold=float(group[0]["g_threshold"]),
            )
        )
    return pooled


def summarise(out: Path, dense_points: int) -> None:
    rng = np.random.default_rng(0)
    pooled = read_samples(out)
    curves = {}
    for b, points in pooled.items():
        g = np.array([p.g for p in points])
        mean = np.array([p.lambda_sim_mean for p in points])
        threshold = points[0].g_threshold
        print(f"\nb = {b:g}  (N, transient, duration, dt as in the samples files)")
        print("   g   runs   lambda_sim (mean ± sem)   lambda_dmft   sim - dmft")
        for p in points:
            print(
                f"{p.g:5.2f}   {p.lambda_sim.size:3d}    {p.lambda_sim_mean:+.4f} ± {p.lambda_sim_sem:.4f}"
                f"         {p.lambda_dmft:+.4f}       {p.lambda_sim_mean - p.lambda_dmft:+.4f}"
            )
        crossing = zero_crossing(g, mean)
        (lo, _, hi), fraction = bootstrap_crossing(g, [p.lambda_sim for p in points], rng)
        print(
            f"zero crossing (simulation): g* = {crossing:.3f}  [bootstrap 16-84%: {lo:.3f}-{hi:.3f}, "
            f"{100 * fraction:.0f}% of resamples cross]"
        )
        print(f"DMFT threshold: g_c = {threshold:.4f};  g* - g_c = {crossing - threshold:+.3f}")
        if dense_points > 0:
            g_dense = np.linspace(g.min(), g.max(), dense_points)
            curves[b] = (g_dense, dmft_lyapunov_curve(b, g_dense, I0))
    all_points = [p for points in pooled.values() for p in points]
    write_table(all_points, out / "lyapunov.csv")
    figure = plot_lyapunov(
        all_points, out / "lyapunov.png", dmft_curves=curves, title=f"relu, I0 = {I0:g}, sigma = 0"
    )
    print(f"\nwrote {out / 'lyapunov.csv'} and {figure}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--b", type=float, nargs="*", default=[1.0, 4.0], help="balances to simulate")
    parser.add_argument("--g", type=float, nargs="+", default=G_VALUES, help="coupling strengths")
    parser.add_argument("--tag", default="coarse", help="name of this call's samples file")
    parser.add_argument("--dense-points", type=int, default=41, help="g values of the DMFT line (0: none)")
    parser.add_argument("--n-units", type=int, default=2000)
    parser.add_argument("--realisations", type=int, default=4)
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--transient", type=float, default=100.0)
    parser.add_argument("--dt", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/lyapunov-threshold"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    simulate_balances(args)
    summarise(args.out, args.dense_points)


if __name__ == "__main__":
    main()
