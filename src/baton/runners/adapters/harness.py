"""What every adapter shares: serve the run's world over MCP, build the request, hand out metered
model clients, and turn what happened (hop events, MCP tool calls) into the trace.

A system that cannot be reached (connection refused) or a Baton model client failing after its
retries is an infrastructure error; anything else the adapted system does wrong (it raises,
returns a malformed response, times out) is the system's failure, recorded on a hop.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from baton.call_context import CallContext, calling_as
from baton.errors import ConfigError
from baton.model import ChatResponse, InfraError, Message, ModelClient
from baton.runners.adapters.gateway import ModelGateway
from baton.runners.adapters.types import AdapterRequest, AdapterResponse, HopEvent
from baton.runners.context import RunContext
from baton.runners.mcp_world import ToolOutcome, serve_world_http
from baton.systems import ROLES
from baton.trace import Hop, HopKind, Usage

_EMPTY_OUTPUT: dict[str, dict[str, Any]] = {
    "route": {"route": None},
    "retrieve": {"doc_ids": [], "record_ids": []},
    "generate": {"text": ""},
    "tool": {"name": "", "arguments": {}, "result": None, "error": None, "side_effect": False},
    "verify": {"verdict": None, "issues": []},
}


class AdapterInfraError(Exception):
    """The adapted system could not be reached at all; the run is excluded from success rates."""


@dataclass(slots=True)
class Step:
    """A hop and when it started (seconds since the request; None when the system did not say)."""

    offset: float | None
    hop: Hop


def complete_output(kind: HopKind, output: dict[str, Any]) -> dict[str, Any]:
    """``output`` with the keys its hop kind requires (see :mod:`baton.trace`) filled in."""
    return {**_EMPTY_OUTPUT[kind], **output}


class _MeteredClient:
    """A Baton model client handed to an adapted system: records usage and infra failures."""

    def __init__(self, inner: ModelClient, session: AdapterSession) -> None:
        self._inner = inner
        self._session = session

    @property
    def vendor_name(self) -> str:
        return self._inner.vendor_name

    @property
    def model_name(self) -> str:
        return self._inner.model_name

    @property
    def simulated(self) -> bool:
        return self._inner.simulated

    async def chat(self, messages: Sequence[Message], **options: Any) -> ChatResponse:
        options.setdefault("seed", self._session.seed)
        try:
            response = await self._inner.chat(messages, **options)
        except InfraError as exc:
            self._session.infra_error = self._session.infra_error or f"{self.vendor_name}: {exc}"
            raise
        now = time.perf_counter()
        self._session.metered.append((now, response.usage.model_copy()))
        self._session.served_by.append((now, response.vendor or self.vendor_name, response.model or self.model_name))
        return response


class AdapterSession:
    """The harness side of one adapted run."""

    def __init__(self, ctx: RunContext) -> None:
        from baton.runners.context import call_seed

        self.ctx = ctx
        self.seed = call_seed(ctx.seed, ctx.trial)
        self.tool_calls: list[ToolOutcome] = []
        self.steps: list[Step] = []
        """Steps an adapter records as the system runs (a stream of events): if the system then
        raises, they stay in the trace before its failure. An adapter that only learns its steps
        at the end returns them instead."""
        self.metered: list[tuple[float, Usage]] = []
        self.served_by: list[tuple[float, str, str]] = []  # (when, vendor, model) of each metered call
        self.model_base_url: str | None = None
        self.infra_error: str | None = None
        self.started_wall = time.time()
        self.started = time.perf_counter()

    def mark_start(self) -> None:
        """The moment the system is invoked: hop offsets count from here."""
        self.started_wall = time.time()
        self.started = time.perf_counter()

    def offset(self) -> float:
        return time.perf_counter() - self.started

    def chat_client(self, name: str) -> ModelClient:
        models = self.ctx.param("models", {}, dict)
        if name in models:
            vendor = models[name]
            self.ctx.trace.vendors[name] = vendor
            client = self.ctx.clients.client(vendor)
            if client.simulated:
                self.ctx.trace.simulated = True
        elif name in ROLES:
            client = self.ctx.client_for(name)
        else:
            raise ConfigError(f"system {self.ctx.system.name!r}: no model named {name!r}; use a role "
                              f"({', '.join(ROLES)}) or add it to params.models")
        return _MeteredClient(client, self)

    def gateway_client(self, model: str) -> ModelClient:
        """The client for a call through the model gateway: ``model`` names a ``params.models``
        entry or a role; any other name is served by the matrix cell's vendor."""
        if model in self.ctx.param("models", {}, dict) or model in ROLES:
            return self.chat_client(model)
        client = self.ctx.clients.client(self.ctx.vendor)
        if client.simulated:
            self.ctx.trace.simulated = True
        return _MeteredClient(client, self)

    def served_between(self, start: float, end: float) -> tuple[str | None, str | None]:
        """Vendor and model of the last metered call that finished in (start, end]."""
        for at, vendor, model in reversed(self.served_by):
            if start < at <= end:
                return vendor, model
        return None, None

    def call_context(self) -> CallContext:
        ctx = self.ctx
        return CallContext(task_id=ctx.task.id, task_version=ctx.task.version, trial=ctx.trial, seed=ctx.seed,
                           mode=ctx.trace.mode)

    def request(self, mcp_url: str | None) -> AdapterRequest:
        task = self.ctx.task
        request = AdapterRequest(
            task_id=task.id, trial=self.ctx.trial, seed=self.ctx.seed, request=task.request,
            customer=task.customer.model_dump(exclude_none=True) if task.customer else None,
            conversation=[{"role": t.role, "content": t.content} for t in task.conversation],
            today=task.world.today.isoformat(), policy=task.policy,
            routes=[{"label": r.label, "description": r.description} for r in task.routes],
            documents=[{"id": d.id, "title": d.title, "text": d.text} for d in task.documents],
            tools=[spec.openai_schema() for spec in task.tools], mcp_url=mcp_url,
            model_base_url=self.model_base_url)
        request._models = self.chat_client
        return request

    def usage_between(self, start: float, end: float) -> Usage:
        """Metered usage of calls that finished in (start, end] (perf_counter seconds)."""
        total = Usage()
        for at, usage in self.metered:
            if start < at <= end:
                total.add(usage)
        return total

    def event_hop(self, event: HopEvent) -> Step:
        hop = Hop(kind=event.kind, name=event.name, input=event.input,
                  output=complete_output(event.kind, event.output), latency_s=event.latency_s,
                  usage=event.usage or Usage(), vendor=event.vendor, model=event.model, error=event.error)
        return Step(event.started_s, hop)

    def tool_steps(self) -> list[Step]:
        return [Step(max(0.0, o.started_s - self.started_wall),
                     Hop(kind="tool", name="act", input={"name": o.name, "arguments": o.arguments},
                         output=o.as_output(), latency_s=o.latency_s, error=o.error))
                for o in self.tool_calls]


