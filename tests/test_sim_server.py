"""The simulated vendor's transport layer over real loopback HTTP, driven by the real `openai` client:
the task header, tool calls and structured output on a made-up domain, faults, and `baton sim serve`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from sim_taskgen import task_set

from baton.call_context import HEADER, CallContext
from baton.sim import SimKnobs, SimServer
from baton.task import GoldenTask
from baton.world import World

MODELS = {
    "perfect": SimKnobs(),
    "noisy": SimKnobs(invented_fact=0.5, dropped_fact=0.3),
    "limited": SimKnobs(rate_429=1.0, retry_after_s=0.25),
    "broken": SimKnobs(rate_500=1.0),
    "stalling": SimKnobs(rate_timeout=1.0, stall_s=1.0),
}
TASKS = task_set(11, domains=1)
ACT, ANSWER = TASKS[0], TASKS[2]


def _header(task: GoldenTask, hop: str | None = None) -> dict[str, str]:
    return {HEADER: CallContext(task.id, task.version, hop=hop).to_header()}


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    with SimServer(MODELS, tasks=TASKS) as running:
        yield running


@pytest.fixture()
def client(server: SimServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=5,
                       default_headers=_header(ACT)) as c:
        yield c


def test_health_and_models(server: SimServer) -> None:
    health = httpx.get(server.base_url.replace("/v1", "/health")).json()
    assert health["status"] == "ok" and health["tasks"] == len(TASKS)
    ids = {m["id"] for m in httpx.get(f"{server.base_url}/models").json()["data"]}
    assert ids == set(MODELS)


def test_a_request_without_the_task_header_gets_a_400_that_says_how_to_call_it(server: SimServer) -> None:
    body = {"model": "perfect", "messages": [{"role": "user", "content": "hello"}]}
    missing = httpx.post(f"{server.base_url}/chat/completions", json=body)
    assert missing.status_code == 400
    message = missing.json()["error"]["message"]
    assert HEADER in message and "task_id" in message and "baton sim serve" in message
    unknown = httpx.post(f"{server.base_url}/chat/completions", json=body,
                         headers={HEADER: json.dumps({"task_id": "nowhere/none", "task_version": 1})})
    assert unknown.status_code == 400 and "nowhere/none" in unknown.json()["error"]["message"]
    garbled = httpx.post(f"{server.base_url}/chat/completions", json=body, headers={HEADER: "task please"})
    assert garbled.status_code == 400 and "JSON object" in garbled.json()["error"]["message"]


def test_plain_completion_with_usage(server: SimServer) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0,
                       default_headers=_header(ANSWER)) as c:
        doc = ANSWER.documents[0]
        out = c.chat.completions.create(model="perfect", messages=[
            {"role": "system", "content": f"Context: {doc.text}"}, {"role": "user", "content": ANSWER.request}])
    assert ANSWER.gold.facts[0].forms[0] in out.choices[0].message.content
    assert out.usage.prompt_tokens > 10 and out.usage.completion_tokens > 5
    assert out.choices[0].finish_reason == "stop"


def _tool_loop(client: openai.OpenAI, results: Any) -> tuple[list[dict[str, Any]], str]:
    tools = [spec.openai_schema() for spec in ACT.tools]
    messages: list[dict[str, Any]] = [{"role": "user", "content": ACT.request}]
    made = []
    message = None
    for _ in range(6):
        out = client.chat.completions.create(model="perfect", messages=messages, tools=tools)
        message = out.choices[0].message
        if not message.tool_calls:
            break
        call = message.tool_calls[0]
        arguments = json.loads(call.function.arguments)
        made.append({"name": call.function.name, "arguments": arguments})
        messages += [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                     {"role": "tool", "tool_call_id": call.id,
                      "content": json.dumps(results(call.function.name, arguments), default=str)}]
    return made, (message.content or "") if message is not None else ""


def test_tool_calls_follow_gold_with_values_seen_in_context(client: openai.OpenAI) -> None:
    world = World(ACT)
    made, reply = _tool_loop(client, world.call)
    assert made == [c.model_dump(include={"name", "arguments"}) for c in ACT.gold.tool_calls]
    settle = made[-1]["arguments"]
    assert isinstance(settle["level"], float)  # the tool's schema says number
    assert ACT.gold.facts[0].forms[0] in reply


def test_a_value_it_cannot_see_is_asked_for_not_guessed(client: openai.OpenAI) -> None:
    made, reply = _tool_loop(client, lambda name, arguments: {"found": True})  # no level in the record
    assert [c["name"] for c in made] == [ACT.gold.tool_calls[0].name]
    assert "level" in reply and "?" in reply


SCHEMA = {"type": "object", "properties": {"route": {"type": "string", "enum": ACT.route_labels}},
          "required": ["route"], "additionalProperties": False}
ASK = [{"role": "user", "content": ACT.request}]


def test_structured_output_json_schema(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="perfect", messages=ASK, response_format={
        "type": "json_schema", "json_schema": {"name": "route", "schema": SCHEMA, "strict": True}})
    assert json.loads(out.choices[0].message.content) == {"route": ACT.gold.route}


def test_structured_output_json_object_with_schema(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="perfect", messages=ASK,
                                         response_format={"type": "json_object", "schema": SCHEMA})  # type: ignore
    assert json.loads(out.choices[0].message.content) == {"route": ACT.gold.route}


def test_structured_output_forced_tool(client: openai.OpenAI) -> None:
    tool = {"type": "function", "function": {"name": "triage", "parameters": SCHEMA}}
    out = client.chat.completions.create(model="perfect", messages=ASK, tools=[tool],
                                         tool_choice={"type": "function", "function": {"name": "triage"}})
    call = out.choices[0].message.tool_calls[0]
    assert call.function.name == "triage" and json.loads(call.function.arguments) == {"route": ACT.gold.route}


def _raw(server: SimServer, seed: int, model: str = "noisy") -> bytes:
    doc = ANSWER.documents[0]
    body = {"model": model, "seed": seed, "messages": [
        {"role": "system", "content": f"Context: {doc.text}"}, {"role": "user", "content": ANSWER.request}]}
    response = httpx.post(f"{server.base_url}/chat/completions", json=body, headers=_header(ANSWER))
    assert response.status_code == 200
    return response.content


def test_same_seed_same_bytes_different_seed_may_differ(server: SimServer) -> None:
    assert _raw(server, 3) == _raw(server, 3)
    assert len({_raw(server, seed) for seed in range(8)}) > 1


def test_429_carries_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="limited", messages=ASK)
    assert err.value.response.headers["retry-after"] == "0.25"


def test_500_fault(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="broken", messages=ASK)


def test_timeout_fault_stalls_past_the_client_timeout(server: SimServer) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=0.3,
                       default_headers=_header(ACT)) as c:
        with pytest.raises(openai.APITimeoutError):
            c.chat.completions.create(model="stalling", messages=ASK)


def test_faults_depend_on_the_attempt_so_retries_can_succeed() -> None:
    with SimServer({"half": SimKnobs(rate_500=0.5)}, tasks=TASKS) as half:
        statuses = {httpx.post(f"{half.base_url}/chat/completions",
                               headers={"x-baton-attempt": str(a), **_header(ACT)},
                               json={"model": "half", "messages": ASK}).status_code for a in range(12)}
    assert statuses == {200, 500}


def test_unknown_model_and_bad_requests(server: SimServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="perfect"):
        client.chat.completions.create(model="gpt-9", messages=ASK)
    url, headers = f"{server.base_url}/chat/completions", _header(ACT)
    assert httpx.post(url, content=b"{not json", headers=headers).status_code == 400
    assert httpx.post(url, json={"model": "perfect"}, headers=headers).status_code == 400
    assert httpx.post(url, json={"model": "perfect", "messages": ASK, "stream": True}, headers=headers).status_code == 400
    bad_tools = httpx.post(url, headers=headers, json={"model": "perfect", "messages": ASK,
                                                       "tools": [{"function": {"name": "f", "parameters": 3}}]})
    assert bad_tools.status_code == 400 and "tools[0]" in bad_tools.json()["error"]["message"]
    bad_message = httpx.post(url, headers=headers, json={"model": "perfect", "messages": ["hi"]})
    assert bad_message.status_code == 400 and "messages[0]" in bad_message.json()["error"]["message"]


def test_baton_sim_serve_runs_standalone_with_a_task_set(tmp_path: Any) -> None:
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "baton.cli", "sim", "serve", "--port", str(port),
                             "--fixtures", str(fixtures)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, "baton sim serve did not start"
                time.sleep(0.1)
        assert {"sim-frontier", "sim-small", "sim-flaky"} <= set(health["models"])
        assert health["tasks"] > 10
    finally:
        proc.terminate()
        proc.wait(10)


def test_baton_sim_serve_rejects_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    from baton.cli import main

    assert main(["sim", "serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
