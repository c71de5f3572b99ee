"""The simulated vendor over real loopback HTTP, driven by the real `openai` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from baton.sim import SimKnobs, SimServer

MODELS = {
    "perfect": SimKnobs(),
    "noisy": SimKnobs(invented_fact=0.5, dropped_fact=0.3),
    "limited": SimKnobs(rate_429=1.0, retry_after_s=0.25),
    "broken": SimKnobs(rate_500=1.0),
    "stalling": SimKnobs(rate_timeout=1.0, stall_s=1.0),
}

LIBRARY_TOOLS = [
    {"type": "function", "function": {
        "name": "find_loans", "description": "List the active loans of a library member.",
        "parameters": {"type": "object", "properties": {
            "member_id": {"type": "string", "description": 'Library card, e.g. "M-0042"'}},
            "required": ["member_id"]}}},
    {"type": "function", "function": {
        "name": "renew_loan", "description": "Renew a borrowed book for another loan period.",
        "parameters": {"type": "object", "properties": {
            "loan_id": {"type": "string", "description": 'Loan number, e.g. "L-3301"'}}, "required": ["loan_id"]}}},
    {"type": "function", "function": {
        "name": "waive_fine", "description": "Waive an overdue fine.",
        "parameters": {"type": "object", "properties": {"fine_id": {"type": "string"}}, "required": ["fine_id"]}}},
]


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    with SimServer(MODELS) as running:
        yield running


@pytest.fixture()
def client(server: SimServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=5) as c:
        yield c


def test_health_and_models(server: SimServer) -> None:
    assert httpx.get(server.base_url.replace("/v1", "/health")).json()["status"] == "ok"
    ids = {m["id"] for m in httpx.get(f"{server.base_url}/models").json()["data"]}
    assert ids == set(MODELS)


def test_plain_completion_with_usage(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="perfect", messages=[
        {"role": "system", "content": "Opening hours: the library opens at 9:00 and closes at 18:00 on weekdays."},
        {"role": "user", "content": "When does the library close on weekdays?"}])
    assert "18:00" in out.choices[0].message.content
    assert out.usage.prompt_tokens > 10 and out.usage.completion_tokens > 5
    assert out.choices[0].finish_reason == "stop"


def test_tool_calls_for_a_domain_it_was_never_written_for(client: openai.OpenAI) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are the Riverside Library assistant. Members may renew a loan twice."},
        {"role": "user", "content": "Hi, I'm member M-0042. Can you renew my loan of 'Dune'?"}]
    first = client.chat.completions.create(model="perfect", messages=messages, tools=LIBRARY_TOOLS)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == ("find_loans", {"member_id": "M-0042"})
    messages += [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                 {"role": "tool", "tool_call_id": call.id, "content": json.dumps(
                     [{"loan_id": "L-3301", "title": "Dune", "due": "2026-07-01", "renewals": 0}])}]
    second = client.chat.completions.create(model="perfect", messages=messages, tools=LIBRARY_TOOLS)
    call2 = second.choices[0].message.tool_calls[0]
    assert (call2.function.name, json.loads(call2.function.arguments)) == ("renew_loan", {"loan_id": "L-3301"})
    messages += [{"role": "assistant", "content": None, "tool_calls": [call2.model_dump()]},
                 {"role": "tool", "tool_call_id": call2.id, "content": json.dumps(
                     {"loan_id": "L-3301", "due": "2026-07-22", "renewals": 1})}]
    final = client.chat.completions.create(model="perfect", messages=messages, tools=LIBRARY_TOOLS)
    assert not final.choices[0].message.tool_calls
    assert "2026-07-22" in final.choices[0].message.content


SCHEMA = {"type": "object", "properties": {
    "intent": {"type": "string", "enum": ["renew", "reserve", "fine", "other"],
               "description": "renew: extend a loan; reserve: hold a book that is out; fine: overdue fees"},
    "member_id": {"type": "string"}}, "required": ["intent", "member_id"], "additionalProperties": False}
ASK = [{"role": "user", "content": "Member M-0042 here: please put a hold on 'Dune', it's out."}]
EXPECTED = {"intent": "reserve", "member_id": "M-0042"}


def test_structured_output_json_schema(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="perfect", messages=ASK, response_format={
        "type": "json_schema", "json_schema": {"name": "triage", "schema": SCHEMA, "strict": True}})
    assert json.loads(out.choices[0].message.content) == EXPECTED


def test_structured_output_json_object_with_schema(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="perfect", messages=ASK,
                                         response_format={"type": "json_object", "schema": SCHEMA})  # type: ignore
    assert json.loads(out.choices[0].message.content) == EXPECTED


def test_structured_output_forced_tool(client: openai.OpenAI) -> None:
    tool = {"type": "function", "function": {"name": "triage", "parameters": SCHEMA}}
    out = client.chat.completions.create(model="perfect", messages=ASK, tools=[tool],
                                         tool_choice={"type": "function", "function": {"name": "triage"}})
    call = out.choices[0].message.tool_calls[0]
    assert call.function.name == "triage" and json.loads(call.function.arguments) == EXPECTED


def _raw(server: SimServer, seed: int, model: str = "noisy") -> bytes:
    body = {"model": model, "seed": seed, "messages": [
        {"role": "system", "content": "Loans last 21 days. Each loan can be renewed twice. Fines are 0.25 a day."},
        {"role": "user", "content": "How long do loans last and how often can I renew?"}]}
    response = httpx.post(f"{server.base_url}/chat/completions", json=body)
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
    with openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=0.3) as c:
        with pytest.raises(openai.APITimeoutError):
            c.chat.completions.create(model="stalling", messages=ASK)


def test_faults_depend_on_the_attempt_so_retries_can_succeed(server: SimServer) -> None:
    with SimServer({"half": SimKnobs(rate_500=0.5)}) as half:
        statuses = {httpx.post(f"{half.base_url}/chat/completions", headers={"x-baton-attempt": str(a)},
                               json={"model": "half", "messages": ASK}).status_code for a in range(12)}
    assert statuses == {200, 500}


def test_unknown_model_and_bad_requests(server: SimServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="perfect"):
        client.chat.completions.create(model="gpt-9", messages=ASK)
    assert httpx.post(f"{server.base_url}/chat/completions", content=b"{not json").status_code == 400
    assert httpx.post(f"{server.base_url}/chat/completions", json={"model": "perfect"}).status_code == 400
    assert httpx.post(f"{server.base_url}/chat/completions",
                      json={"model": "perfect", "messages": ASK, "stream": True}).status_code == 400
    bad_tools = httpx.post(f"{server.base_url}/chat/completions",
                           json={"model": "perfect", "messages": ASK, "tools": [{"function": {"name": "f",
                                                                                              "parameters": 3}}]})
    assert bad_tools.status_code == 400 and "tools[0]" in bad_tools.json()["error"]["message"]
    bad_message = httpx.post(f"{server.base_url}/chat/completions", json={"model": "perfect", "messages": ["hi"]})
    assert bad_message.status_code == 400 and "messages[0]" in bad_message.json()["error"]["message"]


def test_baton_sim_serve_runs_standalone(tmp_path: Any) -> None:
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "baton.cli", "sim", "serve", "--port", str(port)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).json()
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, "baton sim serve did not start"
                time.sleep(0.1)
        assert {"sim-frontier", "sim-small", "sim-flaky"} <= {m["id"] for m in models["data"]}
    finally:
        proc.terminate()
        proc.wait(10)


def test_baton_sim_serve_rejects_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    from baton.cli import main

    assert main(["sim", "serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
