"""``baton merge``: combine the shard directories of one run into one run directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge", help="combine shard run directories into one run directory",
        description="Combine run directories of one run (the shards of 'baton run --shard i/N', or "
                    "pieces of an interrupted run) into one run directory that 'baton report' and "
                    "'pytest evals/ --baton-run-dir' read exactly like an unsharded run. Directories of "
                    "different configurations or fixture sets are refused; a run found twice is kept "
                    "once; merging again into the same output adds only what it lacks. Exits 1 when "
                    "runs are missing (a shard not given, or not finished).")
    parser.add_argument("run_dirs", metavar="RUN_DIR", type=Path, nargs="+", help="shard run directories")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="DIR",
                        help="merged run directory (created, or completed if it holds the same run)")
    parser.set_defaults(func=merge)


def merge(args: argparse.Namespace) -> int:
    from baton.merge import merge_run_dirs

    report = merge_run_dirs(args.run_dirs, args.out)
    lines = report.lines()
    print(lines[0])
    for line in lines[1:]:
        print(f"baton merge: {line}", file=sys.stderr)
    if report.missing:
        from baton.merge import missing_units

        found = missing_units(args.out)
        if found is not None:
            count, keys = found
            more = f" (first {len(keys)} of {count})" if count > len(keys) else ""
            print(f"baton merge: missing units{more}:", file=sys.stderr)
            for key in keys:
                print(f"  {key}", file=sys.stderr)
    return 1 if report.missing else 0
