"""naive and rag: what each sends to the model, retrieval, pluggable retrievers, the lookup linker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.model import Message, ModelClient, ScriptedClient
from baton.runners import BM25Retriever, Chunk, register_retriever, run_task
from baton.runners.lookup import mentions, plan_lookups
from baton.runners.retrieval import bm25_retriever, chunk_document
from baton.systems import BUILTIN_SYSTEMS, SystemConfig
from baton.task import Document, GoldenTask

TASK_FILE = Path(__file__).resolve().parents[1] / "fixtures/billing/tasks/refund-unauthorized-4471.yaml"


@pytest.fixture(scope="module")
def task() -> GoldenTask:
    return load_tasks(TASK_FILE)[0]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Message], dict[str, Any]]] = []

    def client(self, vendor: str) -> ModelClient:
        def script(messages: Sequence[Message], options: dict[str, Any]) -> str:
            self.calls.append((list(messages), options))
            return "Refunds take 3-5 business days."

        return ScriptedClient(script, vendor=vendor)


async def test_naive_is_one_call_with_the_request_alone(task: GoldenTask) -> None:
    pool = Recorder()
    trace = await run_task(task, BUILTIN_SYSTEMS["naive"], "v", clients=pool)
    assert [(h.kind, h.name) for h in trace.hops] == [("generate", "answer")]
    (messages, options), = pool.calls
    assert messages[-1] == {"role": "user", "content": task.request}
    text = " ".join(m["content"] for m in messages)
    assert "refund" not in messages[0]["content"].lower() and "30 days" not in text
    assert options["tools"] is None
    assert trace.answer == "Refunds take 3-5 business days." and trace.vendors == {"answerer": "v"}
    assert trace.final_state["invoices"]["4471"]["status"] == "paid"


async def test_rag_retrieves_then_answers_without_tools(task: GoldenTask) -> None:
    pool = Recorder()
    trace = await run_task(task, BUILTIN_SYSTEMS["rag"], "v", clients=pool)
    retrieve, answer = trace.hops
    assert retrieve.kind == "retrieve" and answer.kind == "generate"
    assert retrieve.output["record_ids"] == [] and len(retrieve.output["chunks"]) <= 4
    assert {"refund-policy-2026", "unauthorized-charges"} <= set(retrieve.output["doc_ids"])
    (messages, options), = pool.calls
    assert options["tools"] is None
    assert "[refund-policy-2026]" in messages[0]["content"]
    assert not trace.tool_calls() and trace.final_state["invoices"]["4471"]["status"] == "paid"


async def test_rag_params_shape_retrieval(task: GoldenTask) -> None:
    system = SystemConfig(name="rag-1", architecture="rag", params={"top_k": 1, "chunk_size": 30, "chunk_overlap": 5})
    trace = await run_task(task, system, "v", clients=Recorder())
    chunks = trace.hops[0].output["chunks"]
    assert len(chunks) == 1 and len(chunks[0]["text"].split()) <= 30 + 10  # title + window
    bad = SystemConfig(name="rag-bad", architecture="rag", params={"chunk_size": 10, "chunk_overlap": 10})
    with pytest.raises(ConfigError, match="chunk_overlap"):
        await run_task(task, bad, "v", clients=Recorder())


def test_chunks_overlap_and_cover_the_document() -> None:
    doc = Document(id="d", title="T", text=" ".join(f"w{i}" for i in range(25)))
    chunks = chunk_document(doc, chunk_size=10, overlap=3)
    assert [c.text.split()[1] for c in chunks] == ["w0", "w7", "w14", "w21"]
    assert chunks[-1].text.endswith("w24")


def test_bm25_index_is_cached_by_content(task: GoldenTask) -> None:
    first = bm25_retriever(task.documents, {})
    assert bm25_retriever(list(task.documents), {}) is first
    assert bm25_retriever(task.documents, {"chunk_size": 40}) is not first
    assert isinstance(first, BM25Retriever)
    assert first.retrieve("zzz-unknown-words", 3) == []


async def test_a_registered_retriever_replaces_bm25(task: GoldenTask) -> None:
    seen: dict[str, Any] = {}

    class Fixed:
        def retrieve(self, query: str, k: int) -> list[Chunk]:
            seen["query"], seen["k"] = query, k
            return [Chunk("plan-changes", "Plan changes take effect next cycle.", 0.9)]

    @register_retriever("test-fixed")
    def make(documents: Sequence[Document], params: dict[str, Any]) -> Fixed:
        seen["docs"] = len(documents)
        return Fixed()

    system = SystemConfig(name="rag-fixed", architecture="rag", params={"retriever": "test-fixed", "top_k": 2})
    trace = await run_task(task, system, "v", clients=Recorder())
    assert trace.hops[0].output["doc_ids"] == ["plan-changes"]
    assert seen == {"docs": len(task.documents), "query": task.request, "k": 2}
    with pytest.raises(ValueError, match="already registered"):
        register_retriever("test-fixed")(lambda d, p: Fixed())


async def test_a_failing_retriever_is_the_systems_error(task: GoldenTask) -> None:
    class Down:
        def retrieve(self, query: str, k: int) -> list[Chunk]:
            raise ConnectionError("vector database unreachable")

    register_retriever("test-down")(lambda documents, params: Down())
    system = SystemConfig(name="rag-down", architecture="rag", params={"retriever": "test-down"})
    trace = await run_task(task, system, "v", clients=Recorder())
    assert "unreachable" in (trace.hops[0].error or "") and trace.hops[0].output["doc_ids"] == []
    assert trace.hops[1].kind == "generate" and trace.infra_error is None


async def test_unknown_retriever_and_architecture_are_config_errors(task: GoldenTask) -> None:
    with pytest.raises(ConfigError, match="unknown retriever 'nope'"):
        await run_task(task, SystemConfig(name="x", architecture="rag", params={"retriever": "nope"}), "v",
                       clients=Recorder())
    with pytest.raises(ConfigError, match="unknown architecture 'nope'.*multi_agent"):
        await run_task(task, SystemConfig(name="x", architecture="nope"), "v", clients=Recorder())


def test_lookup_links_mentions_to_read_tools(task: GoldenTask) -> None:
    assert [m.value for m in mentions(task)] == ["4471"]
    plan = plan_lookups(task, limit=3)
    assert [(p.tool, p.param, p.value, p.collection) for p in plan] == [("get_invoice", "invoice_id", "4471", "invoices")]
    money = task.model_copy(update={"request": "You charged me $19 twice on June 11, account C-1001."})
    assert [(p.tool, p.value) for p in plan_lookups(money, limit=3)] == [("get_customer", "C-1001")]


async def test_rag_isolated_modes_retrieve_alone_and_draft_from_the_gold_documents(task: GoldenTask) -> None:
    alone = await run_task(task, BUILTIN_SYSTEMS["rag"], "v", clients=Recorder(), mode="isolated:retrieve")
    assert [(h.kind, h.isolated) for h in alone.hops] == [("retrieve", True)] and alone.answer == ""
    recorder = Recorder()
    drafted = await run_task(task, BUILTIN_SYSTEMS["rag"], "v", clients=recorder, mode="isolated:draft")
    (hop,) = drafted.hops
    gold_docs = [e for e in task.gold.evidence if "/" not in e]
    # the same retriever over the gold documents only: every chunk the drafter sees is gold
    assert hop.isolated and hop.input["doc_ids"] and set(hop.input["doc_ids"]) <= set(gold_docs)
    assert drafted.answer == "Refunds take 3-5 business days."
    system = await run_task(task, BUILTIN_SYSTEMS["rag"], "v", clients=Recorder())
    assert set(system.hops[0].output["doc_ids"]) - set(gold_docs)  # the real retriever brings in others
