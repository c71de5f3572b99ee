"""Which run, trial and hop a model call belongs to.

Baton's own model clients send this context with every request (HTTP header :data:`HEADER`, a
compact JSON object) so that a vendor double such as the simulated vendor can look up the task a
request belongs to, and so that traces and exported spans can be joined to runs. The context of the
call in progress lives in a :class:`contextvars.ContextVar`, set by the runner around each hop and
read by the client; adapters' nodes inherit it without any glue.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace

HEADER = "X-Baton-Run"


@dataclass(frozen=True, slots=True)
class CallContext:
    """The run a model call is part of: task, version, trial, seed, mode and the hop making it."""

    task_id: str
    task_version: int
    trial: int = 0
    seed: int = 0
    mode: str = "system"
    hop: str | None = None

    def for_hop(self, hop: str | None) -> CallContext:
        return replace(self, hop=hop)

    def to_header(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_header(cls, value: str) -> CallContext:
        """Parse :data:`HEADER`; raises ValueError naming what was expected."""
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"{HEADER}: expected a JSON object, got {value[:80]!r}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("task_id"), str):
            raise ValueError(f"{HEADER}: expected a JSON object with a string 'task_id'")
        known = {"task_id", "task_version", "trial", "seed", "mode", "hop"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{HEADER}: unknown keys {unknown}; expected {sorted(known)}")
        try:
            return cls(task_id=data["task_id"], task_version=int(data.get("task_version", 1)),
                       trial=int(data.get("trial", 0)), seed=int(data.get("seed", 0)),
                       mode=str(data.get("mode", "system")), hop=data.get("hop"))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{HEADER}: task_version, trial and seed must be integers ({exc})") from exc


current_call: ContextVar[CallContext | None] = ContextVar("baton_current_call", default=None)


@contextlib.contextmanager
def calling_as(context: CallContext | None) -> Iterator[None]:
    """Make ``context`` the current call context inside the block."""
    token = current_call.set(context)
    try:
        yield
    finally:
        current_call.reset(token)
