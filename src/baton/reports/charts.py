"""Inline SVG charts for the HTML report: no scripts, no external resources, every label escaped."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from baton.reports.aggregate import ConfigCard

WIDTH = 480
LABEL_W = 150
VALUE_W = 44
ROW_H = 22
BAR_H = 14
PLOT_W = WIDTH - LABEL_W - VALUE_W

COLORS = {"part": "#9db7d5", "isolated": "#c9b6e4", "predicted": "#f0c27b", "measured": "#2f6690",
          "gap": "#c0392b", "rise": "#3c8d5a"}


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float | None
    color: str
    low: float | None = None
    high: float | None = None


def _x(value: float) -> float:
    return LABEL_W + max(0.0, min(1.0, value)) * PLOT_W


def _bar_svg(bar: Bar, y: float) -> str:
    parts = [f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 3}" text-anchor="end">{escape(bar.label)}</text>']
    if bar.value is None:
        parts.append(f'<text x="{LABEL_W + 4}" y="{y + BAR_H - 3}" class="na">n/a</text>')
        return "".join(parts)
    parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{_x(bar.value) - LABEL_W:.1f}" height="{BAR_H}" '
                 f'fill="{bar.color}"><title>{escape(bar.label)}: {bar.value:.1%}</title></rect>')
    if bar.low is not None and bar.high is not None:
        mid = y + BAR_H / 2
        parts.append(f'<line x1="{_x(bar.low):.1f}" x2="{_x(bar.high):.1f}" y1="{mid}" y2="{mid}" '
                     f'class="ci"/><line x1="{_x(bar.low):.1f}" x2="{_x(bar.low):.1f}" y1="{y + 2}" '
                     f'y2="{y + BAR_H - 2}" class="ci"/><line x1="{_x(bar.high):.1f}" '
                     f'x2="{_x(bar.high):.1f}" y1="{y + 2}" y2="{y + BAR_H - 2}" class="ci"/>')
    parts.append(f'<text x="{WIDTH - 4}" y="{y + BAR_H - 3}" text-anchor="end">{bar.value:.0%}</text>')
    return "".join(parts)


def _axis(height: float) -> str:
    ticks = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = _x(tick)
        ticks.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}" class="grid"/>')
    return "".join(ticks)


def _svg(body: str, height: float, title: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<style>text{{font:12px sans-serif;fill:#222}}.na{{fill:#888}}.grid{{stroke:#e3e3e3}}'
        f'.ci{{stroke:#111;stroke-width:1.4}}</style>{body}</svg>')


def hop_chart(card: ConfigCard) -> Markup:
    """Bars for one configuration: each hop's reliability isolated and in-system, predicted, measured."""
    rel = card.reliability
    bars: list[Bar] = []
    for hop in rel.hops:
        bars.append(Bar(f"{hop.hop} (isolated)", hop.isolated, COLORS["isolated"]))
        bars.append(Bar(f"{hop.hop} (in-system)", hop.in_system, COLORS["part"]))
    bars.append(Bar("predicted (product)", rel.predicted, COLORS["predicted"]))
    bars.append(Bar("measured system", card.rate, COLORS["measured"], card.ci_low, card.ci_high))
    height = len(bars) * ROW_H + 4
    body = _axis(height) + "".join(_bar_svg(bar, 4 + i * ROW_H) for i, bar in enumerate(bars))
    return _svg(body, height, f"Hop reliability versus system success: {card.label}")


def waterfall_chart(card: ConfigCard) -> Markup:
    """From predicted to measured: each step a floating bar (red: a drop, green: a rise)."""
    steps = card.reliability.waterfall
    if not steps:
        return Markup("")
    parts: list[str] = []
    level = 0.0
    for i, step in enumerate(steps):
        y = 4 + i * ROW_H
        if step.kind == "total":
            start, end, color, text = 0.0, step.value, (COLORS["predicted"] if i == 0 else COLORS["measured"]), \
                f"{step.value:.0%}"
            level = step.value
        else:
            start, end = level, level + step.value
            color = COLORS["gap"] if step.value < 0 else COLORS["rise"]
            text = f"{step.value * 100:+.1f} pts"
            level = end
        left, right = sorted((start, end))
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 3}" text-anchor="end">{escape(step.label)}</text>')
        parts.append(f'<rect x="{_x(left):.1f}" y="{y}" width="{max(_x(right) - _x(left), 1.0):.1f}" '
                     f'height="{BAR_H}" fill="{color}"><title>{escape(step.label)}: {escape(text)}</title></rect>')
        parts.append(f'<text x="{WIDTH - 4}" y="{y + BAR_H - 3}" text-anchor="end">{escape(text)}</text>')
    height = len(steps) * ROW_H + 4
    return _svg(_axis(height) + "".join(parts), height, f"From predicted to measured: {card.label}")


def gap_chart(cards: list[ConfigCard]) -> Markup:
    """Per configuration: predicted success (product of isolated hop reliability) above measured
    system success; the distance between the two bars is the coordination gap."""
    rows: list[str] = []
    y = 4.0
    for card in cards:
        suffix = " (simulated)" if card.simulated else ""
        rows.append(f'<text x="4" y="{y + 11}" font-weight="bold">{escape(card.label + suffix)}</text>')
        y += 16
        rows.append(_bar_svg(Bar("predicted (product)", card.predicted, COLORS["predicted"]), y))
        y += ROW_H
        rows.append(_bar_svg(Bar("system (measured)", card.rate, COLORS["measured"], card.ci_low,
                                 card.ci_high), y))
        y += ROW_H
        if card.gap is not None:
            rel = card.reliability
            interval = (f" [{rel.gap_low * 100:+.1f}, {rel.gap_high * 100:+.1f}]"
                        if rel.gap_low is not None and rel.gap_high is not None else "")
            rows.append(f'<text x="{LABEL_W}" y="{y + 10}" fill="{COLORS["gap"]}">gap = predicted − measured '
                        f'{card.gap * 100:+.1f} pts{interval}</text>')
        y += 18
    return _svg(_axis(y) + "".join(rows), y, "Coordination gap per configuration")
