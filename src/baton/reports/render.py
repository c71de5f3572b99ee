"""Rendering the report card as one self-contained HTML page and as short Markdown.

HTML goes through jinja2 with autoescaping on; model output reaches the page only as escaped JSON
data that the viewer script turns into text nodes. A Content-Security-Policy allows no network
access and runs no script but the viewer's own (pinned by its hash).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from baton import __version__
from baton.reports.aggregate import ReportCard
from baton.reports.charts import gap_chart, hop_chart, waterfall_chart
from baton.reports.diff import RunDiff
from baton.reports.rundir import run_facts

TEMPLATES = Path(__file__).parent / "templates"


def fmt_pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def fmt_points(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f} pts"


def fmt_usd(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"


def fmt_secs(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def fmt_num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|#~])")
_HTML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def md_escape(value: Any) -> str:
    """Text safe in a Markdown table cell: GitHub renders inline HTML and entities, so ``& < > "``
    become HTML entities; the other characters with meaning inside a line (``\\ ` * _ { } [ ] | #
    ~``) are backslash-escaped, so links, emphasis, code and table cells cannot open; line breaks
    become spaces."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return "".join(_HTML_ENTITIES.get(ch, ch) for ch in text)


_FILTERS = {"pct": fmt_pct, "points": fmt_points, "usd": fmt_usd, "secs": fmt_secs, "num": fmt_num}


@cache
def _html_env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(_FILTERS)
    return env


@cache
def _md_env() -> Environment:
    # Every {{ }} output is escaped for Markdown; Markdown syntax lives in the template text.
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, finalize=md_escape,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(_FILTERS)
    return env


@cache
def _asset(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _csp_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def render_html(card: ReportCard, *, title: str = "Baton report") -> str:
    """The report as one self-contained HTML document."""
    script = _asset("viewer.js")
    csp = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
           f"form-action 'none'; script-src '{_csp_hash(script)}'")
    return _html_env().get_template("report.html.j2").render(
        card=card, title=title, csp=csp, css=Markup(_asset("report.css")), script=Markup(script),
        gap_chart=gap_chart(card.configs), hop_chart=hop_chart, waterfall_chart=waterfall_chart,
        facts=run_facts(card.manifest), version=__version__)


def render_markdown(card: ReportCard, *, title: str = "Baton report") -> str:
    """A short Markdown summary, small enough for a pull-request comment."""
    return _md_env().get_template("report.md.j2").render(card=card, title=title, version=__version__)


def render_diff_markdown(diff: RunDiff, *, task_limit: int = 25) -> str:
    """A run comparison as Markdown: per configuration, then the tasks whose success changed
    (significant changes first, then the largest; at most ``task_limit`` rows)."""
    return _md_env().get_template("diff.md.j2").render(diff=diff, limit=task_limit)
