"""``baton report RUN_DIR``: the report card of a run as HTML, Markdown, CSV and JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from baton.errors import BatonError
from baton.reports.formats import parse_formats


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="build the report card of a run (HTML, Markdown, CSV, JSON)",
        description="Aggregate a run directory's results into the report card: per vendor and "
                    "system, component scores next to measured system success, the coordination "
                    "gap, failure attribution, cost and latency; with a trace viewer for failed runs.")
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="run directory (holds results.jsonl)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="where to write the reports (default: RUN_DIR)")
    parser.add_argument("--format", dest="formats", metavar="LIST", type=_formats,
                        default=None, help="comma-separated report formats: html, md, csv, json or a "
                        "registered one (default: all)")
    parser.set_defaults(func=run)


def _load_project_plugins() -> None:
    """The plugins of the project around the working directory (``[tool.baton] plugins``), so
    that a format registered by the project's own file is known."""
    from baton.config_model import load_plugins
    from baton.project import find_project_dir

    load_plugins(find_project_dir())


def _formats(text: str) -> tuple[str, ...]:
    try:
        _load_project_plugins()
        return parse_formats(text)
    except BatonError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--format: ")) from None


def run(args: argparse.Namespace) -> int:
    from baton.reports.write import write_reports  # pandas and SciPy load only when used

    _load_project_plugins()
    written = write_reports(args.run_dir, args.out, args.formats)
    for path in written.values():
        print(path)
    return 0