def parse_response(value: object, *, source: str) -> AdapterResponse:
    """An adapter's return value (AdapterResponse, str, or a dict of its JSON) as AdapterResponse."""
    if isinstance(value, AdapterResponse):
        return value
    if isinstance(value, str):
        return AdapterResponse(answer=value)
    if isinstance(value, dict):
        try:
            return AdapterResponse.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            raise ValueError(f"{source}: invalid response at '{where}': {first['msg']}; expected "
                             '{"answer": str, "hops": [{"kind", "name", "output", ...}]}') from None
    raise ValueError(f"{source}: expected an AdapterResponse, a dict or a string, got {type(value).__name__}")


Invoke = Callable[[AdapterRequest, AdapterSession], Awaitable[tuple[str, list[Step]]]]


def _merge(session: AdapterSession, steps: list[Step]) -> list[Hop]:
    """Events and MCP tool calls in one timeline.

    Events keep their order; each is placed by its ``started_s`` (or after the event before it),
    tool calls by when the world served them. The last event stays last: it is the step that
    produced the answer, and a remote system's clock may lag Baton's by its network latency."""
    tools = session.tool_steps()
    if tools:  # the world's record of calls is authoritative
        steps = [s for s in steps if s.hop.kind != "tool"]
    if not tools or not steps:
        return [s.hop for s in steps] + [s.hop for s in tools]
    *body, final = steps
    timed: list[tuple[float, int, Hop]] = []
    last = 0.0
    for step in body:
        last = step.offset if step.offset is not None else last
        timed.append((last, 0, step.hop))
    timed += [(s.offset or 0.0, 1, s.hop) for s in tools]
    return [hop for _, _, hop in sorted(timed, key=lambda t: (t[0], t[1]))] + [final.hop]


async def run_adapter(ctx: RunContext, label: str, invoke: Invoke, *, gateway: bool = False) -> None:
    """Serve the world (unless ``params.mcp`` is false), invoke the system, record the trace.

    With ``gateway`` (in-process systems; ``params.gateway`` overrides) the run is registered with
    the model gateway, so the system's own OpenAI-compatible clients are served and metered."""
    session = AdapterSession(ctx)
    serve = serve_world_http(ctx.world, observer=session.tool_calls.append) if ctx.param("mcp", True, bool) \
        else nullcontext(None)
    answer, steps, failure = "", [], None
    async with serve as url:
        run_context = session.call_context()
        routed = ModelGateway.get().register(session, run_context) if ctx.param("gateway", gateway, bool) \
            else nullcontext(None)
        with routed as model_base_url, calling_as(run_context):
            session.model_base_url = model_base_url
            request = session.request(url)
            session.mark_start()
            try:
                answer, steps = await invoke(request, session)
            except ConfigError:
                raise
            except (AdapterInfraError, InfraError) as exc:
                steps = list(session.steps)  # what ran before the failure
                failure = Hop(kind="generate", name=label, output={"text": ""}, latency_s=session.offset(),
                              error=str(exc), infra_error=True)
            except Exception as exc:  # the adapted system failed: its failure, recorded
                steps = list(session.steps)
                failure = Hop(kind="generate", name=label, output={"text": ""}, latency_s=session.offset(),
                              error=f"{type(exc).__name__}: {exc}")
    if failure is not None:
        steps = [*steps, Step(session.offset(), failure)]
    elif not any(step.hop.kind == "generate" for step in steps):  # the answer is a generate hop
        steps = [*steps, Step(session.offset(), Hop(kind="generate", name=label, output={"text": answer},
                                                    latency_s=session.offset()))]
    hops = _merge(session, steps)
    purposes = ctx.system.hop_purposes
    for hop in hops:  # what each hop does, as the system declares it
        if hop.purpose is None and hop.name in purposes:
            hop.purpose = purposes[hop.name]
    ctx.trace.hops.extend(hops)
    ctx.trace.answer = answer
    if not any(hop.usage.calls for hop in ctx.trace.hops):
        for _, usage in session.metered:
            ctx.unattributed.add(usage)
    infra = session.infra_error or (failure.error if failure is not None and failure.infra_error else None)
    if infra is not None:
        ctx.trace.infra_error = infra
