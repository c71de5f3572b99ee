"""``baton export PATH --format jsonl|parquet -o OUT``: share a golden set as a dataset file."""

from __future__ import annotations

import argparse
from pathlib import Path

from baton.errors import BatonError
from baton.fixtures import load_tasks

FORMATS = ("jsonl", "parquet")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export golden tasks as a JSONL or Parquet dataset file",
        description="Load the golden tasks under PATH and write them, one row per task, as JSON "
                    "Lines or Parquet (the Hugging Face datasets schema of baton.dataset). "
                    "'baton validate' and every command that reads tasks accept the file.")
    parser.add_argument("path", help="golden-set root, domain folder or task file")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="output format (default: from the -o file's suffix)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="file to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    fmt = args.format or args.output.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise BatonError(f"cannot tell the format of '{args.output}': pass --format jsonl or "
                         "--format parquet, or name the file *.jsonl or *.parquet")
    tasks = load_tasks(args.path)
    from baton.dataset import export_tasks  # lazy: importing datasets takes about a second

    out = export_tasks(tasks, args.output, fmt)
    domains = len({t.domain for t in tasks})
    print(f"wrote {len(tasks)} task{'s' * (len(tasks) != 1)} in {domains} "
          f"domain{'s' * (domains != 1)} to {out} ({fmt})")
    return 0
