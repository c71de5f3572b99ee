"""``baton validate [PATH]``: check a golden set's schema, cross-references and gold replay."""

from __future__ import annotations

import argparse

from baton.validate import validate_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate", help="check golden tasks: schema, cross-references, gold replay",
        description="Load every golden task under PATH and check its schema, its cross-references "
                    "(routes, evidence ids, tools) and that replaying the gold tool calls reaches "
                    "the gold final state. Exits 1 and lists every problem when any is found.")
    parser.add_argument("path", nargs="?", default="fixtures/",
                        help="golden-set root, domain folder, task file or exported .jsonl/.parquet "
                             "(default: fixtures/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = validate_path(args.path)
    if report.ok:
        print(report.summary())
        return 0
    for problem in report.problems:
        print(problem)
    files = len({p.file for p in report.problems})
    n = len(report.problems)
    print(f"{n} problem{'s' * (n != 1)} in {files} file{'s' * (files != 1)}; "
          f"{report.summary()} valid")
    return 1
