"""The load test's HTML page: self-contained (inline SVG and CSS, no script), every text escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from baton.load.stats import Percentiles, StepStats

__all__ = ["render_page"]

_W, _H, _PAD = 520, 260, 48
_SERIES = (("p50", "#4e79a7"), ("p95", "#e15759"), ("p99", "#b07aa1"))


def _fmt(value: float | None, scale: float = 1000.0, digits: int = 0) -> str:
    return "–" if value is None else f"{value * scale:,.{digits}f}"


def _chart(title: str, rates: Sequence[float], series: Sequence[Percentiles | None],
           saturation_rate: float | None) -> str:
    """Latency (ms, log scale) against offered rate (log scale) for p50/p95/p99."""
    points = [(r, p) for r, p in zip(rates, series, strict=True) if p is not None and p.p50 is not None]
    parts = [f'<figure><figcaption>{escape(title)}</figcaption>'
             f'<svg viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
             f'aria-label="{escape(title)}: latency versus offered rate">']
    if not points:
        parts.append(f'<text x="{_PAD}" y="{_H / 2}">no completed runs</text></svg></figure>')
        return "".join(parts)
    xs = [math.log10(r) for r, _ in points]
    values = [v for _, p in points for v in (p.p50, p.p95, p.p99) if v]
    lo, hi = math.log10(min(values) * 1000), math.log10(max(values) * 1000)
    if hi - lo < 0.3:
        lo, hi = lo - 0.15, hi + 0.15
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

    def px(x: float) -> float:
        return _PAD + (x - x0) / (x1 - x0) * (_W - 2 * _PAD)

    def py(ms: float) -> float:
        return _H - _PAD + (-(math.log10(ms) - lo) / (hi - lo)) * (_H - 2 * _PAD)

    parts.append(f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" class="axis"/>'
                 f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" class="axis"/>')
    for rate, _ in points:
        x = px(math.log10(rate))
        parts.append(f'<text x="{x:.1f}" y="{_H - _PAD + 16}" text-anchor="middle">{rate:g}</text>')
    for decade in range(math.floor(lo), math.ceil(hi) + 1):
        for step in (1, 2, 5):
            tick = step * 10 ** decade
            if lo <= math.log10(tick) <= hi:
                y = py(tick)
                parts.append(f'<text x="{_PAD - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>'
                             f'<line x1="{_PAD}" y1="{y:.1f}" x2="{_W - _PAD}" y2="{y:.1f}" class="grid"/>')
    if saturation_rate is not None:
        x = px(math.log10(saturation_rate))
        parts.append(f'<line x1="{x:.1f}" y1="{_PAD}" x2="{x:.1f}" y2="{_H - _PAD}" class="sat"/>'
                     f'<text x="{x - 4:.1f}" y="{_PAD + 10}" text-anchor="end">saturated</text>')
    for name, colour in _SERIES:
        coords = [(px(math.log10(r)), py(getattr(p, name) * 1000)) for r, p in points if getattr(p, name)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords]
    parts.append(f'<text x="{_W / 2}" y="{_H - 8}" text-anchor="middle">offered rate (runs/s, log)</text>'
                 f'<text x="12" y="{_H / 2}" transform="rotate(-90 12 {_H / 2})" text-anchor="middle">ms (log)</text>')
    legend = " ".join(f'<tspan fill="{c}">■ {n}</tspan>' for n, c in _SERIES)
    parts.append(f'<text x="{_W - _PAD}" y="{_PAD - 14}" text-anchor="end">{legend}</text></svg></figure>')
    return "".join(parts)


def render_page(steps: Sequence[StepStats], *, title: str, description: str, machine: str) -> str:
    """The whole page: a summary, one chart for end to end and one per hop, and the numbers."""
    rates = [s.offered_rate for s in steps]
    saturated = next((s for s in steps if s.saturated), None)
    sustained = [s for s in steps if not s.saturated]
    hop_names: list[str] = []
    for step in steps:
        hop_names += [h.name for h in step.hops if h.name not in hop_names]
    charts = [_chart("end to end", rates, [s.end_to_end for s in steps], saturated and saturated.offered_rate)]
    for name in hop_names:
        series = [next((h.latency for h in s.hops if h.name == name), None) for s in steps]
        charts.append(_chart(f"hop: {name}", rates, series, saturated and saturated.offered_rate))
    verdict = (f"Saturated at {saturated.offered_rate:g} runs/s offered ({escape(saturated.reason)}); "
               f"highest rate sustained: {sustained[-1].offered_rate:g} runs/s." if saturated and sustained else
               f"Saturated from the first rate: {escape(saturated.reason)}." if saturated else
               "No saturation up to the highest rate offered.")
    head = ("<tr><th>offered /s</th><th>arrivals</th><th>throughput /s</th><th>errors</th>"
            "<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>CPU ms/run</th><th>loop CPU</th><th>vendor CPU</th><th></th></tr>")
    rows = "".join(
        f"<tr><td>{s.offered_rate:g}</td><td>{s.arrivals}</td><td>{s.throughput:.2f}</td>"
        f"<td title=\"{escape('; '.join(f'{k}: {v}' for k, v in s.error_kinds.items()))}\">{s.errors}</td>"
        f"<td>{_fmt(s.end_to_end.p50)}</td><td>{_fmt(s.end_to_end.p95)}</td><td>{_fmt(s.end_to_end.p99)}</td>"
        f"<td>{_fmt(s.cpu_ms_per_run, 1, 2)}</td><td>{s.loop_cpu_utilisation:.0%}</td>"
        f"<td>{'–' if s.vendor_cpu_utilisation is None else format(s.vendor_cpu_utilisation, '.0%')}</td>"
        f"<td>{'saturated' if s.saturated else ''}</td></tr>" for s in steps)
    hop_head = "<tr><th>offered /s</th><th>hop</th><th>n</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>CPU ms/call</th><th>errors</th></tr>"
    hop_rows = "".join(
        f"<tr><td>{s.offered_rate:g}</td><td>{escape(h.name)}</td><td>{h.latency.n}</td><td>{_fmt(h.latency.p50)}</td>"
        f"<td>{_fmt(h.latency.p95)}</td><td>{_fmt(h.latency.p99)}</td><td>{_fmt(h.cpu_ms_per_call, 1, 2)}</td>"
        f"<td>{h.errors}</td></tr>" for s in steps for h in s.hops)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1120px;color:#222}}
figure{{display:inline-block;margin:0 1em 1em 0}} figcaption{{font-weight:600}}
svg text{{font-size:11px;fill:#444}} .axis{{stroke:#888}} .grid{{stroke:#eee}} .sat{{stroke:#e15759;stroke-dasharray:4 3}}
table{{border-collapse:collapse;margin:1em 0}} td,th{{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}}
td:nth-child(2){{text-align:left}} .note{{color:#666}}
</style></head><body>
<h1>{escape(title)}</h1>
<p>{escape(description)}</p>
<p><strong>{verdict}</strong></p>
<p class="note">{escape(machine)}. Latency is measured from each run's scheduled (Poisson) arrival, so queueing
in the driving process counts. Per-hop CPU: each event-loop step's CPU goes to the hop the runner declared,
else to the hop whose time window holds the step (approximate under overlap). Loop CPU: share of one core the
driving event loop used; vendor CPU: the same for a local simulated vendor's process (near 100%: the vendor,
not the system, is the bottleneck).</p>
{"".join(charts)}
<h2>Per offered rate</h2><table>{head}{rows}</table>
<h2>Per hop</h2><table>{hop_head}{hop_rows}</table>
</body></html>
"""
