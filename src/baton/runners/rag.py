"""rag: retrieve from the task's documents, then one call with that context. It cannot act.

Isolated-component mode: ``retrieve`` alone (it has no upstream hop), and ``draft``: the answer
written from what a perfect retriever would return: the same retriever and query run over the gold
evidence documents only, so the drafter sees gold evidence in the form it always gets.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from baton.errors import BatonError
from baton.runners import prompts
from baton.runners.context import RunContext
from baton.runners.registry import register_architecture
from baton.runners.retrieval import Chunk, make_retriever, top_k
from baton.task import Document
from baton.trace import Hop


def retrieval_query(ctx: RunContext, *extra: str) -> str:
    """The customer's turns (conversation and request) plus ``extra`` terms."""
    turns = [t.content for t in ctx.task.conversation if t.role == "user"]
    return " ".join([*turns, ctx.task.request, *extra])


def retrieve_documents(ctx: RunContext, query: str, default_k: int | None = None,
                       documents: Sequence[Document] | None = None) -> tuple[list[Chunk], str | None, float]:
    """Rank the task's document chunks for ``query``: (chunks, error, seconds). ``params.top_k``
    wins over ``default_k`` (the architecture's default), which wins over the retriever's.

    A retriever that fails at run time (a hosted index down) is the system's failure, recorded
    on the hop; a misconfigured one is a :class:`ConfigError`."""
    started = time.perf_counter()
    retriever = make_retriever(list(ctx.task.documents if documents is None else documents), ctx.params)
    try:
        k = top_k(ctx.params) if "top_k" in ctx.params or default_k is None else default_k
        chunks = list(retriever.retrieve(query, k))
    except BatonError:
        raise
    except Exception as exc:
        return [], f"retriever failed: {type(exc).__name__}: {exc}", time.perf_counter() - started
    return chunks, None, time.perf_counter() - started


@register_architecture("rag", isolated_hops=("retrieve", "draft"))
async def run_rag(ctx: RunContext) -> None:
    """BM25 retrieval over the task's documents, then one call with the context."""
    if ctx.isolated == "draft":
        gold = set(ctx.task.gold.evidence)
        documents = [d for d in ctx.task.documents if d.id in gold]
        chunks, error = ([], None) if not documents else \
            retrieve_documents(ctx, retrieval_query(ctx), documents=documents)[:2]
        doc_ids = list(dict.fromkeys(c.doc_id for c in chunks))
        response, hop = await ctx.chat("answerer", kind="generate", name="answer", isolated=True,
                                       messages=prompts.rag(ctx.task, chunks),
                                       hop_input={"doc_ids": doc_ids, "gold_evidence": True})
        hop.output = {"text": response.text}
        hop.error = hop.error or error
        ctx.trace.answer = response.text
        return
    isolated = ctx.isolated == "retrieve"
    query = retrieval_query(ctx)
    chunks, error, seconds = retrieve_documents(ctx, query)
    doc_ids = list(dict.fromkeys(c.doc_id for c in chunks))
    ctx.add(Hop(kind="retrieve", name="retrieve", input={"query": query}, latency_s=seconds, error=error,
                output={"doc_ids": doc_ids, "record_ids": [], "chunks": [c.as_dict() for c in chunks]},
                isolated=isolated))
    if isolated:
        return
    response, hop = await ctx.chat("answerer", kind="generate", name="answer",
                                   messages=prompts.rag(ctx.task, chunks), hop_input={"doc_ids": doc_ids})
    hop.output = {"text": response.text}
    ctx.trace.answer = response.text
