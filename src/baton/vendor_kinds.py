"""Vendor kinds: what ``kind = "..."`` in a vendor profile means.

A kind says whether its vendor is simulated (results labelled simulated) and, for an *embedded*
vendor that Baton serves itself when the profile gives no ``base_url``, how to start it: ``start``
returns a running :class:`EmbeddedVendor` (its OpenAI-compatible ``base_url``, ``astop``, ``stop``).
Built-ins: ``openai`` (any OpenAI-compatible endpoint at ``base_url``), ``sim`` (Baton's simulated
vendor: one server for every sim profile of a run) and ``local`` (the embedded llama.cpp model).
A user adds one with :func:`register_vendor_kind` or the ``baton.vendor_kinds`` entry-point group::

    @register_vendor_kind("my_gateway", description="our in-house gateway, started per run")
    async def start(profile, context):
        server = MyGateway(profile.model); await server.astart()
        return server          # has .base_url, async astop(), stop()

This module is light (profiles validate their kind against it); the servers import on start.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from baton.errors import ConfigError
from baton.registry import Registry, spec_or_function

if TYPE_CHECKING:
    from baton.task import GoldenTask
    from baton.vendors import VendorProfile


class EmbeddedVendor(Protocol):
    """A running embedded vendor."""

    @property
    def base_url(self) -> str: ...

    async def astop(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StartContext:
    """What a starting embedded vendor may use: every profile of the run and the run's tasks."""

    profiles: Mapping[str, VendorProfile]
    tasks: Iterable[GoldenTask]


StartFn = Callable[["VendorProfile", StartContext], Awaitable[EmbeddedVendor]]


@dataclass(frozen=True, slots=True)
class VendorKind:
    """A registered vendor kind.

    ``start``: None for a remote endpoint (the profile must give ``base_url``). ``shared``: one
    server for every profile of this kind (else one per profile). ``simulated``: its answers are
    simulated, and calls carry the task they belong to (the header a simulator reads).
    ``add_tasks``: tell a running shared server about more tasks. ``identity``: what besides the
    profile's name determines its answers (part of the response-cache key)."""

    name: str
    start: StartFn | None = None
    simulated: bool = False
    shared: bool = False
    add_tasks: Callable[[Any, list[GoldenTask]], None] | None = None
    identity: Callable[[VendorProfile], str] | None = None
    description: str = field(default="")


_as_kind = spec_or_function("vendor kind", VendorKind, lambda name, fn: VendorKind(name, fn),  # type: ignore[arg-type]
                            "a VendorKind or an async start(profile, context)")


VENDOR_KINDS: Registry[VendorKind] = Registry("vendor kind", "baton.vendor_kinds", convert=_as_kind, targets=False)


def kind_of(profile: VendorProfile) -> VendorKind:
    """The registered kind of ``profile``; an unknown kind is a :class:`ConfigError` naming the profile."""
    if profile.kind not in VENDOR_KINDS:
        raise ConfigError(f"vendor profile '{profile.name}': kind: {VENDOR_KINDS.unknown_message(profile.kind)}")
    return VENDOR_KINDS.get(profile.kind)


def register_vendor_kind(name: str, *, simulated: bool = False, shared: bool = False, description: str = "",
                         identity: Callable[[VendorProfile], str] | None = None
                         ) -> Callable[[StartFn], StartFn]:
    """Decorator: register ``async start(profile, context) -> EmbeddedVendor`` as vendor kind ``name``."""

    def decorate(start: StartFn) -> StartFn:
        VENDOR_KINDS.add(name, VendorKind(name, start, simulated=simulated, shared=shared,
                                          identity=identity, description=description))
        return start

    return decorate


# --- built-ins ---------------------------------------------------------------------------------

VENDOR_KINDS.add("openai", VendorKind("openai", description="any OpenAI-compatible endpoint at base_url"))


async def _start_sim(profile: VendorProfile, context: StartContext) -> EmbeddedVendor:
    from baton.sim.server import SimServer

    server = SimServer.from_profiles(context.profiles, tasks=context.tasks)
    await server.astart()
    return server


def _sim_identity(profile: VendorProfile) -> str:
    from baton.client import sim_code_fingerprint

    return f"sim:{sim_code_fingerprint()}|{json.dumps(profile.sim, sort_keys=True, default=str)}"


VENDOR_KINDS.add("sim", VendorKind(
    "sim", _start_sim, simulated=True, shared=True, add_tasks=lambda server, tasks: server.tasks.add(tasks),
    identity=_sim_identity, description="Baton's simulated vendor, served on loopback for the run"))


class _LocalServer:
    """The embedded local model behind the :class:`EmbeddedVendor` protocol."""

    def __init__(self, server: Any) -> None:
        self._server = server

    @property
    def base_url(self) -> str:
        return str(self._server.base_url)

    async def astop(self) -> None:
        await asyncio.to_thread(self._server.stop)

    def stop(self) -> None:
        self._server.stop()

    def __getattr__(self, name: str) -> Any:  # pid, model path...: the server's own attributes
        return getattr(self._server, name)


async def _start_local(profile: VendorProfile, context: StartContext) -> EmbeddedVendor:
    from baton.local_model import LocalModelServer

    server = LocalModelServer.from_profile(profile)
    await asyncio.to_thread(server.start)
    return _LocalServer(server)


VENDOR_KINDS.add("local", VendorKind(
    "local", _start_local, identity=lambda p: f"local:{json.dumps(p.local, sort_keys=True, default=str)}",
    description="the embedded local model (llama.cpp server over a GGUF file)"))
