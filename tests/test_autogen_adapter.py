"""The AutoGen adapter: a team built by the user's function runs against the simulated vendor over
real HTTP, through Baton's model gateway and the task's world over MCP; agents' messages become
hops. Configuration mistakes are errors that name the field, before any task runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.client import ClientPool
from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.matrix import plan_run
from baton.runners import run_task
from baton.runners.adapters.autogen import check_system
from baton.systems import SystemConfig
from baton.vendor_config import builtin_profiles

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
TEAM = f"{ROOT}/examples/autogen_critique/team.py:make_team"
PURPOSES = {"drafter": "draft", "critic": "verify"}


def system(**params) -> SystemConfig:
    return SystemConfig(name="critique", architecture="autogen", params={"target": TEAM, **params},
                        hop_purposes=PURPOSES)


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(ROOT / "fixtures" / "billing")


def _task(tasks, *, writes: bool):
    """A task whose gold makes a side-effecting call (or none), with a customer to look up."""
    for task in tasks:
        effects = {spec.name for spec in task.tools if spec.side_effect}
        if task.customer and not task.conversation and any(c.name in effects for c in task.gold.tool_calls) == writes:
            return task
    raise AssertionError("no such task in the billing fixtures")


async def test_the_critique_team_runs_with_metered_agents_and_tools_over_mcp(tasks):
    acting = _task(tasks, writes=True)
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        trace = await run_task(acting, system(), "sim-frontier", clients=pool)
    assert trace.infra_error is None, trace.infra_error
    agents = [h for h in trace.hops if h.kind != "tool"]
    tools = [h for h in trace.hops if h.kind == "tool"]
    assert [(h.kind, h.name, h.purpose) for h in agents[:2]] == [("generate", "drafter", "draft"),
                                                                 ("verify", "critic", "verify")]
    # the drafter's tool calls reached the world over MCP (the world's own record of them)
    assert tools and {h.output["name"] for h in tools} & {c.name for c in acting.gold.tool_calls}
    for hop in agents:
        assert hop.vendor == "sim-frontier" and hop.usage.calls >= 1 and hop.usage.cost_usd > 0
        if hop.kind == "verify":
            assert hop.output["verdict"] in ("pass", "fail")
    # the drafter's first turn paid for its tool-calling rounds too
    assert agents[0].usage.calls >= 2
    assert trace.answer and trace.answer == agents[-2 if agents[-1].kind == "verify" else -1].output["text"]
    assert trace.simulated
    assert len(agents) <= 6  # three rounds at most: the team's own termination


async def test_an_approved_draft_ends_the_loop(tasks):
    """A task the drafter can answer without acting: the critic can confirm it, and approves."""
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        traces = [await run_task(t, system(), "sim-frontier", clients=pool) for t in tasks
                  if t.customer and not t.gold.tool_calls][:3]
    assert traces
    approved = [t for t in traces if t.hops[-1].kind == "verify" and t.hops[-1].output["verdict"] == "pass"]
    assert approved, [[(h.name, h.output.get("verdict")) for h in t.hops] for t in traces]


async def test_an_async_builder_and_a_model_named_in_params(tasks, tmp_path):
    (tmp_path / "solo.py").write_text(
        "from autogen_agentchat.agents import AssistantAgent\n"
        "from autogen_agentchat.teams import RoundRobinGroupChat\n"
        "from autogen_agentchat.conditions import MaxMessageTermination\n"
        "async def build(model_client):\n"
        "    agent = AssistantAgent('writer', model_client=model_client)\n"
        "    return RoundRobinGroupChat([agent], termination_condition=MaxMessageTermination(2))\n")
    config = SystemConfig(name="solo", architecture="autogen",
                          params={"target": f"{tmp_path}/solo.py:build", "model": "small",
                                  "models": {"small": "sim-small"}})
    check_system(config)  # an async builder is loaded, built per run
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        trace = await run_task(tasks[0], config, "sim-frontier", clients=pool)
    assert trace.infra_error is None, trace.infra_error
    (hop,) = trace.hops
    assert (hop.kind, hop.name, hop.vendor, hop.usage.calls) == ("generate", "writer", "sim-small", 1)
    assert trace.answer == hop.output["text"] and trace.answer


def test_a_wrong_agent_name_is_a_configuration_error_listing_the_agents():
    with pytest.raises(ConfigError, match=r"params.answer_agent: 'writer' is not an agent of the team; "
                                          r"its agents are: drafter, critic"):
        check_system(system(answer_agent="writer"))
    with pytest.raises(ConfigError, match=r"params.hop_kinds: 'reviewer' is not an agent of the team"):
        check_system(system(hop_kinds={"reviewer": "verify"}))
    with pytest.raises(ConfigError, match=r"params.hop_kinds.critic: expected one of"):
        check_system(system(hop_kinds={"critic": "judge"}))
    check_system(system(answer_agent="drafter"))


def test_a_target_that_is_not_a_team_builder_is_a_configuration_error(tmp_path):
    (tmp_path / "teams.py").write_text(
        "from autogen_agentchat.agents import AssistantAgent\n"
        "from autogen_agentchat.teams import RoundRobinGroupChat\n"
        "from autogen_ext.models.openai import OpenAIChatCompletionClient\n"
        "client = OpenAIChatCompletionClient(model='gpt-4o', api_key='unused')\n"
        "team = RoundRobinGroupChat([AssistantAgent('a', model_client=client)])\n"
        "def needs_secret(model_client, api_key):\n    return team\n"
        "def not_a_team():\n    return 42\n"
        "def broken():\n    raise RuntimeError('no prompt file')\n")

    def at(attr: str) -> SystemConfig:
        return SystemConfig(name="t", architecture="autogen", params={"target": f"{tmp_path}/teams.py:{attr}"})

    with pytest.raises(ConfigError, match=r"params.target: names a team \(RoundRobinGroupChat\); name the function"):
        check_system(at("team"))
    with pytest.raises(ConfigError, match=r"asks for api_key, which Baton cannot supply; it may take "
                                          r"model_client, workbench, request"):
        check_system(at("needs_secret"))
    with pytest.raises(ConfigError, match=r"the function returned int, expected an AutoGen team"):
        check_system(at("not_a_team"))
    with pytest.raises(ConfigError, match=r"building the team failed: RuntimeError: no prompt file"):
        check_system(at("broken"))
    with pytest.raises(ConfigError, match=r"has no attribute 'make_teem'"):
        check_system(at("make_teem"))


def test_the_check_runs_when_the_matrix_is_planned(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.baton.systems.critique]\narchitecture = \"autogen\"\n"
        f"params = {{target = \"{TEAM}\", answer_agent = \"assistant\"}}\n")
    with pytest.raises(ConfigError, match="params.answer_agent: 'assistant' is not an agent"):
        plan_run(tmp_path, tasks=ROOT / "fixtures" / "billing", systems=["critique"], vendors=["sim-frontier"])


@pytest.mark.slow
def test_the_example_team_runs_the_golden_set_into_one_report_with_the_builtin_architectures(tmp_path):
    """The issue's acceptance: the named system ``autogen_critique`` (runners/systems.toml) over the
    whole golden set on the simulated vendor, from the command line, in one report next to naive,
    rag and multi_agent. About 40 s on two cores."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    run_dir = tmp_path / "run"
    systems = ["naive", "rag", "multi_agent", "autogen_critique"]
    done = subprocess.run([sys.executable, "-m", "baton.cli", "run", "--project", str(ROOT), "--systems",
                           ",".join(systems), "--vendors", "sim-frontier", "--no-cache", "--out", str(run_dir)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    tasks = len(load_tasks(ROOT / "fixtures"))
    assert f"{4 * tasks}/{4 * tasks} runs" in done.stdout and "0 infra errors" in done.stdout
    report = subprocess.run([sys.executable, "-m", "baton.cli", "report", str(run_dir)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    card = json.loads((run_dir / "card.json").read_text())
    rows = {row["system"]: row for row in card["configurations"]}
    assert set(rows) == set(systems)
    team = rows["autogen_critique"]
    assert (team["architecture"], team["runs"], team["infra_errors"], team["simulated"]) == ("autogen", tasks, 0, True)
    assert 0 < team["successes"] < tasks and team["cost_per_task_usd"] > 0
    # the critic is graded as the verifier, the drafter as the draft hop, its tool calls as acts
    assert team["verify_in_system_runs"] == tasks and team["draft_in_system_runs"] == tasks
    assert team["act_in_system_runs"] > 0
    markdown = (run_dir / "report.md").read_text()
    for system in systems:
        assert system.replace("_", "\\_") + " @ sim-frontier (simulated)" in markdown


async def test_a_text_verifier_named_by_hop_kinds_and_the_answer_agent(tasks, tmp_path):
    """Held-out names: 'writer' and 'editor' (no name hint), the editor replying in text."""
    (tmp_path / "pair.py").write_text(
        "from autogen_agentchat.agents import AssistantAgent\n"
        "from autogen_agentchat.teams import RoundRobinGroupChat\n"
        "from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination\n"
        "def pair(model_client):\n"
        "    writer = AssistantAgent('writer', model_client=model_client, system_message='Answer the customer.')\n"
        "    editor = AssistantAgent('editor', model_client=model_client,\n"
        "                            system_message='Review the answer. Say LGTM when it is right.')\n"
        "    done = TextMentionTermination('LGTM') | MaxMessageTermination(5)\n"
        "    return RoundRobinGroupChat([writer, editor], termination_condition=done)\n")
    config = SystemConfig(name="pair", architecture="autogen", hop_purposes={"writer": "draft", "editor": "verify"},
                          params={"target": f"{tmp_path}/pair.py:pair", "hop_kinds": {"editor": "verify"},
                                  "approve_text": "LGTM", "answer_agent": "writer", "context": False})
    check_system(config)
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        trace = await run_task(tasks[0], config, "sim-frontier", clients=pool)
    assert trace.infra_error is None, trace.infra_error
    assert [(h.kind, h.name, h.purpose) for h in trace.hops] == [("generate", "writer", "draft"),
                                                                 ("verify", "editor", "verify")] * 2
    editor = trace.hops[1]
    # the simulated model never writes LGTM: a text verifier without the word is a fail, its text the issue
    assert editor.output["verdict"] == "fail" and editor.output["issues"] == [editor.output["text"]]
    assert trace.answer == trace.hops[2].output["text"]


def test_tool_calls_the_team_reports_become_tool_hops():
    """Tool events (for tools that are not the world's MCP tools) become act hops, errors kept."""
    import time

    from autogen_agentchat.messages import TextMessage, ToolCallExecutionEvent, ToolCallRequestEvent
    from autogen_core import FunctionCall
    from autogen_core.models import FunctionExecutionResult

    from baton.runners.adapters.autogen import _Recorder

    class Session:
        started = time.perf_counter()

        def served_between(self, start, end):
            return "sim-small", "m"

        def usage_between(self, start, end):
            from baton.trace import Usage
            return Usage()

    recorder = _Recorder(Session(), {}, "verdict", "APPROVE")
    recorder.event(TextMessage(content="hi", source="user"))
    recorder.event(ToolCallRequestEvent(source="agent", content=[
        FunctionCall(id="1", name="lookup", arguments='{"order": "A-7"}'),
        FunctionCall(id="2", name="cancel", arguments='{"order": "A-7"}')]))
    recorder.event(ToolCallExecutionEvent(source="agent", content=[
        FunctionExecutionResult(call_id="1", name="lookup", content="shipped", is_error=False),
        FunctionExecutionResult(call_id="2", name="cancel", content="already shipped", is_error=True)]))
    recorder.event(TextMessage(content="It has shipped.", source="agent"))
    lookup, cancel, reply = (step.hop for step in recorder.steps)
    assert (lookup.kind, lookup.output["arguments"], lookup.output["result"]) == ("tool", {"order": "A-7"}, "shipped")
    assert cancel.error == "already shipped" and cancel.output["result"] is None
    assert (reply.kind, reply.name, reply.vendor, reply.output["text"]) == ("generate", "agent", "sim-small",
                                                                          "It has shipped.")
    assert recorder.answer(None) == "It has shipped."


def test_without_autogen_installed_the_error_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "autogen_agentchat", None)
    with pytest.raises(ConfigError, match=r"architecture 'autogen' needs AutoGen \(autogen_agentchat is not "
                                          r"installed\); pip install 'baton-evals\[autogen\]'"):
        check_system(system())


async def test_an_agent_failure_is_the_runs_failure_in_one_line(tasks, tmp_path):
    """A structured critic in a team that does not register its message type: AutoGen's error, on the
    run, without the traceback AutoGen embeds in it."""
    (tmp_path / "unregistered.py").write_text(
        "from typing import Literal\nfrom pydantic import BaseModel\n"
        "from autogen_agentchat.agents import AssistantAgent\n"
        "from autogen_agentchat.teams import RoundRobinGroupChat\n"
        "from autogen_agentchat.conditions import MaxMessageTermination\n"
        "class Review(BaseModel):\n    verdict: Literal['pass', 'fail']\n"
        "def make(model_client):\n"
        "    writer = AssistantAgent('writer', model_client=model_client)\n"
        "    critic = AssistantAgent('critic', model_client=model_client, output_content_type=Review)\n"
        "    return RoundRobinGroupChat([writer, critic], termination_condition=MaxMessageTermination(3))\n")
    config = SystemConfig(name="u", architecture="autogen", params={"target": f"{tmp_path}/unregistered.py:make"})
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        trace = await run_task(tasks[0], config, "sim-frontier", clients=pool)
    assert trace.infra_error is None
    *before, failed = trace.hops
    assert [h.name for h in before] == ["writer"] and before[0].usage.calls == 1  # kept, metered
    assert failed.error.startswith("TeamError: ValueError: Message type") and "is not registered" in failed.error
    assert "Traceback" not in failed.error and "\n" not in failed.error


async def test_a_team_that_never_ends_is_stopped_and_fails_saying_why(tasks, tmp_path):
    (tmp_path / "endless.py").write_text(
        "from autogen_agentchat.agents import AssistantAgent\n"
        "from autogen_agentchat.teams import RoundRobinGroupChat\n"
        "def make(model_client):\n"
        "    return RoundRobinGroupChat([AssistantAgent('a', model_client=model_client),\n"
        "                                AssistantAgent('b', model_client=model_client)])\n")
    config = SystemConfig(name="e", architecture="autogen",
                          params={"target": f"{tmp_path}/endless.py:make", "max_messages": 4})
    async with ClientPool(builtin_profiles(), cache=None) as pool:
        trace = await run_task(tasks[0], config, "sim-frontier", clients=pool)
    assert trace.infra_error is None and trace.answer == ""
    *talk, stopped = trace.hops
    assert stopped.error == ("TeamError: the team sent more than 4 messages without ending "
                             "(params.max_messages); give it a termination condition (e.g. MaxMessageTermination)")
    # the agents' messages before the stop stay in the trace, metered
    assert [h.name for h in talk] == ["a", "b", "a", "b", "a"] and all(h.usage.calls == 1 for h in talk)


async def test_a_vendor_failing_after_retries_is_an_infra_error_with_the_hops_so_far(tasks):
    from baton.model import InfraError, ScriptedClient

    def script(messages, options):
        if options.get("schema"):  # the critic's structured call
            raise InfraError("HTTP 503 after 3 retries")
        return "Your plan renews on the 1st."

    class Pool:
        def client(self, vendor):
            return ScriptedClient(script, vendor=vendor, model=f"{vendor}-model")

    trace = await run_task(tasks[0], system(mcp=False), "flaky", clients=Pool())
    assert "503" in (trace.infra_error or "")
    drafter, failed = trace.hops
    assert (drafter.name, drafter.vendor, drafter.usage.calls) == ("drafter", "flaky", 1)
    assert failed.error and "503" in failed.error


def test_a_text_verdict_needs_the_approving_word_itself():
    from autogen_agentchat.messages import TextMessage

    from baton.runners.adapters.autogen import _verdict

    def verdict(text: str) -> str | None:
        return _verdict(TextMessage(content=text, source="critic"), "verdict", "APPROVE")[0]

    assert [verdict(t) for t in ("APPROVE", "Looks right. approve", "DISAPPROVE: the amount is wrong",
                                 "Not approved yet", "")] == ["pass", "pass", "fail", "fail", "fail"]
