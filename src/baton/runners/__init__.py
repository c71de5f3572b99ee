"""The systems under test: naive, rag, multi_agent, and adapters for the user's own system.

``run_task(task, system, vendor, clients=..., trial=, seed=, mode=)`` runs one task and returns
its :class:`~baton.trace.Trace`. Architectures live in :data:`ARCHITECTURES`
(:func:`register_architecture`); retrievers in :data:`RETRIEVERS` (:func:`register_retriever`).
"""

from baton.runners import multi_agent, naive, rag  # noqa: F401  (register the built-ins)
from baton.runners.adapters import AdapterRequest, AdapterResponse, HopEvent
from baton.runners.context import ClientSource, RunContext, RunStopped
from baton.runners.mcp_world import ToolOutcome, ToolSession, serve_world_http, world_server
from baton.runners.registry import ARCHITECTURES, Architecture, register_architecture
from baton.runners.retrieval import RETRIEVERS, BM25Retriever, Chunk, Retriever, register_retriever
from baton.runners.run import architecture, run_task, supports_mode

__all__ = [
    "ARCHITECTURES", "RETRIEVERS", "AdapterRequest", "AdapterResponse", "Architecture", "BM25Retriever",
    "Chunk", "ClientSource", "HopEvent", "Retriever", "RunContext", "RunStopped", "ToolOutcome",
    "ToolSession", "architecture", "register_architecture", "register_retriever", "run_task",
    "serve_world_http", "supports_mode", "world_server",
]
