"""The crewai adapter's machinery without CrewAI: sidecar start-up and readiness, configuration
errors, and the task -> hop mapping, with a duck-typed crew run by Baton's own Python (the
sidecar script needs only the standard library and httpx). The real crew over the golden set is
in test_crewai_article.py."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from baton.client import ClientPool
from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.preflight import check_systems
from baton.runners import run_task
from baton.runners.adapters.crewai import pick_answer, task_kind, task_output
from baton.runners.adapters.harness import Step
from baton.runners.adapters.sidecar import Sidecar, SidecarError, SidecarPool
from baton.runners.adapters.types import AdapterRequest
from baton.systems import SystemConfig
from baton.trace import Hop
from baton.vendor_config import builtin_profiles

ROOT = Path(__file__).resolve().parents[1]

# A crew as CrewAI shapes one (kickoff, tasks with name/agent/output/start and end times), whose
# tasks call the model through OPENAI_BASE_URL exactly as an LLM(model=...) does.
FAKE_CREW = textwrap.dedent('''
    import datetime, json, os
    from types import SimpleNamespace
    import httpx

    def chat(messages, **extra):
        reply = httpx.post(os.environ["OPENAI_BASE_URL"] + "/chat/completions", timeout=60,
                           json={"model": "gpt-4o-mini", "messages": messages, **extra})
        reply.raise_for_status()
        return reply.json()["choices"][0]["message"]["content"]

    VERDICT = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": {
        "type": "object", "required": ["verdict", "issues"], "properties": {
            "verdict": {"type": "string", "enum": ["pass", "fail"]},
            "issues": {"type": "array", "items": {"type": "string"}}}}}}

    class Crew:
        def __init__(self, request):
            self.request = request
            self.tasks = []

        def _task(self, name, role, work):
            start = datetime.datetime.now()
            raw, structured = work()
            output = SimpleNamespace(raw=raw, pydantic=None, json_dict=structured, agent=role)
            self.tasks.append(SimpleNamespace(name=name, agent=SimpleNamespace(role=role), output=output,
                                              description=f"Request: {self.request['request']}",
                                              start_time=start, end_time=datetime.datetime.now()))
            return raw

        def kickoff(self, inputs):
            if "explode" in inputs["request"]:
                raise RuntimeError("the crew exploded")
            if "hang" in inputs["request"]:
                import threading
                threading.Event().wait()  # a crew stuck for good
            doc = (self.request["documents"] or [{"id": "none"}])[0]["id"]
            self._task("researcher", "researcher", lambda: (f"See [{doc}].", None))
            reply = self._task("writer", "writer", lambda: (chat([{"role": "user", "content": inputs["request"]}]), None))
            def check():
                text = chat([{"role": "user", "content": "Reply to check: " + reply}], response_format=VERDICT)
                return text, json.loads(text)
            self._task("checker", "checker", check)
            return SimpleNamespace(raw=self.tasks[-1].output.raw)

    def build(request):
        return Crew(request)
''')


@pytest.fixture(scope="module")
def crew_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("crew") / "fake_crew.py"
    path.write_text(FAKE_CREW)
    return path


def crew_system(target: str, **params) -> SystemConfig:
    return SystemConfig(name="fake_crew", architecture="crewai",
                        params={"target": target, "python": sys.executable, "workers": 1, **params})


async def test_a_crew_runs_in_its_sidecar_and_its_tasks_become_metered_hops(crew_file):
    task = load_tasks(ROOT / "fixtures" / "billing")[0]
    system = crew_system(f"{crew_file}:build")
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        trace = await run_task(task, system, "sim-frontier", clients=pool)
    assert trace.infra_error is None, trace.infra_error
    assert [(h.kind, h.name) for h in trace.hops] == [("retrieve", "researcher"), ("generate", "writer"),
                                                      ("verify", "checker")]
    research, writer, checker = trace.hops
    assert research.output["doc_ids"] == [task.documents[0].id] and research.usage.calls == 0
    assert writer.usage.calls == 1 and writer.usage.cost_usd > 0 and writer.vendor == "sim-frontier"
    assert checker.usage.calls == 1 and checker.output["verdict"] in ("pass", "fail")
    assert trace.answer == writer.output["text"] and trace.answer  # the last generate task, not the verdict
    assert trace.simulated


async def test_a_crew_that_raises_fails_its_run_not_the_harness(crew_file):
    task = load_tasks(ROOT / "fixtures" / "billing")[0].model_copy(update={"request": "please explode"})
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        trace = await run_task(task, crew_system(f"{crew_file}:build"), "sim-frontier", clients=pool)
    assert trace.infra_error is None
    assert "the crew exploded" in (trace.hops[-1].error or "")


async def test_a_crew_that_hangs_times_out_and_the_next_run_gets_a_fresh_sidecar(crew_file):
    task = load_tasks(ROOT / "fixtures" / "billing")[0]
    system = crew_system(f"{crew_file}:build", timeout_s=3)
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        stuck = await run_task(task.model_copy(update={"request": "hang"}), system, "sim-frontier", clients=pool)
        after = await run_task(task, system, "sim-frontier", clients=pool)
    assert "did not finish within 3s" in (stuck.hops[-1].error or "") and stuck.infra_error is None
    assert after.infra_error is None and after.answer and after.hops[-1].kind == "verify"


def test_a_missing_environment_is_one_readable_preflight_problem(tmp_path):
    system = crew_system("examples/crewai_article/crew.py:build_crew", python=str(tmp_path / "nope" / "python"))
    problems = check_systems([system])
    assert len(problems) == 1
    assert "params.python" in problems[0] and "scripts/bootstrap --crewai" in problems[0]


def test_a_target_that_does_not_load_names_the_reason(crew_file):
    problems = check_systems([crew_system(f"{crew_file}:no_such_factory")])
    assert len(problems) == 1 and "params.target" in problems[0] and "no_such_factory" in problems[0]
    problems = check_systems([crew_system(f"{crew_file.parent / 'missing.py'}:build")])
    assert len(problems) == 1 and "not found" in problems[0]


def test_a_sidecar_that_dies_before_it_is_ready_shows_its_output(tmp_path):
    script = tmp_path / "dies.py"
    script.write_text("import sys\nprint('cannot import the framework', file=sys.stderr)\nsys.exit(3)\n")
    with pytest.raises(SidecarError) as caught:
        Sidecar([sys.executable, str(script)], name="test sidecar").start()
    assert "exited before it was ready" in str(caught.value) and "cannot import the framework" in str(caught.value)


def test_a_pool_is_started_once_and_stopped_when_asked(tmp_path):
    script = tmp_path / "serve.py"
    script.write_text(textwrap.dedent('''
        import os, socket, sys
        fd = int(sys.argv[sys.argv.index("--ready-fd") + 1])
        server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
        os.write(fd, f"port {server.getsockname()[1]}\\n".encode()); os.close(fd)
        sys.stdin.read()  # until Baton closes it
    '''))
    make = [Sidecar([sys.executable, str(script)], name="test sidecar") for _ in range(2)]
    pool = SidecarPool.shared(("test", str(script)), make)
    assert SidecarPool.shared(("test", str(script)), []) is pool
    assert all(s.alive() and s.port for s in pool.sidecars)
    SidecarPool.stop_all()
    assert not any(s.alive() for s in pool.sidecars)


SERVE = textwrap.dedent('''
    import os, socket, sys
    fd = int(sys.argv[sys.argv.index("--ready-fd") + 1])
    server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
    os.write(fd, f"port {server.getsockname()[1]}\\n".encode()); os.close(fd)
    sys.stdin.read()  # until Baton closes it
''')


async def test_runs_wait_their_turn_for_a_sidecar_and_a_cancelled_wait_loses_none(tmp_path):
    import asyncio

    script = tmp_path / "serve.py"
    script.write_text(SERVE)
    pool = SidecarPool.shared(("turns", str(script)), [Sidecar([sys.executable, str(script)], name="one")])
    order: list[str] = []
    holding, release = asyncio.Event(), asyncio.Event()

    async def run(name: str, hold: bool = False) -> None:
        async with pool.lease():
            order.append(name)
            if hold:
                holding.set()
                await release.wait()

    first = asyncio.create_task(run("first", hold=True))
    await holding.wait()
    cancelled, second = asyncio.create_task(run("cancelled")), asyncio.create_task(run("second"))
    while len(pool._waiters) < 2:  # both queued behind the first (scheduling turns, not a clock)
        await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.gather(first, second)
    assert cancelled.cancelled() and order == ["first", "second"]
    async with pool.lease() as sidecar:  # the sidecar came back to the pool
        assert sidecar.alive()
    SidecarPool.stop_all()


def _request(**documents: str) -> AdapterRequest:
    return AdapterRequest(task_id="t", request="r", today="2026-01-01",
                          documents=[{"id": k, "title": k, "text": v} for k, v in documents.items()])


def test_task_kinds_come_from_declaration_structured_output_then_name():
    assert task_kind("anything", {"verdict": "fail", "issues": []}, {}, "verdict") == "verify"
    assert task_kind("anything", {"approved": True}, {}, "approved") == "verify"
    assert task_kind("triage", {"route": "billing"}, {}, "verdict") == "route"
    assert task_kind("researcher", None, {}, "verdict") == "retrieve"
    assert task_kind("router", None, {}, "verdict") == "route"
    assert task_kind("executor", None, {}, "verdict") == "generate"
    assert task_kind("executor", None, {"executor": "tool"}, "verdict") == "tool"
    with pytest.raises(ConfigError, match="hop_kinds.executor"):
        task_kind("executor", None, {"executor": "acting"}, "verdict")


def test_a_retrieve_task_cites_documents_by_id_and_only_whole_ids():
    request = _request(**{"kb-1": "a", "kb-12": "b", "kb-2": "c"})
    output = task_output("retrieve", {"raw": "Per [kb-12] and kb-2.", "description": "nothing"}, request, "verdict")
    assert output["doc_ids"] == ["kb-12", "kb-2"]
    verify = task_output("verify", {"raw": '{"verdict": "fail", "issues": ["x"]}'}, request, "verdict")
    assert verify["verdict"] == "fail" and verify["issues"] == ["x"]
    assert task_output("verify", {"raw": "looks fine"}, request, "verdict")["verdict"] is None


def test_the_answer_is_the_named_task_or_the_last_generate_task():
    steps = [Step(0.0, Hop(kind="generate", name="writer", output={"text": "draft", "raw": "draft"})),
             Step(1.0, Hop(kind="verify", name="checker", output={"verdict": "pass", "raw": "{}"}))]
    assert pick_answer(steps, "final", None) == "draft"
    assert pick_answer(steps[1:], "final", None) == "final"
    assert pick_answer(steps, "final", "checker") == "{}"
    with pytest.raises(RuntimeError, match="no task named 'summary'"):
        pick_answer(steps, "final", "summary")
