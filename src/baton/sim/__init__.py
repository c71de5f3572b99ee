"""Baton's simulated vendor: a deterministic stand-in model over real HTTP (OpenAI wire format).

``behaviour`` is the pure function (request, knobs, seed -> response or fault); ``server`` serves
it; ``knobs`` holds the per-profile error, latency and fault rates."""

from baton.sim.behaviour import respond
from baton.sim.knobs import SimKnobs
from baton.sim.server import SimServer, create_app, sim_models

__all__ = ["SimKnobs", "SimServer", "create_app", "respond", "sim_models"]
