"""``write_reports``: a run directory in, its report files out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from baton.reports.aggregate import ReportCard, build_card
from baton.reports.formats import HTML_NAME, MD_NAME, REPORT_FORMATS, format_names, parse_formats
from baton.reports.reliability import with_simulated_fix_first
from baton.reports.rundir import check_run_dir, optional_manifest
from baton.store import iter_results

__all__ = ["HTML_NAME", "MD_NAME", "load_card", "write_reports"]


def load_card(run_dir: Path) -> ReportCard:
    """The report card of a run directory (results streamed from results.jsonl)."""
    run_dir = check_run_dir(Path(run_dir))
    card = build_card(iter_results(run_dir), optional_manifest(run_dir))
    card.configs = with_simulated_fix_first(card.configs, run_dir)  # `baton whatif fix-first`, where run
    return card


def write_reports(run_dir: Path, out_dir: Path | None = None,
                  formats: Iterable[str] | None = None) -> dict[str, Path]:
    """Write the run's reports into ``out_dir`` (default: the run directory) in ``formats``
    (default: every registered report format, :mod:`baton.reports.formats`).

    Returns the written files by kind: ``html`` (report.html), ``md`` (report.md), ``csv``
    (results.csv), ``card_csv`` (card.csv), ``json`` (card.json), and what a user's format writes.
    """
    wanted = parse_formats(",".join(formats if formats is not None else format_names()))
    run_dir = Path(run_dir)
    card = load_card(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir
    out.mkdir(parents=True, exist_ok=True)
    title = f"Baton report: {run_dir.resolve().name}"
    written: dict[str, Path] = {}
    for name in wanted:
        written.update(REPORT_FORMATS.get(name).write(card, out, title))
    return written
