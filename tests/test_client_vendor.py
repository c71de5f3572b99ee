"""VendorClient against the simulated vendor over loopback HTTP: dialects, retries, cache, secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sim_taskgen import task_set

from baton.call_context import CallContext, calling_as
from baton.client import ClientPool, VendorClient, extract_json, response_from_dict, response_to_dict
from baton.errors import ConfigError
from baton.model import InfraError, ModelClient
from baton.sim import SimServer, sim_models
from baton.vendors import VendorProfile

SIM = {
    "perfect": {},
    "limited": {"rate_429": 0.5, "retry_after_s": 0.1},
    "always-429": {"rate_429": 1.0, "retry_after_s": 0.01},
    "broken": {"rate_500": 1.0},
    "stalling": {"rate_timeout": 1.0, "stall_s": 1.0},
    "garbled": {"malformed_json": 1.0},
}
TASK = task_set(5, domains=1)[0]  # the simulated vendor answers from the gold of a task
SCHEMA = {"type": "object", "properties": {"intent": {"type": "string", "enum": TASK.route_labels},
                                           "count": {"type": "integer"}},
          "required": ["intent", "count"], "additionalProperties": False}
EXPECTED = {"intent": TASK.gold.route, "count": 0}
ASK = [{"role": "system", "content": "Pick the label of the request."}, {"role": "user", "content": TASK.request}]


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    profiles = {name: VendorProfile(name=name, kind="sim", model=name, sim=knobs) for name, knobs in SIM.items()}
    with SimServer(sim_models(profiles), tasks=[TASK]) as running:
        yield running


@pytest.fixture(autouse=True)
def _in_a_run() -> Iterator[None]:
    """Calls made as part of a run of TASK (the X-Baton-Run header Baton's client sends)."""
    with calling_as(CallContext(TASK.id, TASK.version)):
        yield


def make(server: SimServer, model: str = "perfect", **fields: Any) -> VendorProfile:
    base = {"name": f"test-{model}", "kind": "sim", "model": model, "base_url": server.base_url, "retries": 2,
            "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0}
    return VendorProfile(**{**base, **fields})


@pytest.mark.parametrize("dialect", ["json_schema", "json_object_schema", "tools", "prompt"])
async def test_structured_output_dialects(server: SimServer, dialect: str) -> None:
    client = VendorClient(make(server, structured_output=dialect))
    assert isinstance(client, ModelClient)
    out = await client.chat(ASK, schema=SCHEMA, schema_name="triage")
    assert out.error is None and out.parsed == EXPECTED
    assert out.tool_calls == []


async def test_usage_cost_latency_recorded(server: SimServer) -> None:
    client = VendorClient(make(server))
    out = await client.chat(ASK)
    usage = out.usage
    assert usage.calls == 1 and usage.input_tokens > 0 and usage.output_tokens > 0 and usage.retries == 0
    assert usage.cost_usd == pytest.approx((usage.input_tokens * 1.0 + usage.output_tokens * 2.0) / 1e6)
    assert out.latency_s > 0 and out.vendor == "test-perfect" and out.model == "perfect"


async def test_tool_calls_parsed_and_bad_arguments_flagged(server: SimServer) -> None:
    tools = [spec.openai_schema() for spec in TASK.tools]
    out = await VendorClient(make(server)).chat(ASK, tools=tools)
    first = TASK.gold.tool_calls[0]
    assert [(c.name, c.arguments, c.error) for c in out.tool_calls] == [(first.name, first.arguments, None)]
    bad = await VendorClient(make(server, "garbled")).chat(ASK, tools=tools)
    assert bad.tool_calls[0].error and bad.tool_calls[0].arguments == {}


async def test_malformed_json_is_a_response_error_not_infra(server: SimServer) -> None:
    out = await VendorClient(make(server, "garbled")).chat(ASK, schema=SCHEMA)
    assert out.parsed is None and "malformed JSON" in (out.error or "")


async def test_retries_recover_from_429_honouring_retry_after(server: SimServer) -> None:
    client = VendorClient(make(server, "limited", retries=10), backoff_s=0.001)
    outs = await asyncio.gather(*(client.chat(ASK, seed=seed) for seed in range(12)))
    retried = [o for o in outs if o.usage.retries]
    assert retried, "some calls should have hit a 429"
    for out in retried:
        assert out.latency_s >= 0.1 * out.usage.retries * 0.9
    assert all(o.text for o in outs)


async def test_infra_error_after_retries(server: SimServer) -> None:
    for model, expected in (("broken", "HTTP 500"), ("always-429", "HTTP 429")):
        client = VendorClient(make(server, model, retries=2), backoff_s=0.001)
        with pytest.raises(InfraError, match=expected) as err:
            await client.chat(ASK)
        assert "3 attempt(s)" in str(err.value)


async def test_timeouts_become_infra_errors(server: SimServer) -> None:
    client = VendorClient(make(server, "stalling", retries=1, timeout_s=0.2), backoff_s=0.001)
    # The server stalls longer than the timeout on every attempt: a "timed out" error after both
    # attempts shows the timeout was honoured (no wall-clock bound, which a loaded machine breaks).
    with pytest.raises(InfraError, match=r"2 attempt\(s\): request timed out"):
        await client.chat(ASK)


class DictCache:
    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.store.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.store[key] = json.loads(json.dumps(value))


async def test_cache_hit_is_free_and_marked(server: SimServer) -> None:
    cache = DictCache()
    client = VendorClient(make(server), cache=cache)
    first = await client.chat(ASK, schema=SCHEMA, seed=1)
    second = await client.chat(ASK, schema=SCHEMA, seed=1)
    assert len(cache.store) == 1
    assert second.parsed == first.parsed and second.text == first.text
    assert second.usage.cached_calls == 1 and second.usage.cost_usd == 0 and first.usage.cached_calls == 0
    await client.chat(ASK, schema=SCHEMA, seed=2)
    await client.chat(ASK, schema=SCHEMA, seed=1, temperature=0.7)
    assert len(cache.store) == 2


def test_response_dict_roundtrip() -> None:
    from baton.model import ChatResponse, RequestedToolCall
    from baton.trace import Usage

    response = ChatResponse(text="t", tool_calls=[RequestedToolCall("c1", "f", {"a": 1}, '{"a": 1}')],
                            parsed={"x": 1}, usage=Usage(input_tokens=3, calls=1), latency_s=0.5, vendor="v",
                            model="m", finish_reason="stop")
    assert response_from_dict(json.loads(json.dumps(response_to_dict(response)))) == response


def test_extract_json_variants() -> None:
    assert extract_json('```json\n{"a": 1}\n```')[0] == {"a": 1}
    assert extract_json('Sure! {"a": 1} hope that helps')[0] == {"a": 1}
    assert extract_json("[1]")[1] and extract_json("{oops")[1]


async def test_api_key_never_leaks(server: SimServer, monkeypatch: pytest.MonkeyPatch,
                                   caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-baton-test-SECRET-0123456789abcdef"
    monkeypatch.setenv("BATON_TEST_VENDOR_KEY", secret)
    caplog.set_level(logging.DEBUG)
    ok = VendorClient(make(server, api_key_env="BATON_TEST_VENDOR_KEY"))
    response = await ok.chat(ASK, schema=SCHEMA)
    failing = VendorClient(make(server, "broken", api_key_env="BATON_TEST_VENDOR_KEY"), backoff_s=0.001)
    with pytest.raises(InfraError) as err:
        await failing.chat(ASK)
    exposed = [caplog.text, str(err.value), repr(err.value), repr(ok), repr(ok.profile),
               json.dumps(response_to_dict(response)), ok.profile.model_dump_json()]
    assert caplog.text  # something was logged
    assert not [text for text in exposed if secret in text or "SECRET" in text]


async def test_missing_key_variable_is_an_infra_error(server: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATON_TEST_UNSET_KEY", raising=False)
    client = VendorClient(make(server, api_key_env="BATON_TEST_UNSET_KEY"))
    with pytest.raises(InfraError, match="BATON_TEST_UNSET_KEY is not set"):
        await client.chat(ASK)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_pool_starts_embedded_sim_lazily_and_stops_it() -> None:
    profiles = {"sim-a": VendorProfile(name="sim-a", kind="sim", model="sim-a"),
                "sim-b": VendorProfile(name="sim-b", kind="sim", model="sim-b", sim={"wrong_label": 0.5})}
    async with ClientPool(profiles, tasks=[TASK]) as pool:
        assert pool.embedded("sim") is None
        a, b = pool.client("sim-a"), pool.client("sim-b")
        assert pool.client("sim-a") is a and a.simulated and pool.profile("sim-b").model == "sim-b"
        outs = await asyncio.gather(a.chat(ASK), b.chat(ASK))
        assert all(o.text for o in outs)
        port = pool.embedded("sim").port
        assert _port_open(port)
        with pytest.raises(ConfigError, match="sim-a"):
            pool.client("nope")
    assert not _port_open(port)


async def test_pool_stops_embedded_sim_on_error() -> None:
    profiles = {"sim-a": VendorProfile(name="sim-a", kind="sim", model="sim-a")}
    port = None
    with pytest.raises(RuntimeError):
        async with ClientPool(profiles, tasks=[TASK]) as pool:
            await pool.client("sim-a").chat(ASK)
            port = pool.embedded("sim").port
            raise RuntimeError("boom")
    assert port is not None and not _port_open(port)


def test_openai_profile_needs_base_url() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        VendorClient(VendorProfile(name="x", model="m"))


class Scripted:
    """An ``httpx2`` mock transport answering with ``replies`` in order, recording the requests."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.requests: list[Any] = []

    def __call__(self, request: Any) -> Any:
        import httpx2

        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        status, body, headers = reply
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx2.Response(status, content=content, headers=headers)


COMPLETION = {"id": "c1", "object": "chat.completion", "created": 0, "model": "served-model",
              "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                  "role": "assistant", "content": "hi",
                  "tool_calls": [{"id": "t1", "type": "function",
                                  "function": {"name": "renew_loan", "arguments": '{"member_id": "M-1"}'}}]}}],
              "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}


def scripted_client(transport: Scripted, **fields: Any) -> VendorClient:
    import httpx2

    profile = VendorProfile(**{"name": "scripted", "kind": "sim", "model": "m", "base_url": "http://vendor.test/v1",
                               "retries": 2, "price_input_per_mtok": 1.0, **fields})
    return VendorClient(profile, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(transport)),
                        backoff_s=0.001)


async def test_plain_body_sent_and_response_json_read() -> None:
    transport = Scripted((200, COMPLETION, {}))
    out = await scripted_client(transport).chat(ASK, tools=[{"type": "function", "function": {"name": "renew_loan"}}],
                                                seed=5, max_tokens=9)
    (request,) = transport.requests
    assert request.url.path == "/v1/chat/completions" and request.headers["authorization"] == "Bearer baton-no-key"
    assert request.headers["x-baton-attempt"] == "0"
    assert json.loads(request.content) == {"model": "m", "temperature": 0.0, "tools": [
        {"type": "function", "function": {"name": "renew_loan"}}], "tool_choice": "auto", "messages": ASK,
        "max_tokens": 9, "seed": 5}
    assert (out.text, out.model, out.finish_reason) == ("hi", "served-model", "tool_calls")
    assert [(c.id, c.name, c.arguments) for c in out.tool_calls] == [("t1", "renew_loan", {"member_id": "M-1"})]
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.calls, out.usage.retries) == (7, 3, 1, 0)
    assert out.usage.cost_usd == pytest.approx(7 / 1e6)


async def test_retry_after_a_failed_first_attempt_counts_attempts() -> None:
    import httpx2

    transport = Scripted((503, {"error": {"message": "busy"}}, {"retry-after-ms": "50"}),
                         httpx2.ConnectError("refused"), (200, COMPLETION, {}))
    started = time.perf_counter()
    out = await scripted_client(transport).chat(ASK)
    assert out.usage.retries == 2 and out.text == "hi"
    assert [r.headers["x-baton-attempt"] for r in transport.requests] == ["0", "1", "2"]
    assert time.perf_counter() - started >= 0.05  # the first failure's Retry-After was honoured


async def test_a_rejected_request_is_the_systems_failure_not_an_infra_error() -> None:
    """HTTP 400/413/422 (context too long, a schema the model rejects): the vendor is up and said no
    to what the system sent; recorded on the response, not retried, and not an infra error."""
    for status in (400, 413, 422):
        transport = Scripted((status, {"error": {"message": "maximum context length is 4096 tokens"}}, {}))
        out = await scripted_client(transport).chat(ASK)
        assert len(transport.requests) == 1
        assert out.error is not None and "rejected the request" in out.error and f"HTTP {status}" in out.error
        assert (out.text, out.tool_calls, out.usage.calls) == ("", [], 1)


async def test_non_retryable_and_exhausted_failures_are_infra_errors() -> None:
    transport = Scripted((401, {"error": {"message": "bad key"}}, {}))
    with pytest.raises(InfraError, match=r"after 1 attempt\(s\): HTTP 401"):
        await scripted_client(transport).chat(ASK)
    assert len(transport.requests) == 1
    transport = Scripted(*[(500, {"error": {"message": "down"}}, {})] * 2)
    with pytest.raises(InfraError, match=r"after 2 attempt\(s\): HTTP 500"):
        await scripted_client(transport, retries=1).chat(ASK)
    transport = Scripted((429, {}, {"retry-after": "0"}))
    with pytest.raises(InfraError, match=r"after 1 attempt\(s\): HTTP 429"):
        await scripted_client(transport, retries=0).chat(ASK)


async def test_a_body_that_is_not_a_json_object_is_an_infra_error() -> None:
    for body in (b"<html>oops</html>", b"[1, 2]"):
        with pytest.raises(InfraError, match="not a JSON object"):
            await scripted_client(Scripted((200, body, {}))).chat(ASK)


async def test_no_choices_is_a_response_error() -> None:
    out = await scripted_client(Scripted((200, {"model": "m", "choices": []}, {}))).chat(ASK)
    assert out.error == "the vendor returned no choices" and out.usage.calls == 1
