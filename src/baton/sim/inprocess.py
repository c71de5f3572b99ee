"""The simulated vendor called in process: the same behaviour and wire format, without HTTP.

:class:`InProcessPool` is a drop-in :class:`baton.runners.context.ClientSource` for the runners
whose clients build the same request body :class:`baton.client.VendorClient` sends and hand it to
:func:`baton.sim.behaviour.respond` directly, with the task named by the current
:class:`~baton.call_context.CallContext`. It skips latency and transport faults (429, 500,
timeouts: those need the server), so it suits many fast runs: what-if sweeps and calibration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from baton.call_context import current_call
from baton.client import VendorClient
from baton.errors import ConfigError
from baton.model import InfraError
from baton.sim.behaviour import BadRequest, respond
from baton.sim.knobs import SimKnobs
from baton.sim.tasks import TaskBook, UnknownTask
from baton.task import GoldenTask
from baton.vendor_config import resolve
from baton.vendors import VendorProfile


async def _no_endpoint() -> str:
    return "in-process"


class InProcessSimClient(VendorClient):
    """A :class:`VendorClient` whose requests never leave the process."""

    def __init__(self, profile: VendorProfile, book: TaskBook) -> None:
        if profile.kind != "sim":
            raise ConfigError(f"vendor profile '{profile.name}': in-process runs need a simulated profile "
                              f"(kind = \"sim\"), not kind '{profile.kind}'")
        super().__init__(profile, endpoint=_no_endpoint)
        self._book = book
        self._knobs = SimKnobs.model_validate(profile.sim)

    async def _openai(self) -> Any:
        return None

    async def _post(self, client: Any, body: dict[str, Any], attempt: int) -> dict[str, Any]:
        context = current_call.get()
        try:
            task, _ = self._book.resolve(context.to_header() if context is not None else None)
            outcome = respond(body, self._knobs, task, attempt=attempt)
        except (UnknownTask, BadRequest) as exc:
            raise InfraError(f"vendor '{self.vendor_name}' (in process): {exc}") from None
        assert outcome.body is not None  # knobs without transport faults never fault in process
        return outcome.body


class InProcessPool:
    """One in-process client per simulated profile, answering for ``tasks`` (more via :meth:`add_tasks`)."""

    def __init__(self, profiles: Mapping[str, VendorProfile], tasks: Iterable[GoldenTask] = ()) -> None:
        self._profiles = {name: _without_faults(p) for name, p in profiles.items()}
        self._book = TaskBook(tasks)
        self._clients: dict[str, InProcessSimClient] = {}

    def add_tasks(self, tasks: Iterable[GoldenTask]) -> None:
        self._book.add(tasks)

    def client(self, vendor: str) -> InProcessSimClient:
        client = self._clients.get(vendor)
        if client is None:
            client = self._clients[vendor] = InProcessSimClient(resolve(self._profiles, vendor), self._book)
        return client


def _without_faults(profile: VendorProfile) -> VendorProfile:
    if profile.kind != "sim":
        return profile
    sim = {k: v for k, v in (profile.sim or {}).items()
           if k not in ("rate_429", "rate_500", "rate_timeout", "latency_ms", "latency_median_ms", "latency_p95_ms")}
    return profile.model_copy(update={"sim": sim})
