"""VendorClient's own HTTP layer (httpx2, no ``openai``): the request it sends (headers, URL,
timeout) and how each transport error and HTTP status maps to a retry, an infra error or a
rejected request. Scripted responses through ``httpx2.MockTransport``; the loopback behaviour
(real 429s, stalls, malformed bodies) is in test_client_vendor.py."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from typing import Any

import httpx2
import pytest

from baton import __version__
from baton.client import StatusFailure, TransportFailure, VendorClient, _retry_after
from baton.model import InfraError
from baton.vendors import VendorProfile

ASK = [{"role": "user", "content": "Which queue does this go to?"}]
OK = {"model": "served", "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": "billing"}}],
      "usage": {"prompt_tokens": 4, "completion_tokens": 1}}


class Replies:
    """A mock transport answering with ``replies`` in order (an exception is raised), recording requests."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        status, body, headers = reply
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx2.Response(status, content=content, headers=headers)


def client(replies: Replies, **fields: Any) -> VendorClient:
    profile = VendorProfile(**{"name": "plain", "kind": "openai", "model": "m", "base_url": "http://vendor.test/v1/",
                               "retries": 2, **fields})
    return VendorClient(profile, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(replies)),
                        backoff_s=0.001)


async def test_request_headers_url_and_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_TEST_HTTP_KEY", "sk-test-abc123")
    replies = Replies((200, OK, {}))
    out = await client(replies, api_key_env="BATON_TEST_HTTP_KEY", timeout_s=7.5).chat(ASK)
    (request,) = replies.requests
    assert str(request.url) == "http://vendor.test/v1/chat/completions"  # no doubled slash
    assert request.method == "POST"
    assert request.headers["authorization"] == "Bearer sk-test-abc123"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == f"baton/{__version__}"
    assert "x-baton-attempt" not in request.headers  # only the simulated vendor counts attempts
    assert request.extensions["timeout"] == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}
    assert json.loads(request.content)["messages"] == ASK
    assert (out.text, out.model, out.usage.input_tokens) == ("billing", "served", 4)


@pytest.mark.parametrize("error, described", [
    (httpx2.ConnectError("refused"), "connection error"),
    (httpx2.ReadError("reset by peer"), "connection error"),
    (httpx2.RemoteProtocolError("server disconnected"), "connection error"),
    (httpx2.ConnectTimeout("slow"), "request timed out"),
    (httpx2.ReadTimeout("slow"), "request timed out"),
])
async def test_transport_errors_are_retried_then_infra_errors(error: Exception, described: str) -> None:
    replies = Replies(error, error, error)
    with pytest.raises(InfraError, match=rf"failed after 3 attempt\(s\): {described}$"):
        await client(replies).chat(ASK)
    assert len(replies.requests) == 3
    recovering = Replies(error, (200, OK, {}))
    out = await client(recovering).chat(ASK)
    assert out.text == "billing" and out.usage.retries == 1


@pytest.mark.parametrize("status, name", [(408, "APIStatusError"), (409, "ConflictError"), (429, "RateLimitError"),
                                          (500, "InternalServerError"), (502, "InternalServerError"),
                                          (503, "InternalServerError")])
async def test_retryable_statuses(status: int, name: str) -> None:
    replies = Replies((status, {"error": {"message": "try later"}}, {}), (200, OK, {}))
    assert (await client(replies).chat(ASK)).usage.retries == 1
    replies = Replies(*[(status, {"error": {"message": "try later"}}, {})] * 3)
    with pytest.raises(InfraError, match=rf"3 attempt\(s\): HTTP {status} \({name}\): Error code: {status} - try later"):
        await client(replies).chat(ASK)


@pytest.mark.parametrize("status, name", [(404, "NotFoundError"), (405, "APIStatusError"), (418, "APIStatusError")])
async def test_other_client_errors_are_not_retried(status: int, name: str) -> None:
    replies = Replies((status, {"error": {"message": "no such model 'm'"}}, {}))
    with pytest.raises(InfraError, match=rf"1 attempt\(s\): HTTP {status} \({name}\): .*no such model"):
        await client(replies).chat(ASK)
    assert len(replies.requests) == 1


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failures_do_not_echo_the_body(status: int) -> None:
    replies = Replies((status, {"error": {"message": "Incorrect API key provided: sk-live-0123"}}, {}))
    with pytest.raises(InfraError) as err:
        await client(replies).chat(ASK)
    assert str(err.value).endswith(f"HTTP {status} ({'AuthenticationError' if status == 401 else 'PermissionDeniedError'})")


