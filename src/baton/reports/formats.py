"""Report formats: the registry ``baton report --format`` and ``write_reports`` choose from.

A format is a name and a writer ``write(card, out_dir, title) -> {kind: path}`` that writes its
files into ``out_dir``. The built-ins (html, md, csv, json) are registered here with lazy imports,
so the CLI can validate ``--format`` without loading pandas; a user adds one with
:func:`register_format` (or the ``baton.report_formats`` entry-point group)::

    @register_format("txt", description="one line per configuration")
    def write_txt(card, out_dir, title):
        path = out_dir / "report.txt"
        path.write_text(...)
        return {"txt": path}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from baton.errors import BatonError
from baton.registry import Registry, spec_or_function

if TYPE_CHECKING:
    from baton.reports.aggregate import ReportCard

HTML_NAME = "report.html"
MD_NAME = "report.md"


class FormatWriter(Protocol):
    """Write ``card`` into ``out_dir``; return the written files by kind."""

    def __call__(self, card: ReportCard, out_dir: Path, title: str, /) -> dict[str, Path]: ...


@dataclass(frozen=True, slots=True)
class ReportFormat:
    name: str
    write: FormatWriter
    description: str = ""


_as_format = spec_or_function("report format", ReportFormat, lambda name, fn: ReportFormat(name, fn),  # type: ignore[arg-type]
                              "a function (card, out_dir, title) -> {kind: path}")


REPORT_FORMATS: Registry[ReportFormat] = Registry("report format", "baton.report_formats", convert=_as_format,
                                                  targets=False)


def register_format(name: str, *, description: str = "") -> Callable[[FormatWriter], FormatWriter]:
    """Decorator: register ``write(card, out_dir, title)`` as report format ``name``."""

    def decorate(write: FormatWriter) -> FormatWriter:
        REPORT_FORMATS.add(name, ReportFormat(name, write, description))
        return write

    return decorate


@register_format("html", description="report.html: the report card with a trace viewer")
def _html(card: ReportCard, out_dir: Path, title: str) -> dict[str, Path]:
    from baton.reports.render import render_html

    path = out_dir / HTML_NAME
    path.write_text(render_html(card, title=title), encoding="utf-8")
    return {"html": path}


@register_format("md", description="report.md: the report card as Markdown")
def _md(card: ReportCard, out_dir: Path, title: str) -> dict[str, Path]:
    from baton.reports.render import render_markdown

    path = out_dir / MD_NAME
    path.write_text(render_markdown(card, title=title), encoding="utf-8")
    return {"md": path}


@register_format("csv", description="results.csv (one row per run) and card.csv (one per configuration)")
def _csv(card: ReportCard, out_dir: Path, title: str) -> dict[str, Path]:
    from baton.reports.tables import write_card_csv, write_results_csv

    return {"csv": write_results_csv(card, out_dir), "card_csv": write_card_csv(card, out_dir)}


@register_format("json", description="card.json: definitions and one record per configuration")
def _json(card: ReportCard, out_dir: Path, title: str) -> dict[str, Path]:
    from baton.reports.tables import write_card_json

    return {"json": write_card_json(card, out_dir)}


FORMATS = ("html", "md", "csv", "json")
"""The built-in formats (every registered one is :func:`format_names`)."""


def format_names() -> list[str]:
    """Every registered format: the built-ins in their order, then a user's."""
    return [name for name, _ in REPORT_FORMATS.items()]


def parse_formats(text: str) -> tuple[str, ...]:
    """``"html,md"`` -> ``("html", "md")``; unknown names are an error listing the known ones."""
    names = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in REPORT_FORMATS]
    if unknown or not names:
        raise BatonError(f"--format: unknown format {', '.join(unknown) or '(none)'}; "
                         f"expected a comma-separated list of {', '.join(format_names())}")
    return names
