"""The one model client: any OpenAI-compatible endpoint, posted to with ``httpx2``.

:class:`VendorClient` implements :class:`baton.model.ModelClient` for one vendor profile: it
retries 429/5xx/timeouts/connection errors with tenacity (honouring ``Retry-After``), raises
:class:`InfraError` once retries are spent, records latency, tokens, cost and retries, speaks
the profile's structured-output dialect, and consults an optional response cache.
:class:`ClientPool` hands out one client per profile and starts/stops the embedded vendors
(the simulated vendor and the local model) that a run uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx2

from baton import __version__
from baton.call_context import HEADER, current_call
from baton.errors import ConfigError
from baton.model import ChatResponse, InfraError, Message, RequestedToolCall
from baton.trace import Usage
from baton.vendor_config import resolve
from baton.task import GoldenTask
from baton.vendor_kinds import EmbeddedVendor, StartContext, VendorKind, kind_of
from baton.vendors import VendorProfile

if TYPE_CHECKING:
    from tenacity import RetryCallState

log = logging.getLogger(__name__)

KEYLESS = "baton-no-key"  # sent to endpoints that need no key (local, sim, most vLLM/Ollama servers)
_RETRY_AFTER_CAP_S = 60.0
_USER_AGENT = f"baton/{__version__}"
# as the ``openai`` SDK's pool: up to 1,000 connections, 100 kept alive between calls
_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
_SECRETISH = re.compile(r"\b(?:sk|pk|rk|key)[-_][A-Za-z0-9_\-*.]{3,}", re.I)


class ResponseCache(Protocol):
    """What the client needs of a cache (``baton.cache`` provides the disk one)."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


# --- ChatResponse <-> dict -------------------------------------------------------------------

def call_headers() -> dict[str, str]:
    """The headers that tell a vendor which run and hop the current call belongs to (none outside a run)."""
    context = current_call.get()
    return {HEADER: context.to_header()} if context is not None else {}


def call_task() -> str:
    """``task_id@version`` of the current call, or '' outside a run."""
    context = current_call.get()
    return f"{context.task_id}@{context.task_version}" if context is not None else ""


def response_to_dict(response: ChatResponse) -> dict[str, Any]:
    """A JSON-serialisable form of a response (for the cache and for traces)."""
    return {
        "text": response.text,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments, "raw_arguments": c.raw_arguments,
                        "error": c.error} for c in response.tool_calls],
        "parsed": response.parsed,
        "error": response.error,
        "usage": response.usage.model_dump(),
        "latency_s": response.latency_s,
        "vendor": response.vendor,
        "model": response.model,
        "finish_reason": response.finish_reason,
    }


def response_from_dict(data: Mapping[str, Any]) -> ChatResponse:
    """The inverse of :func:`response_to_dict`."""
    return ChatResponse(
        text=data.get("text", ""),
        tool_calls=[RequestedToolCall(id=c["id"], name=c["name"], arguments=c.get("arguments") or {},
                                      raw_arguments=c.get("raw_arguments", ""), error=c.get("error"))
                    for c in data.get("tool_calls") or ()],
        parsed=data.get("parsed"),
        error=data.get("error"),
        usage=Usage.model_validate(data.get("usage") or {}),
        latency_s=float(data.get("latency_s", 0.0)),
        vendor=data.get("vendor", ""),
        model=data.get("model", ""),
        finish_reason=data.get("finish_reason"),
    )


def cache_key(vendor: str, model: str, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
              response_format: Any, temperature: float, max_tokens: int | None, seed: int | None) -> str:
    """sha256 of the canonical JSON of everything that determines a response."""
    payload = [vendor, model, messages, tools, response_format, temperature, max_tokens, seed]
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def cache_identity(profile: VendorProfile) -> str:
    """What, besides the request, determines a vendor's responses: its name, and for the embedded
    vendors their settings and (simulated vendor) the simulator's own code, so a cache never
    replays answers from an older simulator or other knobs."""
    identity = profile.name
    if profile.max_output_tokens is not None:
        identity += f"|max_output_tokens={profile.max_output_tokens}"
    kind = kind_of(profile)
    if kind.identity is not None:
        return f"{identity}|{kind.identity(profile)}"
    return identity


