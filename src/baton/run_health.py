"""Infrastructure errors of a finished run, per configuration, and whether they sink it.

Infrastructure errors (a vendor down, a key missing) are never counted as system failures, so a
run in which every call failed has no failures at all — it must not look like a result. After a
run, :func:`error_report` reads the run directory once and gives, per configuration (system @
vendor, mode), how many runs ended in an infrastructure error, and per vendor the most common
error message, so the terminal names the cause. A configuration *fails* when its error rate is
above ``max_error_rate``; by default (None) only when all of its runs errored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from baton.redact import redact
from baton.store import iter_results

__all__ = ["ConfigHealth", "ErrorReport", "error_report"]


@dataclass(frozen=True)
class ConfigHealth:
    """Runs and infrastructure errors of one configuration."""

    label: str
    vendor: str
    runs: int
    errors: int

    @property
    def rate(self) -> float:
        return self.errors / self.runs if self.runs else 0.0

    def fails(self, max_error_rate: float | None) -> bool:
        if max_error_rate is None:
            return self.runs > 0 and self.errors == self.runs
        return self.rate > max_error_rate


@dataclass
class ErrorReport:
    """Per-configuration error counts and each vendor's most common error messages."""

    configs: list[ConfigHealth]
    messages: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(c.errors for c in self.configs)

    def failing(self, max_error_rate: float | None = None) -> list[ConfigHealth]:
        return [c for c in self.configs if c.fails(max_error_rate)]

    def causes(self) -> list[str]:
        """One line per vendor with errors: its most common error message and how often."""
        lines = []
        for vendor in sorted(self.messages):
            counts = self.messages[vendor]
            message, count = counts.most_common(1)[0]
            total = sum(counts.values())
            others = f" ({total - count} other errors)" if total > count else ""
            lines.append(f"{vendor}: {count}x {message}{others}")
        return lines

    def describe(self, max_error_rate: float | None = None) -> str:
        """What went wrong, for a terminal: the failing configurations and the causes."""
        failing = self.failing(max_error_rate)
        limit = "all of their runs" if max_error_rate is None else f"more than {max_error_rate:.0%} of their runs"
        parts = []
        if failing:
            parts.append(f"{len(failing)} of {len(self.configs)} configurations ended in infrastructure errors "
                         f"on {limit}:")
            parts += [f"  {c.label}: {c.errors}/{c.runs} runs" for c in failing]
        parts.append("most common infrastructure error per vendor:")
        parts += [f"  {line}" for line in self.causes()]
        return "\n".join(parts)


def error_report(run_dir: Path | str) -> ErrorReport:
    """Count runs and infrastructure errors per configuration in a run directory (latest record
    of each key), streaming its results."""
    runs: Counter[tuple[str, str, str]] = Counter()
    errors: Counter[tuple[str, str, str]] = Counter()
    messages: dict[str, Counter[str]] = {}
    for result in iter_results(run_dir):
        key = result.key
        config = (key.system, key.vendor, key.mode)
        runs[config] += 1
        if result.status == "error":
            errors[config] += 1
            message = redact(result.trace.infra_error or "infrastructure error (no message)")
            messages.setdefault(key.vendor, Counter())[_first_line(message)] += 1
    configs = [ConfigHealth(label=f"{system} @ {vendor}" + ("" if mode == "system" else f" [{mode}]"),
                            vendor=vendor, runs=n, errors=errors[(system, vendor, mode)])
               for (system, vendor, mode), n in sorted(runs.items())]
    return ErrorReport(configs, messages)


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= limit else line[: limit - 3] + "..."
