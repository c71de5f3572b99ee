"""Baton's simulated vendor: a deterministic stand-in model over real HTTP (OpenAI wire format).

Two layers: ``server`` (transport: HTTP, latency, 429/500/timeouts) with ``behaviour`` (one
request in, a response or fault out), and the pluggable behaviour itself, by default ``oracle``:
a model that knows the gold of the task a request belongs to (``tasks``) and nothing about any
domain, bounded by what its messages show (``seen``), making mistakes at the rates of ``knobs``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton.sim.behaviour import Behaviour, respond
    from baton.sim.knobs import SimKnobs
    from baton.sim.oracle import Oracle
    from baton.sim.server import SimServer, create_app, sim_models
    from baton.sim.tasks import TaskBook

# Names are imported on first use (PEP 562), so reading a profile's ``SimKnobs`` does not load
# the HTTP server (uvicorn, starlette) and the graders the oracle uses.
_LAZY = {"Behaviour": "behaviour", "respond": "behaviour", "SimKnobs": "knobs", "Oracle": "oracle",
         "SimServer": "server", "create_app": "server", "sim_models": "server", "TaskBook": "tasks"}

__all__ = ["Behaviour", "Oracle", "SimKnobs", "SimServer", "TaskBook", "create_app", "respond", "sim_models"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"baton.sim.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'baton.sim' has no attribute {name!r}")
