"""``tightbalance <verb>``: a thin command line over the library.

Verbs live in :mod:`tightbalance.commands`, one module each; this file only
collects them.  The CLI holds no science.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

import jax

from tightbalance import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tightbalance",
        description="Tightly balanced rate networks: training, information rates, mean-field theory.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def use_every_cpu_core() -> None:
    """One JAX CPU device per core, so that vmapped seeds train on all cores (``Trainer``).

    Must run before JAX computes anything; later (e.g. when ``main`` is called from a
    session that already used JAX) the setting is left as it is.
    """
    try:
        jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)
    except RuntimeError:
        logging.getLogger(__name__).debug("JAX already started; keeping its CPU devices")


def main(argv: list[str] | None = None) -> int:
    use_every_cpu_core()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tightbalance").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as error:
        print(f"tightbalance {args.verb}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