async def test_an_error_body_that_is_not_json_keeps_the_status() -> None:
    replies = Replies((502, b"<html>Bad Gateway</html>", {}))
    with pytest.raises(InfraError, match=r"HTTP 502 \(InternalServerError\): Error code: 502$"):
        await client(replies, retries=0).chat(ASK)


async def test_a_redirect_is_followed() -> None:
    replies = Replies((307, b"", {"location": "http://vendor.test/v2/chat/completions"}), (200, OK, {}))
    assert (await client(replies).chat(ASK)).text == "billing"
    assert [str(r.url) for r in replies.requests][-1] == "http://vendor.test/v2/chat/completions"


def test_retry_after_forms() -> None:
    """Seconds, milliseconds (``retry-after-ms`` first) and an HTTP date (a past one waits 0)."""
    def after(headers: dict[str, str]) -> float | None:
        return _retry_after(StatusFailure(429, httpx2.Headers(headers), "Error code: 429"))

    assert after({"retry-after": "2.5"}) == 2.5
    assert after({"retry-after-ms": "40", "retry-after": "9"}) == 0.04
    ahead = after({"retry-after": formatdate(time.time() + 30, usegmt=True)})
    assert ahead is not None and 28 <= ahead <= 30
    assert after({"retry-after": formatdate(time.time() - 30, usegmt=True)}) == 0.0
    assert after({"retry-after": "soon"}) is None and after({}) is None
    assert _retry_after(TransportFailure(timed_out=True)) is None


async def test_a_client_passed_in_stays_open_and_an_own_one_is_closed() -> None:
    replies = Replies((200, OK, {}))
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(replies))
    vendor = VendorClient(VendorProfile(name="p", model="m", base_url="http://vendor.test/v1"), http_client=http)
    await vendor.chat(ASK)
    await vendor.aclose()
    assert not http.is_closed
    await http.aclose()
    own = VendorClient(VendorProfile(name="p", model="m", base_url="http://127.0.0.1:9/v1"))
    endpoint = await own._endpoint_client()
    await own.aclose()
    assert endpoint.http.is_closed


async def test_plain_http_reads_no_trust_store_and_https_is_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run against http:// endpoints never builds the TLS context; the first https:// request
    builds the shared, verifying one (checked against a closed loopback port: no network)."""
    from baton.client import _TLSOnDemand, new_http_client, tls_context
    from baton.sim import SimKnobs, SimServer

    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    tls_context.cache_clear()
    with SimServer({"m": SimKnobs()}) as server:
        async with new_http_client() as http:
            assert (await http.get(server.base_url.rsplit("/v1", 1)[0] + "/health")).status_code == 200
            assert tls_context.cache_info().currsize == 0
            transport = http._transport
            assert isinstance(transport, _TLSOnDemand) and transport._tls is None
            with pytest.raises(httpx2.ConnectError):
                await http.get(f"https://127.0.0.1:{_closed_port()}/v1/models")
            assert tls_context.cache_info().currsize == 1 and transport._tls is not None
            assert tls_context().verify_mode.name == "CERT_REQUIRED" and tls_context().check_hostname


async def test_a_proxy_in_the_environment_gets_a_verifying_client_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    from baton.client import _TLSOnDemand, new_http_client

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    async with new_http_client() as http:
        assert not isinstance(http._transport, _TLSOnDemand)


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_pool_shares_one_http_client_per_base_url_and_closes_it() -> None:
    """Profiles served at one URL (the embedded simulated vendor's models) share a connection
    pool; a profile elsewhere gets its own; closing the pool closes them."""
    from baton.client import ClientPool
    from baton.sim import SimKnobs, SimServer

    with SimServer({"m1": SimKnobs(), "m2": SimKnobs()}) as other:
        profiles = {"a": VendorProfile(name="a", kind="sim", model="sim-a"),
                    "b": VendorProfile(name="b", kind="sim", model="sim-b"),
                    "c": VendorProfile(name="c", kind="openai", model="m1", base_url=other.base_url)}
        async with ClientPool(profiles) as pool:
            endpoints = [await pool.client(name)._endpoint_client() for name in "abc"]
            a, b, c = (e.http for e in endpoints)
            assert a is b and a is not c and not any(e.owned for e in endpoints)
        assert a.is_closed and c.is_closed
