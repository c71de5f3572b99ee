"""``baton import FORMAT PATH -o DIR``: turn another benchmark's environment into a Baton domain."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from baton.errors import BatonError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2024-05-15, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import", help="import a tau-bench-style benchmark environment as a Baton domain",
        description="Read a local checkout of a tool-agent benchmark environment (tau-bench style: "
                    "data/*.json tables, tools/*.py classes with invoke() and get_info(), "
                    "tasks_<split>.py task lists, wiki.md policy) and write a Baton domain "
                    "(domain.yaml, tools.py, tasks/) under DIR. The benchmark's gold actions are "
                    "replayed with its own tool code and with Baton's, and the end states compared. "
                    "Exits 1 when any task's end state differs.")
    parser.add_argument("format", choices=["tau-bench"], help="the benchmark's format")
    parser.add_argument("path", type=Path, help="the environment folder, e.g. tau_bench/envs/retail")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help="golden-set folder to write the domain into (DIR/<domain>/)")
    parser.add_argument("--domain", help="domain name (default: the environment folder's name)")
    parser.add_argument("--split", action="append", dest="splits", metavar="SPLIT",
                        help="task split to import, e.g. test (tasks_test.py); repeatable; default: all")
    parser.add_argument("--limit", type=int, help="import at most this many tasks")
    parser.add_argument("--today", type=_date, help="the world's date (default: a date the policy "
                                                    "names as the current time, else 2000-01-01)")
    parser.add_argument("--force", action="store_true", help="replace DIR/<domain> if it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from baton.importers.tau_bench import import_tau_bench  # lazy: only this command needs it

    if args.limit is not None and args.limit < 1:
        raise BatonError("--limit must be at least 1")

    def progress(message: str) -> None:
        print(f"\r{message}", end="", file=sys.stderr, flush=True)

    report = import_tau_bench(args.path, args.output, domain=args.domain, splits=args.splits,
                              limit=args.limit, today=args.today, force=args.force,
                              progress=progress if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}")
    for line in report.mismatches:
        print(f"mismatch: {line}")
    print(f"wrote {report.tasks} task{'s' * (report.tasks != 1)} to {report.domain_dir}; "
          f"Baton's gold replay reproduces the benchmark's end state in {report.reproduced}/{report.tasks}")
    if report.ok:
        print(f"next: baton validate {report.domain_dir}")
    return 0 if report.ok else 1
