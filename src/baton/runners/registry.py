"""The architectures registry: each architecture, the hops it can run isolated.

An architecture registers with :func:`register_architecture` (or, from a third-party package,
through the ``baton.architectures`` entry-point group or a ``baton.plugins`` module). The hops it
declares in ``isolated_hops`` are the isolated-component modes (``isolated:<hop>``) it can run;
:func:`isolated_hops` is the one list of them every command validates against (the generic
:class:`~baton.registry.Registry` lives in :mod:`baton.registry`).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from baton.registry import Registry, import_target, spec_or_function

if TYPE_CHECKING:
    from baton.runners.context import RunContext

__all__ = ["ARCHITECTURES", "Architecture", "Registry", "import_target", "isolated_hops", "isolated_modes",
           "register_architecture"]


@dataclass(frozen=True, slots=True)
class Architecture:
    """A registered architecture: ``run`` fills the run's trace through its :class:`RunContext`.

    ``isolated_hops`` lists the hops that can run in isolated-component mode."""

    name: str
    run: Callable[[RunContext], Awaitable[None]]
    isolated_hops: tuple[str, ...] = ()
    description: str = ""


_as_architecture = spec_or_function("architecture", Architecture, lambda name, fn: Architecture(name, fn),  # type: ignore[arg-type]
                                    "an Architecture or an async function")


def _import_builtins() -> None:
    importlib.import_module("baton.runners")


ARCHITECTURES: Registry[Architecture] = Registry("architecture", "baton.architectures", convert=_as_architecture,
                                                 builtins=_import_builtins)


_PIPELINE_ORDER = {hop: i for i, hop in enumerate(("route", "retrieve", "draft", "act", "verify"))}


def isolated_hops() -> tuple[str, ...]:
    """Every hop some registered architecture can run isolated: the pipeline's own hops in pipeline
    order, then other architectures' hops in registration order."""
    declared = dict.fromkeys(hop for _, arch in ARCHITECTURES.items() for hop in arch.isolated_hops)
    return tuple(sorted(declared, key=lambda hop: _PIPELINE_ORDER.get(hop, len(_PIPELINE_ORDER))))


def isolated_modes() -> tuple[str, ...]:
    """``isolated:<hop>`` for each hop of :func:`isolated_hops`."""
    return tuple(f"isolated:{hop}" for hop in isolated_hops())


def register_architecture(name: str, *, isolated_hops: tuple[str, ...] = (), description: str = ""
                          ) -> Callable[[Callable[[RunContext], Awaitable[None]]],
                                        Callable[[RunContext], Awaitable[None]]]:
    """Decorator: register ``async def run(ctx: RunContext) -> None`` as architecture ``name``.

    Third-party architectures may instead expose an :class:`Architecture` through the
    ``baton.architectures`` entry-point group."""

    def decorate(run: Callable[[RunContext], Awaitable[None]]) -> Callable[[RunContext], Awaitable[None]]:
        doc = (run.__doc__ or "").strip().splitlines()
        ARCHITECTURES.add(name, Architecture(name, run, isolated_hops, description or (doc[0] if doc else "")))
        return run

    return decorate
