"""Progress of a run: the engine's running totals, and how they are shown.

The engine keeps a :class:`Tally` (counts and spend, never the results themselves) and calls a
:class:`ProgressReporter` as runs are durably stored. :func:`default_progress` shows a rich
progress bar on stderr when it is a terminal and stays quiet otherwise (CI logs, pipes).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from rich.progress import TaskID

__all__ = ["NullProgress", "ProgressReporter", "RichProgress", "Tally", "default_progress"]


@dataclass(slots=True)
class Tally:
    """Running totals of a matrix run. ``resumed`` counts results stored by an earlier session.
    ``cells``: the (system, mode, vendor) combinations the runs span; a pass rate is shown only for
    one, since a rate pooled over systems, vendors and isolated-hop runs measures nothing."""

    total: int = 0
    resumed: int = 0
    done: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    cached_calls: int = 0
    cells: int = 1
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        """Results stored, this session and earlier ones."""
        return self.resumed + self.done

    @property
    def remaining(self) -> int:
        return max(self.total - self.finished, 0)

    def add(self, status: str, cost_usd: float = 0.0, calls: int = 0, cached_calls: int = 0) -> None:
        if status == "passed":
            self.passed += 1
        elif status == "failed":
            self.failed += 1
        else:
            self.errors += 1
        self.cost_usd += cost_usd
        self.calls += calls
        self.cached_calls += cached_calls

    def stats(self) -> str:
        graded = self.passed + self.failed
        rate = f" ({self.passed / graded:.0%})" if graded and self.cells == 1 else ""
        return (f"passed {self.passed}{rate} · failed {self.failed} · infra errors {self.errors} · "
                f"${self.cost_usd:.4f}")


class ProgressReporter(Protocol):
    """What the engine tells a progress display."""

    def start(self, tally: Tally) -> None: ...

    def update(self, tally: Tally) -> None: ...

    def stop(self, tally: Tally) -> None: ...


class NullProgress:
    """Shows nothing."""

    def start(self, tally: Tally) -> None:
        return None

    def update(self, tally: Tally) -> None:
        return None

    def stop(self, tally: Tally) -> None:
        return None


class RichProgress:
    """A rich progress bar: runs done/total, successes, infra errors, spend, ETA."""

    def __init__(self, stream: TextIO | None = None, description: str = "baton run") -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=Console(file=stream or sys.stderr), transient=False,
            refresh_per_second=4)
        self._description = description
        self._task_id: TaskID | None = None

    def start(self, tally: Tally) -> None:
        self._progress.start()
        self._task_id = self._progress.add_task(self._description, total=tally.total,
                                                completed=tally.resumed, stats=tally.stats())

    def update(self, tally: Tally) -> None:
        if self._task_id is not None:
            self._progress.update(self._task_id, completed=tally.finished, stats=tally.stats())

    def stop(self, tally: Tally) -> None:
        self.update(tally)
        self._progress.stop()


def default_progress(stream: TextIO | None = None) -> ProgressReporter:
    """A :class:`RichProgress` when ``stream`` (default stderr) is a terminal, else :class:`NullProgress`."""
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return RichProgress(stream)
    return NullProgress()
