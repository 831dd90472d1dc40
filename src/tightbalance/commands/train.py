"""``tightbalance train``, ``resume`` and ``presets``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tightbalance.config import (
    PRESETS,
    apply_overrides,
    config_to_dict,
    parse_assignments,
    preset,
    read_config_table,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train", help="train rate networks on OU tracking (a preset or a config file)"
    )
    train.add_argument("--preset", default="two-stimuli", choices=sorted(PRESETS), help="experiment preset")
    train.add_argument("--config", type=Path, help="TOML file with a [train] table (overrides the preset)")
    train.add_argument("--epochs", type=int, help="number of training epochs (Adam steps)")
    train.add_argument("--seeds", type=int, nargs="+", help="seeds trained together in one compiled program")
    train.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config field, e.g. --set dt=0.1 (repeatable)",
    )
    train.add_argument("--eval-every", type=int, help="epochs between evaluations and checkpoints")
    train.add_argument("--out", type=Path, required=True, help="run directory to create")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=run_train)

    resume = subparsers.add_parser("resume", help="continue a run from its latest checkpoint")
    resume.add_argument("run_dir", type=Path)
    resume.add_argument("--epochs", type=int, help="new total number of epochs")
    resume.add_argument("--no-progress", action="store_true")
    resume.set_defaults(func=run_resume)

    presets = subparsers.add_parser("presets", help="list the presets and their parameters")
    presets.set_defaults(func=run_presets)


def run_train(args: argparse.Namespace) -> int:
    from tightbalance.train import TrainingDivergedError, train

    config = preset(args.preset)
    if args.config is not None:
        config = apply_overrides(config, read_config_table(args.config))
    overrides = parse_assignments(args.assignments)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.eval_every is not None:
        overrides["eval_every"] = args.eval_every
    config = apply_overrides(config, overrides)
    try:
        run_dir = train(config, args.out, seeds=args.seeds, progress=not args.no_progress)
    except TrainingDivergedError as error:
        print(f"tightbalance train: {error}", file=sys.stderr)
        return 3
    print(f"run written to {run_dir}")
    return 0


def run_resume(args: argparse.Namespace) -> int:
    from tightbalance.train import TrainingDivergedError, resume

    try:
        run_dir = resume(args.run_dir, epochs=args.epochs, progress=not args.no_progress)
    except TrainingDivergedError as error:
        print(f"tightbalance resume: {error}", file=sys.stderr)
        return 3
    print(f"run continued in {run_dir}")
    return 0


def run_presets(args: argparse.Namespace) -> int:
    for name, config in PRESETS.items():
        values = config_to_dict(config)
        print(f"{name}:")
        print("  " + ", ".join(f"{k}={v}" for k, v in values.items()))
    return 0
