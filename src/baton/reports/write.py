"""``write_reports``: a run directory in, its report files out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from baton.reports.aggregate import ReportCard, build_card
from baton.reports.formats import FORMATS, parse_formats
from baton.reports.reliability import with_simulated_fix_first
from baton.reports.render import render_html, render_markdown
from baton.reports.rundir import check_run_dir, optional_manifest
from baton.reports.tables import write_card_csv, write_card_json, write_results_csv
from baton.store import iter_results

HTML_NAME = "report.html"
MD_NAME = "report.md"


def load_card(run_dir: Path) -> ReportCard:
    """The report card of a run directory (results streamed from results.jsonl)."""
    run_dir = check_run_dir(Path(run_dir))
    card = build_card(iter_results(run_dir), optional_manifest(run_dir))
    card.configs = with_simulated_fix_first(card.configs, run_dir)  # `baton whatif fix-first`, where run
    return card


def write_reports(run_dir: Path, out_dir: Path | None = None,
                  formats: Iterable[str] = FORMATS) -> dict[str, Path]:
    """Write the run's reports into ``out_dir`` (default: the run directory).

    Returns the written files by kind: ``html`` (report.html), ``md`` (report.md), ``csv``
    (results.csv), ``card_csv`` (card.csv), ``json`` (card.json).
    """
    wanted = set(parse_formats(",".join(formats)))
    run_dir = Path(run_dir)
    card = load_card(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir
    out.mkdir(parents=True, exist_ok=True)
    title = f"Baton report: {run_dir.resolve().name}"
    written: dict[str, Path] = {}
    if "html" in wanted:
        written["html"] = out / HTML_NAME
        written["html"].write_text(render_html(card, title=title), encoding="utf-8")
    if "md" in wanted:
        written["md"] = out / MD_NAME
        written["md"].write_text(render_markdown(card, title=title), encoding="utf-8")
    if "csv" in wanted:
        written["csv"] = write_results_csv(card, out)
        written["card_csv"] = write_card_csv(card, out)
    if "json" in wanted:
        written["json"] = write_card_json(card, out)
    return written
