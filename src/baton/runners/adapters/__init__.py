"""Adapters: run the user's own system (a Python callable, an HTTP service, a LangGraph graph)
on Baton's tasks, with the run's world served to it over MCP (streamable HTTP on loopback)."""

from baton.runners.adapters import autogen, callable, crewai, http, langgraph  # noqa: F401  (register the adapters; AutoGen/CrewAI load on use)
from baton.runners.adapters.harness import AdapterInfraError, AdapterSession, run_adapter
from baton.runners.adapters.types import AdapterRequest, AdapterResponse, HopEvent

__all__ = ["AdapterInfraError", "AdapterRequest", "AdapterResponse", "AdapterSession", "HopEvent", "run_adapter"]
