"""The article's router graph as written (sync one-argument nodes, its own keys, its own OpenAI
client) through the LangGraph adapter and Baton's model gateway, against the simulated vendor
over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.client import ClientPool
from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.matrix import load_systems, plan_run
from baton.runners import run_task
from baton.runners.adapters.langgraph import check_system
from baton.systems import SystemConfig
from baton.vendor_config import builtin_profiles

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
TARGET = f"{ROOT}/examples/article_router/graph.py:app"
PARAMS = {"target": TARGET, "input_key": "query", "answer_key": "answer", "verdict_key": "verified",
          "models": {"small-model": "sim-small", "frontier-model": "sim-frontier"}}
PURPOSES = {"route": "model_select", "fast_model": "draft", "frontier_model": "draft", "verify": "verify"}


def system(**params) -> SystemConfig:
    return SystemConfig(name="article", architecture="langgraph", params={**PARAMS, **params},
                        hop_purposes=PURPOSES)


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(ROOT / "fixtures" / "billing")


async def test_article_graph_runs_as_written_with_per_node_models(tasks):
    short = next(t for t in tasks if len(t.request) < 80 and "?" in t.request and not t.conversation)
    long = next(t for t in tasks if len(t.request) >= 80 and not t.conversation)
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        fast = await run_task(short, system(), "sim-frontier", clients=pool)
        slow = await run_task(long, system(), "sim-frontier", clients=pool)
    for trace, branch, vendor in ((fast, "fast_model", "sim-small"), (slow, "frontier_model", "sim-frontier")):
        assert trace.infra_error is None, trace.infra_error
        assert [(h.kind, h.name) for h in trace.hops] == [("route", "route"), ("generate", branch),
                                                          ("verify", "verify")]
        route, draft, verify = trace.hops
        assert route.output["route"] == branch and route.purpose == "model_select" and route.usage.calls == 0
        assert (draft.vendor, draft.purpose) == (vendor, "draft")
        assert draft.usage.calls == 1 and draft.usage.input_tokens > 0 and draft.usage.cost_usd > 0
        assert draft.output["text"] == trace.answer and trace.answer
        assert verify.output["verdict"] in ("pass", "fail") and verify.vendor == "sim-frontier"
        assert verify.usage.calls == 1 and verify.purpose == "verify"
        assert trace.simulated


async def test_graph_client_pointed_at_the_runs_url(tasks, tmp_path):
    (tmp_path / "url_graph.py").write_text(
        "from typing_extensions import TypedDict\n"
        "from langgraph.graph import StateGraph, START, END\n"
        "from langgraph.config import get_config\n"
        "import openai\n"
        "class S(TypedDict, total=False):\n    question: str\n    reply: str\n"
        "async def answer(state, config):\n"
        "    url = config['configurable']['baton'].model_base_url\n"
        "    client = openai.AsyncOpenAI(base_url=url, api_key='x')\n"
        "    r = await client.chat.completions.create(model='anything', messages=[{'role': 'user', 'content': state['question']}])\n"
        "    return {'reply': r.choices[0].message.content}\n"
        "g = StateGraph(S)\ng.add_node('answer', answer)\ng.add_edge(START, 'answer')\ng.add_edge('answer', END)\n"
        "app = g.compile()\n")
    config = SystemConfig(name="url", architecture="langgraph",
                          params={"target": f"{tmp_path}/url_graph.py:app", "input_key": "question",
                                  "answer_key": "reply", "openai_env": False})
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        trace = await run_task(tasks[0], config, "sim-small", clients=pool)
    assert trace.infra_error is None
    (hop,) = trace.hops
    assert hop.vendor == "sim-small" and hop.usage.calls == 1 and trace.answer and trace.simulated


def test_a_wrong_key_is_a_configuration_error_listing_the_graphs_keys():
    with pytest.raises(ConfigError, match=r"params.verdict_key: 'verdict' is not a key of the graph's state; "
                                          r"its state keys are: query, model, answer, verified, issues"):
        check_system(system(verdict_key="verdict"))
    with pytest.raises(ConfigError, match=r"params.input_key: the graph has no 'messages' key.*query, model"):
        check_system(SystemConfig(name="a", architecture="langgraph", params={"target": TARGET}))
    check_system(system())


def test_the_check_runs_when_the_matrix_is_planned(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.baton.systems.article]\narchitecture = \"langgraph\"\n"
        f"params = {{target = \"{TARGET}\", input_key = \"question\"}}\n")
    assert "article" in load_systems(tmp_path)
    with pytest.raises(ConfigError, match="params.input_key: 'question' is not a key"):
        plan_run(tmp_path, tasks=ROOT / "fixtures" / "billing", systems=["article"], vendors=["sim-frontier"])


async def test_more_sync_nodes_in_flight_than_default_threads(tasks, tmp_path):
    """Sync nodes block executor threads while their calls are served; with more runs in flight
    than the default executor's threads (min(32, CPUs + 4)) the run must still finish."""
    import asyncio
    import os

    from baton.engine import Matrix, run_matrix

    many = min(32, (os.cpu_count() or 1) + 4) + 4
    chosen = (list(load_tasks(ROOT / "fixtures")) * 2)[:many]
    chosen = [t.model_copy(update={"id": f"{t.id}-{i}"}) for i, t in enumerate(chosen)]
    matrix = Matrix(tasks=chosen, systems=[system()], vendors=["sim-frontier"], trials=1)
    summary = await asyncio.wait_for(
        run_matrix(matrix, profiles=builtin_profiles(), run_dir=tmp_path / "run", concurrency=many,
                   use_cache=False, grade_worker=False), timeout=300)
    assert summary.completed == many and summary.errors == 0


def test_the_article_graph_runs_from_the_command_line_with_no_openai_environment(tmp_path: Path) -> None:
    """A new user's first run: the graph builds ``openai.OpenAI()`` when it is imported, so the
    model gateway's environment must be in place before preflight imports the target."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    done = subprocess.run([sys.executable, "-m", "baton.cli", "run", "--project", str(ROOT), "--systems",
                           "article_router", "--vendors", "sim-frontier", "--task-filter", "billing/seat-*",
                           "--no-cache", "--out", str(tmp_path / "run")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "1/1 runs" in done.stdout
