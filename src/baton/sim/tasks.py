"""The task set a simulated vendor serves: which gold a request's ``X-Baton-Run`` header points at."""

from __future__ import annotations

from collections.abc import Iterable

from baton.call_context import HEADER, CallContext
from baton.task import GoldenTask

USAGE = (f"The simulated vendor answers as a model that knows the gold of a Baton task, so every request "
         f"must say which task it belongs to: send the header {HEADER} with a JSON object such as "
         '{"task_id": "<domain>/<slug>", "task_version": 1, "trial": 0, "hop": "route"} naming a task '
         "loaded into this server. Baton's own clients send it for you (baton run, pytest evals/, "
         "adapters given clients by Baton); to call it by hand, start it with "
         "`baton sim serve --port PORT --fixtures DIR` and add the header.")


class UnknownTask(LookupError):
    """The request names no task, or one this server was not given (message: what to do)."""


class TaskBook:
    """Golden tasks by (id, version); more can be added while the server runs."""

    def __init__(self, tasks: Iterable[GoldenTask] = ()) -> None:
        self._tasks: dict[tuple[str, int], GoldenTask] = {}
        self.add(tasks)

    def add(self, tasks: Iterable[GoldenTask]) -> None:
        for task in tasks:
            self._tasks[(task.id, task.version)] = task

    def __len__(self) -> int:
        return len(self._tasks)

    def resolve(self, header: str | None) -> tuple[GoldenTask, CallContext]:
        """The task ``header`` (the raw :data:`HEADER` value) names; raises :class:`UnknownTask`."""
        if not header:
            raise UnknownTask(f"missing header {HEADER}. {USAGE}")
        try:
            context = CallContext.from_header(header)
        except ValueError as exc:
            raise UnknownTask(f"{exc}. {USAGE}") from None
        task = self._tasks.get((context.task_id, context.task_version))
        if task is None:
            versions = sorted(v for (tid, v) in self._tasks if tid == context.task_id)
            known = (f"this server has versions {versions} of that task" if versions else
                     f"this server holds {len(self._tasks)} task(s), not that one")
            raise UnknownTask(f"{HEADER} names task {context.task_id!r} version {context.task_version}, but "
                              f"{known}. Start the simulated vendor with the task set you run.")
        return task, context
