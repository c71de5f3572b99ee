"""Baton's simulated vendor: a deterministic stand-in model over real HTTP (OpenAI wire format).

Two layers: ``server`` (transport: HTTP, latency, 429/500/timeouts) with ``behaviour`` (one
request in, a response or fault out), and the pluggable behaviour itself, by default ``oracle``:
a model that knows the gold of the task a request belongs to (``tasks``) and nothing about any
domain, bounded by what its messages show (``seen``), making mistakes at the rates of ``knobs``."""

from baton.sim.behaviour import Behaviour, respond
from baton.sim.knobs import SimKnobs
from baton.sim.oracle import Oracle
from baton.sim.server import SimServer, create_app, sim_models
from baton.sim.tasks import TaskBook

__all__ = ["Behaviour", "Oracle", "SimKnobs", "SimServer", "TaskBook", "create_app", "respond", "sim_models"]
