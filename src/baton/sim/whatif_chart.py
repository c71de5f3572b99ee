"""The what-if sweep chart: system success against one hop's reliability, with and without verify.

One self-contained HTML file with an inline SVG (no scripts, no network); every label escaped.
Measured points carry their Wilson 95% interval; predictions are dashed lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape

from baton.sim.whatif import WhatIfResult

W, H = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 60, 170, 30, 50
COLORS = ("#2f6690", "#c0392b", "#3a7d44", "#8e44ad")


@dataclass(frozen=True, slots=True)
class Series:
    """One system's sweep: (reliability of the swept hop, result) per point."""

    label: str
    points: Sequence[tuple[float, WhatIfResult]]


def _x(value: float, lo: float, hi: float) -> float:
    return LEFT + (value - lo) / ((hi - lo) or 1.0) * (W - LEFT - RIGHT)


def _y(value: float) -> float:
    return TOP + (1 - value) * (H - TOP - BOTTOM)


def render_svg(hop: str, series: Sequence[Series]) -> str:
    xs = [x for s in series for x, _ in s.points]
    lo, hi = min(xs), max(xs)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             f'role="img" aria-label="system success against {escape(hop)} reliability">',
             f'<rect width="{W}" height="{H}" fill="white"/>']
    for tick in range(0, 11, 2):
        y = _y(tick / 10)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{tick * 10}%</text>')
    for x in sorted(set(xs)):
        px = _x(x, lo, hi)
        parts.append(f'<text x="{px:.1f}" y="{H - BOTTOM + 16}" font-size="11" text-anchor="middle">{x:g}</text>')
    parts.append(f'<text x="{(LEFT + W - RIGHT) / 2:.1f}" y="{H - 12}" font-size="12" text-anchor="middle">'
                 f'{escape(hop)} reliability (per decision)</text>')
    parts.append(f'<text x="14" y="{(TOP + H - BOTTOM) / 2:.1f}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(TOP + H - BOTTOM) / 2:.1f})">system success (simulated)</text>')
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        measured = " ".join(f"{_x(x, lo, hi):.1f},{_y(r.measured):.1f}" for x, r in s.points)
        predicted = " ".join(f"{_x(x, lo, hi):.1f},{_y(r.predicted):.1f}" for x, r in s.points)
        parts.append(f'<polyline points="{measured}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts.append(f'<polyline points="{predicted}" fill="none" stroke="{color}" stroke-width="1.5" '
                     f'stroke-dasharray="5 4"/>')
        for x, r in s.points:
            low, high = r.interval
            px = _x(x, lo, hi)
            parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{_y(low):.1f}" y2="{_y(high):.1f}" '
                         f'stroke="{color}" stroke-width="1"/>')
            parts.append(f'<circle cx="{px:.1f}" cy="{_y(r.measured):.1f}" r="3" fill="{color}">'
                         f'<title>{escape(s.label)}: measured {r.measured:.1%} [{low:.1%}, {high:.1%}], '
                         f'predicted {r.predicted:.1%}</title></circle>')
        ly = TOP + 18 * i
        parts.append(f'<line x1="{W - RIGHT + 12}" x2="{W - RIGHT + 32}" y1="{ly}" y2="{ly}" stroke="{color}" '
                     f'stroke-width="2"/><text x="{W - RIGHT + 36}" y="{ly + 4}" font-size="11">{escape(s.label)}</text>')
    ly = TOP + 18 * len(series)
    parts.append(f'<line x1="{W - RIGHT + 12}" x2="{W - RIGHT + 32}" y1="{ly}" y2="{ly}" stroke="#555" '
                 f'stroke-dasharray="5 4"/><text x="{W - RIGHT + 36}" y="{ly + 4}" font-size="11">predicted</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(hop: str, series: Sequence[Series], fixed: str) -> str:
    rows = []
    for s in series:
        for x, r in s.points:
            low, high = r.interval
            rows.append(f"<tr><td>{escape(s.label)}</td><td>{x:g}</td><td>{r.predicted:.1%}</td>"
                        f"<td>{r.measured:.1%}</td><td>[{low:.1%}, {high:.1%}]</td><td>{r.runs}</td></tr>")
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Baton what-if sweep (simulated)</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
            f"<h1>What-if sweep: {escape(hop)} (simulated vendor)</h1>"
            f"<p>Other hops: {escape(fixed)}. Measured: solid lines with Wilson 95% intervals; predicted "
            "from the decisions of a zero-error run: dashed.</p>"
            f"{render_svg(hop, series)}"
            "<table><tr><th>system</th><th>" + str(escape(hop)) + "</th><th>predicted</th><th>measured</th>"
            "<th>95% interval</th><th>runs</th></tr>" + "".join(rows) + "</table></body></html>")
