"""The command line: ``python -m helpers <command>``.

Commands: ``synth`` (make synthetic data), ``table`` (print clip counts of a data folder),
``run`` (execute solutions' notebooks with papermill), ``regress`` (check results against the
committed expected table).
"""
from __future__ import annotations

import argparse
import logging
import sys

from helpers import paths
from helpers.errors import ToolkitError


def _types(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _synth(args) -> None:
    from helpers import synth

    summary = synth.generate(args.out, size=args.size, seed=args.seed, types=_types(args.types),
                             eval_layout=args.eval, workers=args.workers)
    print(f"wrote synthetic data to {args.out}: {summary}")


def _table(args) -> None:
    from helpers import catalog, skiplog

    counts = catalog.clip_counts(catalog.file_table(args.data))
    print(counts.pivot_table(index=["machine_type", "machine_id"], columns=["split", "label"],
                             values="clips", fill_value=0).to_string())
    print(skiplog.summary())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="write a synthetic dataset of the DCASE 2020 Task 2 shape")
    synth.add_argument("--out", default=str(paths.DEV_DATA), help="data root to write (default: dev_data)")
    synth.add_argument("--size", default="small", help="preset: tiny, small or full (default: small)")
    synth.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes")
    synth.add_argument("--types", help="comma-separated machine types (default: all six)")
    synth.add_argument("--eval", action="store_true", help="write the eval-shaped tree instead of the dev tree")
    synth.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    synth.set_defaults(func=_synth)

    table = commands.add_parser("table", help="print clip counts per machine type, split, ID and label")
    table.add_argument("--data", default=str(paths.DEV_DATA), help="data root (default: dev_data)")
    table.set_defaults(func=_table)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ToolkitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
