"""The state of one run while an architecture executes: the task, the world, the trace being built.

Architectures talk to models only through :meth:`RunContext.chat`, which records a hop per call
(vendor, model, usage, latency, errors) and turns an infrastructure failure into
:class:`RunStopped` after recording it, so a run never raises for a vendor failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from baton.call_context import current_call, calling_as
from baton.errors import ConfigError
from baton.model import ChatResponse, InfraError, Message, ModelClient
from baton.systems import SystemConfig
from baton.task import GoldenTask
from baton.trace import Hop, HopKind, Trace, Usage
from baton.world import World

SYSTEM_MODE = "system"


class ClientSource(Protocol):
    """Anything that hands out a model client per vendor profile (``baton.client.ClientPool``)."""

    def client(self, vendor: str) -> ModelClient: ...


class RunStopped(Exception):
    """Raised inside an architecture when the run cannot go on (already recorded in the trace)."""


def parse_mode(mode: str) -> str | None:
    """The isolated hop of ``mode`` ('isolated:act' -> 'act'), or None for 'system'."""
    if mode == SYSTEM_MODE:
        return None
    from baton.runners.registry import isolated_hops

    prefix, _, hop = mode.partition(":")
    if prefix != "isolated" or hop not in (hops := isolated_hops()):
        raise ConfigError(f"mode: expected 'system' or 'isolated:<hop>' with hop one of "
                          f"{', '.join(hops)}; got {mode!r}")
    return hop


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def call_seed(seed: int, trial: int) -> int:
    """The seed sent with every model call of a run: distinct per (seed, trial)."""
    return (seed * 1_000_003 + trial) % 2**31


@dataclass
class RunContext:
    """One run in progress. ``trace`` is filled as hops happen."""

    task: GoldenTask
    system: SystemConfig
    vendor: str
    clients: ClientSource
    trace: Trace
    world_factory: Callable[[], World]
    trial: int = 0
    seed: int = 0
    isolated: str | None = None
    unattributed: Usage = field(default_factory=Usage)  # model usage no hop carries (adapters)
    _clients: dict[str, ModelClient] = field(default_factory=dict)
    _world: World | None = None

    @property
    def world(self) -> World:
        """The task's sandboxed systems, made on first use (most calls never touch them)."""
        if self._world is None:
            self._world = self.world_factory()
        return self._world

    @property
    def world_started(self) -> bool:
        """Whether :attr:`world` was ever used (else its state is still the task's initial one)."""
        return self._world is not None

    @property
    def params(self) -> dict[str, Any]:
        return self.system.params

    def param(self, name: str, default: Any, kind: type | tuple[type, ...] | None = None) -> Any:
        """``system.params[name]`` or ``default``; a wrong type is a clear configuration error."""
        value = self.system.params.get(name, default)
        expected = kind or type(default)
        wrong = not isinstance(value, expected) or (isinstance(value, bool) and bool not in _as_tuple(expected))
        if value is not None and wrong:
            raise ConfigError(f"system {self.system.name!r}: params.{name}: expected "
                              f"{getattr(expected, '__name__', expected)}, got {value!r}")
        return value

    def vendor_of(self, role: str) -> str:
        name = self.system.vendor_for(role, self.vendor)
        self.trace.vendors[role] = name
        return name

    def client_for(self, role: str) -> ModelClient:
        """The client playing ``role`` (recorded in ``trace.vendors``; marks simulated runs)."""
        vendor = self.vendor_of(role)
        client = self._clients.get(vendor)
        if client is None:
            client = self.clients.client(vendor)
            self._clients[vendor] = client
        if client.simulated:
            self.trace.simulated = True
        return client

    def add(self, hop: Hop) -> Hop:
        self.trace.hops.append(hop)
        return hop

    def stop(self, hop: Hop, message: str) -> RunStopped:
        """Record an infrastructure failure on ``hop`` and the trace; return the exception to raise."""
        hop.error = message
        hop.infra_error = True
        self.trace.infra_error = message
        return RunStopped(message)

    async def chat(self, role: str, *, kind: HopKind, name: str, messages: Sequence[Message],
                   hop_input: dict[str, Any] | None = None, tools: Sequence[dict[str, Any]] | None = None,
                   schema: dict[str, Any] | None = None, schema_name: str = "output",
                   max_tokens: int | None = None, isolated: bool = False) -> tuple[ChatResponse, Hop]:
        """One model call as one hop (appended to the trace; the caller fills ``hop.output``).

        Raises :class:`RunStopped` when the vendor fails after its retries."""
        client = self.client_for(role)
        hop = self.add(Hop(kind=kind, name=name, vendor=client.vendor_name, model=client.model_name,
                           input=hop_input or {}, isolated=isolated))
        started = time.perf_counter()
        run = current_call.get()
        try:
            with calling_as(run.for_hop(name) if run is not None else None):
                response = await client.chat(messages, tools=tools, schema=schema, schema_name=schema_name,
                                             temperature=self.param("temperature", 0.0, (int, float)),
                                             max_tokens=max_tokens, seed=call_seed(self.seed, self.trial))
        except InfraError as exc:
            hop.latency_s = time.perf_counter() - started
            raise self.stop(hop, f"{role} ({client.vendor_name}): {exc}") from exc
        except Exception as exc:  # a client that fails outside its contract is still the vendor side
            hop.latency_s = time.perf_counter() - started
            raise self.stop(hop, f"{role} ({client.vendor_name}): {type(exc).__name__}: {exc}") from exc
        hop.latency_s = response.latency_s or (time.perf_counter() - started)
        hop.usage = response.usage.model_copy()
        hop.vendor = response.vendor or hop.vendor
        hop.model = response.model or hop.model
        hop.error = response.error
        hop.truncated = response.finish_reason == "length"
        return response, hop
