"""Reproduce the one/two/three-stimuli experiments (SPEC §3) and their README table.

Usage::

    python examples/reproduce_training.py [--epochs 100001] --runs runs [--docs docs]

Trains each preset for ``--epochs`` (default: the preset's own 100 001; runs that
already exist are resumed to ``--epochs`` instead), prints the table of the last
evaluation (test loss, balance, J_same, J_diff, cluster ARI against the preferred
channel and against the k-means tuning groups, most negative eigenvalue) next to the
start, and, with ``--docs``, writes small copies of the training figures for the README.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from tightbalance.config import preset
from tightbalance.rundir import read_metrics
from tightbalance.train import resume, train, write_training_figures

PRESETS = ("one-stimulus", "two-stimuli", "three-stimuli")


def run_preset(name: str, epochs: int | None, runs: Path) -> Path:
    run_dir = runs / name
    if (run_dir / "metrics.csv").exists():
        return resume(run_dir, epochs=epochs)
    config = preset(name)
    return train(config if epochs is None else config.replace(epochs=epochs), run_dir)


def table(runs: Path) -> str:
    lines = [
        "| preset | S | epochs | test loss start → end | balance end (max) | J_same | J_diff "
        "| cluster ARI | tuning ARI | min Re λ |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in PRESETS:
        rows = [r for r in read_metrics(runs / name) if int(r["seed"]) == 1]
        first, last = rows[0], rows[-1]
        peak = max(r["balance"] for r in rows)
        s = preset(name).n_inputs
        lines.append(
            f"| {name} | {s} | {int(last['epoch'])} | {first['test_loss']:.3f} → {last['test_loss']:.4f} "
            f"| {last['balance']:.2f} ({peak:.2f}) | {last['j_same']:.3f} | {last['j_diff']:.3f} "
            f"| {last['cluster_ari']:.2f} | {last['tuning_ari']:.2f} | {last['eig_min_real']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, help="epochs per preset (default: the preset's 100 001)")
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--docs", type=Path, help="write small README copies of the figures here")
    parser.add_argument("--table-only", action="store_true", help="only print the table of existing runs")
    args = parser.parse_args()
    if not args.table_only:
        for name in PRESETS:
            run_preset(name, args.epochs, args.runs)
    else:
        for name in PRESETS:
            write_training_figures(args.runs / name)
    print(table(args.runs))
    if args.docs:
        args.docs.mkdir(parents=True, exist_ok=True)
        for name in PRESETS:
            image = Image.open(args.runs / name / "figures" / "training-seed-1.png")
            image.thumbnail((1200, 600))
            image = image.convert("RGB").quantize(colors=256)
            image.save(args.docs / f"training-{name}.png", optimize=True)


if __name__ == "__main__":
    main()