@functools.lru_cache(maxsize=1)
def sim_code_fingerprint() -> str:
    """A digest of the simulator's code (part of a simulated vendor's cache identity)."""
    import baton.sim

    digest = hashlib.sha256()
    for path in sorted(Path(baton.sim.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# --- structured output dialects --------------------------------------------------------------

def structured_request(dialect: str, schema: dict[str, Any], schema_name: str,
                       messages: Sequence[Message]) -> tuple[dict[str, Any], Sequence[Message]]:
    """Request arguments (and possibly amended messages) asking for JSON that fits ``schema``."""
    if dialect == "json_schema":
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": schema_name, "schema": schema, "strict": True}}}, messages
    if dialect == "json_object_schema":
        return {"response_format": {"type": "json_object", "schema": schema}}, messages
    if dialect == "tools":
        tool = {"type": "function", "function": {"name": schema_name, "description": "Return the answer.",
                                                 "parameters": schema}}
        return {"tools": [tool], "tool_choice": {"type": "function", "function": {"name": schema_name}}}, messages
    if dialect == "prompt":
        instruction = ("Respond with only a JSON object, no prose, that conforms to this JSON schema:\n"
                       + json.dumps(schema))
        if messages and messages[0].get("role") == "system":
            first = dict(messages[0])
            first["content"] = f"{first.get('content') or ''}\n\n{instruction}"
            return {}, [first, *messages[1:]]
        return {}, [{"role": "system", "content": instruction}, *messages]
    raise ConfigError(f"unknown structured_output dialect {dialect!r}")


def extract_json(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object in a model's text (bare, fenced, or surrounded by prose), or an error."""
    stripped = text.strip()
    try:
        value = json.loads(stripped)
    except ValueError:
        value = None
        start, end = stripped.find("{"), stripped.rfind("}")
        if start != -1 and end > start:
            try:
                value = json.loads(stripped[start:end + 1])
            except ValueError:
                value = None
        if value is None:
            return None, f"malformed JSON in the model's output: {stripped[:80]!r}"
    if not isinstance(value, dict):
        return None, f"expected a JSON object, got {type(value).__name__}"
    return value, None


# --- failures ---------------------------------------------------------------------------------

class VendorFailure(Exception):
    """One failed exchange with a vendor (the client turns it into a retry, an
    :class:`InfraError` or a rejected-request response)."""

    def describe(self) -> str:
        return str(self)


class TransportFailure(VendorFailure):
    """No HTTP response: the connection failed, broke, or (``timed_out``) the timeout ran out."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("request timed out" if timed_out else "connection error")
        self.timed_out = timed_out


_STATUS_NAMES = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
                 404: "NotFoundError", 409: "ConflictError", 422: "UnprocessableEntityError",
                 429: "RateLimitError"}
"""The names OpenAI-compatible SDKs give these statuses (kept in messages users already know)."""


class StatusFailure(VendorFailure):
    """An HTTP response outside 2xx; ``message`` carries the body's ``error.message`` when it has one."""

    def __init__(self, status: int, headers: Mapping[str, str], message: str) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers
        self.message = message

    @classmethod
    def of(cls, response: httpx2.Response) -> StatusFailure:
        message = f"Error code: {response.status_code}"
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        error = body.get("error", body) if isinstance(body, dict) else None
        detail = error.get("message") if isinstance(error, dict) else None
        if isinstance(detail, str) and detail:
            message += f" - {detail}"
        return cls(response.status_code, response.headers, message)

    @property
    def name(self) -> str:
        if self.status in _STATUS_NAMES:
            return _STATUS_NAMES[self.status]
        return "InternalServerError" if self.status >= 500 else "APIStatusError"

    def describe(self) -> str:
        text = f"HTTP {self.status} ({self.name})"
        if self.status not in (401, 403):  # their bodies may echo the key
            text += f": {self.message}"
        return text


class MalformedResponse(VendorFailure):
    """A 2xx response whose body is not a JSON object (not retried: the vendor answered)."""

    def describe(self) -> str:
        return f"malformed response: {self}"


# --- retries ---------------------------------------------------------------------------------

_SYSTEM_FAULT_STATUSES = frozenset({400, 413, 422})
"""HTTP statuses that mean "this request cannot be served" (the system's fault), not "the vendor is down"."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, TransportFailure):  # connection errors and timeouts
        return True
    if isinstance(exc, StatusFailure):
        return exc.status in (408, 409, 429) or exc.status >= 500
    return False


def _retry_after(exc: BaseException | None) -> float | None:
    if not isinstance(exc, StatusFailure):
        return None
    headers = exc.headers
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class _Wait:
    """Retry-After when the server says so, else exponential backoff from ``base_s``."""

    def __init__(self, base_s: float, cap_s: float) -> None:
        self.base_s = base_s
        self.cap_s = cap_s

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        after = _retry_after(exc)
        if after is not None:
            return min(after, _RETRY_AFTER_CAP_S)
        return min(self.cap_s, self.base_s * 2 ** (state.attempt_number - 1))


def _describe(exc: BaseException, secret: str | None) -> str:
    text = exc.describe() if isinstance(exc, VendorFailure) else f"{type(exc).__name__}: {exc}"
    return redact(text, secret)


def redact(text: str, secret: str | None) -> str:
    """``text`` with the key (and anything shaped like a key) blanked out."""
    if secret:
        text = text.replace(secret, "***")
    return _SECRETISH.sub("***", text)


# --- the client ------------------------------------------------------------------------------

class VendorClient:
    """:class:`baton.model.ModelClient` for one vendor profile over an OpenAI-compatible endpoint.

    ``endpoint`` (used by :class:`ClientPool`) is awaited once before the first call and returns
    the base URL of an embedded vendor that it starts on demand. ``http_for`` (also the pool's)
    returns the shared HTTP client of a base URL; without it and without ``http_client`` the
    client makes, and closes, its own."""

    def __init__(self, profile: VendorProfile, *, cache: ResponseCache | None = None,
                 http_client: Any | None = None, backoff_s: float = 0.5, backoff_cap_s: float = 20.0,
                 endpoint: Callable[[], Awaitable[str]] | None = None,
                 http_for: Callable[[str], httpx2.AsyncClient] | None = None) -> None:
        self._profile = profile
        self._cache = cache
        self._cache_identity = cache_identity(profile)
        self._http_client = http_client
        self._http_for = http_for
        self._endpoint = endpoint
        self._wait = _Wait(backoff_s, backoff_cap_s)
        self._client: _Endpoint | None = None
        self._start_lock: asyncio.Lock | None = None
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None
        self._sim = kind_of(profile).simulated
        if endpoint is None and profile.base_url is None:
            raise ConfigError(f"vendor profile '{profile.name}': base_url: required for kind "
                              f"'{profile.kind}' outside a ClientPool")

    def __repr__(self) -> str:
        return f"VendorClient({self._profile.name!r}, model={self._profile.model!r})"

    @property
    def profile(self) -> VendorProfile:
        return self._profile

    @property
    def vendor_name(self) -> str:
        return self._profile.name

    @property
    def model_name(self) -> str:
        return self._profile.model

    @property
    def simulated(self) -> bool:
        return self._profile.simulated

    def _make_client(self, base_url: str) -> _Endpoint:
        headers = {"Authorization": f"Bearer {self._api_key()}", "Content-Type": "application/json",
                   "Accept": "application/json", "User-Agent": _USER_AGENT}
        timeout = httpx2.Timeout(self._profile.timeout_s)
        http = self._http_client
        if http is None and self._http_for is not None:
            http = self._http_for(base_url)
        owned = http is None
        if http is None:
            http = new_http_client(timeout=timeout)
        return _Endpoint(http, f"{base_url.rstrip('/')}/chat/completions", headers, timeout, owned)

    def _api_key(self) -> str:
        """The key, read from the profile's environment variable when the HTTP client is made
        (on the first call), so a missing variable is an :class:`InfraError` of that call."""
        env = self._profile.api_key_env
        if env is None:
            return KEYLESS
        value = os.environ.get(env)
        if not value:
            raise InfraError(f"vendor '{self._profile.name}': environment variable {env} is not set")
        return value

    def _secret(self) -> str | None:
        env = self._profile.api_key_env
        return os.environ.get(env) if env else None

    async def _endpoint_client(self) -> _Endpoint:
        if self._client is not None:
            return self._client
        if self._endpoint is None:
            assert self._profile.base_url is not None
            self._client = self._make_client(self._profile.base_url)
            return self._client
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._client is None:
                assert self._endpoint is not None
                self._client = self._make_client(await self._endpoint())
        return self._client

    async def aclose(self) -> None:
        """Close the underlying HTTP client (one passed in as ``http_client`` stays open: its owner closes it)."""
        client, self._client = self._client, None
        if client is not None and client.owned:
            await client.http.aclose()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:
            self._sem = asyncio.Semaphore(self._profile.max_concurrency)
            self._sem_loop = loop
        return self._sem

    async def chat(self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None,
                   schema: dict[str, Any] | None = None, schema_name: str = "output",
                   temperature: float = 0.0, max_tokens: int | None = None,
                   seed: int | None = None) -> ChatResponse:
        profile = self._profile
        key = None
        if self._cache is not None and temperature == 0:
            structured = [schema, schema_name, profile.structured_output] if schema is not None else None
            identity = self._cache_identity
            if self._sim:  # the simulated vendor answers from the gold of the call's task
                identity += f"|task:{call_task()}"
            key = cache_key(identity, profile.model, messages, tools, structured, temperature,
                            max_tokens, seed)
            hit = self._cache.get(key)
            if hit is not None:
                cached = response_from_dict(hit)
                cached.usage = Usage(input_tokens=cached.usage.input_tokens, output_tokens=cached.usage.output_tokens,
                                     calls=1, cached_calls=1)
                cached.latency_s = 0.0
                return cached

        kwargs: dict[str, Any] = {"model": profile.model, "temperature": temperature}
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = "auto"  # the OpenAI default, spelled out: llama.cpp treats none as "none"
        if schema is not None:
            extra, messages = structured_request(profile.structured_output, schema, schema_name, messages)
            kwargs.update(extra)
        kwargs["messages"] = messages
        if max_tokens is None:
            max_tokens = profile.max_output_tokens
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if seed is not None:
            kwargs["seed"] = seed

        client = await self._endpoint_client()
        attempts = 0
        started = time.perf_counter()
        async with self._semaphore():
            try:
                try:
                    attempts = 1
                    data = await self._post(client, kwargs, 0)
                except VendorFailure as exc:
                    if profile.retries < 1 or not _retryable(exc):
                        raise
                    first: BaseException | None = exc
                    # tenacity is imported here, on the first retry: a run whose calls all succeed
                    # never loads it.
                    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

                    # Retries go through tenacity; the failed first attempt is replayed as its
                    # attempt 1, so stop and wait (Retry-After included) see it as usual.
                    async for attempt in AsyncRetrying(stop=stop_after_attempt(profile.retries + 1),
                                                       retry=retry_if_exception(_retryable), wait=self._wait,
                                                       reraise=True):
                        with attempt:
                            if first is not None:
                                failed, first = first, None
                                raise failed
                            attempts += 1
                            data = await self._post(client, kwargs, attempts - 1)
            except VendorFailure as exc:
                if isinstance(exc, StatusFailure) and exc.status in _SYSTEM_FAULT_STATUSES:
                    # The vendor is up and answered: the *system* sent a request the model cannot
                    # serve (context too long, a schema it rejects). That fails the task, it is
                    # not an infrastructure error.
                    return ChatResponse(error=f"vendor '{profile.name}' rejected the request: "
                                              f"{_describe(exc, self._secret())}",
                                        usage=Usage(calls=1, retries=attempts - 1),
                                        latency_s=time.perf_counter() - started,
                                        vendor=profile.name, model=profile.model)
                message = (f"vendor '{profile.name}' failed after {attempts} attempt(s): "
                           f"{_describe(exc, self._secret())}")
                log.warning(message)
                raise InfraError(message) from None
        latency = time.perf_counter() - started
        response = self._read(data, schema, latency, attempts - 1)
        if key is not None:
            self._cache.put(key, response_to_dict(response))  # type: ignore[union-attr]
        return response

    async def _post(self, client: _Endpoint, body: dict[str, Any], attempt: int) -> dict[str, Any]:
        """One ``POST /chat/completions`` of the plain JSON ``body``; the decoded JSON body, or a
        :class:`VendorFailure` (no response, a status outside 2xx, a body that is not a JSON object)."""
        headers = dict(client.headers)
        headers.update(call_headers())
        if self._sim:
            headers["x-baton-attempt"] = str(attempt)  # the simulator's faults are per attempt
        try:
            raw = await client.http.post(client.url, content=json.dumps(body).encode(), headers=headers,
                                         timeout=client.timeout, follow_redirects=True)
        except httpx2.TimeoutException:
            raise TransportFailure(timed_out=True) from None
        except (httpx2.RequestError, httpx2.InvalidURL):  # as the SDK did: any other send failure
            raise TransportFailure(timed_out=False) from None
        if not raw.is_success:
            raise StatusFailure.of(raw)
        try:
            data = json.loads(raw.content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise MalformedResponse(f"the vendor's response is not a JSON object: {raw.text[:80]!r}")
        return data

    def _read(self, data: dict[str, Any], schema: dict[str, Any] | None, latency: float,
              retries: int) -> ChatResponse:
        """A :class:`ChatResponse` from the JSON body of a chat completion."""
        profile = self._profile
        usage = data.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        tin, tout = _tokens(usage.get("prompt_tokens")), _tokens(usage.get("completion_tokens"))
        response = ChatResponse(
            usage=Usage(input_tokens=tin, output_tokens=tout, cost_usd=profile.cost_usd(tin, tout), calls=1,
                        retries=retries),
            latency_s=latency, vendor=profile.name, model=data.get("model") or profile.model)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            response.error = "the vendor returned no choices"
            return response
        choice = choices[0]
        message = choice.get("message")
        if not isinstance(message, dict):
            message = {}
        response.finish_reason = choice.get("finish_reason")
        content = message.get("content")
        response.text = content if isinstance(content, str) else ""
        for call in message.get("tool_calls") or ():
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict):
                continue
            raw = fn.get("arguments") or ""
            if not isinstance(raw, str):
                raw = json.dumps(raw)
            try:
                arguments = json.loads(raw) if raw.strip() else {}
                error = None if isinstance(arguments, dict) else "tool arguments are not a JSON object"
            except ValueError as exc:
                arguments, error = {}, f"tool arguments are not valid JSON: {exc}"
            if not isinstance(arguments, dict):
                arguments = {}
            response.tool_calls.append(RequestedToolCall(id=call.get("id") or "", name=fn.get("name") or "",
                                                         arguments=arguments, raw_arguments=raw, error=error))
        if schema is not None:
            if profile.structured_output == "tools":
                forced = [c for c in response.tool_calls if c.name]
                if not forced:
                    response.error = "the model did not call the structured-output function"
                elif forced[0].error:
                    response.error = f"malformed JSON in the model's output: {forced[0].error}"
                else:
                    response.parsed = forced[0].arguments
                    response.text = response.text or forced[0].raw_arguments
                response.tool_calls = []
            else:
                response.parsed, response.error = extract_json(response.text)
        return response


@functools.lru_cache(maxsize=1)
def tls_context() -> Any:
    """The process's one verifying TLS context (an ``ssl.SSLContext`` on the system trust store),
    shared by every HTTP client Baton makes: building one reads the trust store, 30-40 ms of CPU,
    which each ``httpx2.AsyncClient`` would otherwise pay again."""
    return httpx2.create_ssl_context()


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


class _TLSOnDemand(httpx2.AsyncBaseTransport):
    """A transport that builds the verifying TLS context on its first ``https://`` request:
    ``http://`` requests (a loopback simulated vendor, a local llama.cpp/vLLM/Ollama server) go
    through a connection pool that never speaks TLS, so a run against them pays no trust-store
    read. Each scheme has its own pool; an ``https://`` request is always verified."""

    def __init__(self, limits: httpx2.Limits) -> None:
        self._limits = limits
        # verify=False only spares the trust-store read: this pool serves http:// requests alone
        self._plain = httpx2.AsyncHTTPTransport(verify=False, limits=limits)
        self._tls: httpx2.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.scheme == "http":
            return await self._plain.handle_async_request(request)
        if self._tls is None:
            self._tls = httpx2.AsyncHTTPTransport(verify=tls_context(), limits=self._limits)
        return await self._tls.handle_async_request(request)

    async def aclose(self) -> None:
        await self._plain.aclose()
        if self._tls is not None:
            await self._tls.aclose()


def new_http_client(*, limits: httpx2.Limits = _LIMITS, **options: Any) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` (``options`` as its constructor's) that reads the trust store
    only when it first needs TLS. With a proxy set in the environment (httpx2 builds the proxies'
    transports up front) it verifies with the shared :func:`tls_context` from the start."""
    if any(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES):
        return httpx2.AsyncClient(limits=limits, verify=tls_context(), **options)
    return httpx2.AsyncClient(transport=_TLSOnDemand(limits), **options)


class _Endpoint:
    """Where a client posts: the pooled HTTP client, the completions URL, the fixed headers
    (key, content type, user agent) and the profile's timeout."""

    __slots__ = ("headers", "http", "owned", "timeout", "url")

    def __init__(self, http: httpx2.AsyncClient, url: str, headers: dict[str, str], timeout: httpx2.Timeout,
                 owned: bool) -> None:
        self.http = http
        self.url = url
        self.headers = headers
        self.timeout = timeout
        self.owned = owned


def _tokens(value: Any) -> int:
    """A token count from a response's usage (absent or malformed counts as 0)."""
    return value if isinstance(value, int) and value >= 0 else 0


# --- the pool --------------------------------------------------------------------------------

class ClientPool:
    """One client per vendor profile, and the embedded vendors those clients need.

    ``async with ClientPool(profiles) as pool: client = pool.client("sim-frontier")``. The
    embedded vendors of the profiles' kinds (:mod:`baton.vendor_kinds`: the simulated vendor, one
    server for every ``kind = "sim"`` profile without a ``base_url``; the local model; a user's
    kind) start on the first call that needs them and stop when the pool closes, also on error
    and on Ctrl-C."""

    def __init__(self, profiles: Mapping[str, VendorProfile], *, cache: ResponseCache | None = None,
                 http_client: Any | None = None, backoff_s: float = 0.5,
                 tasks: Iterable[GoldenTask] = ()) -> None:
        self._profiles = dict(profiles)
        self._tasks: dict[tuple[str, int], GoldenTask] = {(t.id, t.version): t for t in tasks}
        self._cache = cache
        self._http_client = http_client
        self._backoff_s = backoff_s
        self._clients: dict[str, VendorClient] = {}
        self._http: dict[str, httpx2.AsyncClient] = {}  # base URL -> the connection pool its profiles share
        self._servers: dict[str, tuple[VendorKind, EmbeddedVendor]] = {}  # kind or kind/profile -> server
        self._lock: asyncio.Lock | None = None

    def profile(self, name: str) -> VendorProfile:
        return resolve(self._profiles, name)

    @property
    def profiles(self) -> dict[str, VendorProfile]:
        return dict(self._profiles)

    def client(self, name: str) -> VendorClient:
        """The client for profile ``name`` (one per name for the pool's lifetime)."""
        client = self._clients.get(name)
        if client is None:
            profile = self.profile(name)
            kind = kind_of(profile)
            endpoint = None
            if kind.start is not None and profile.base_url is None:
                async def endpoint(profile: VendorProfile = profile, kind: VendorKind = kind) -> str:
                    return await self._embedded_endpoint(kind, profile)
            client = VendorClient(profile, cache=self._cache, http_client=self._http_client,
                                  backoff_s=self._backoff_s, endpoint=endpoint, http_for=self._http_of)
            self._clients[name] = client
        return client

    def _http_of(self, base_url: str) -> httpx2.AsyncClient:
        """The one HTTP client (connection pool) of ``base_url``, shared by every profile there
        (the embedded simulated vendor serves all its models at one URL)."""
        http = self._http.get(base_url)
        if http is None or http.is_closed:
            http = self._http[base_url] = new_http_client()
        return http

    def add_tasks(self, tasks: Iterable[GoldenTask]) -> None:
        """Tasks the simulated vendor must know (also after it started): any user's task set."""
        new = [t for t in tasks if self._tasks.get((t.id, t.version)) is not t]
        for task in new:
            self._tasks[(task.id, task.version)] = task
        if new:
            for kind, server in self._servers.values():
                if kind.add_tasks is not None:
                    kind.add_tasks(server, new)

    def _guard(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def embedded(self, kind: str, profile: str | None = None) -> EmbeddedVendor | None:
        """The running embedded vendor of ``kind`` (of ``profile`` for a per-profile kind), if started."""
        entry = self._servers.get(kind) or self._servers.get(f"{kind}/{profile}")
        return entry[1] if entry is not None else None

    async def _embedded_endpoint(self, kind: VendorKind, profile: VendorProfile) -> str:
        assert kind.start is not None
        key = kind.name if kind.shared else f"{kind.name}/{profile.name}"
        async with self._guard():
            entry = self._servers.get(key)
            if entry is None:
                server = await kind.start(profile, StartContext(self._profiles, list(self._tasks.values())))
                entry = self._servers[key] = (kind, server)
            return entry[1].base_url

    async def aclose(self) -> None:
        """Stop every embedded vendor this pool started and close the HTTP clients."""
        servers, self._servers = list(self._servers.values()), {}
        clients, self._clients = list(self._clients.values()), {}
        shared, self._http = list(self._http.values()), {}
        try:
            for client in clients:
                with contextlib.suppress(Exception):  # a client bound to a finished loop: nothing to free
                    await client.aclose()
            for http in shared:
                with contextlib.suppress(Exception):
                    await http.aclose()
        finally:
            await _stop_all([server for _, server in reversed(servers)])

    def close(self) -> None:
        """Best-effort synchronous stop of the embedded vendors (outside a running loop)."""
        servers, self._servers = list(self._servers.values()), {}
        for _, server in reversed(servers):
            server.stop()

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _stop_all(servers: list[EmbeddedVendor]) -> None:
    """Stop each server, every one even when an earlier stop raises (the first error re-raised)."""
    if not servers:
        return
    try:
        await servers[0].astop()
    finally:
        await _stop_all(servers[1:])
