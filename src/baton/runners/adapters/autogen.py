"""autogen: an AutoGen (``autogen-agentchat`` 0.7) team is the system under test; each agent's
message becomes a hop, each tool call a ``tool`` hop.

``params``:

* ``target``: ``"module:function"`` or ``"path/team.py:function"`` naming the function that builds
  the team (sync or async). A team runs one task at a time, so Baton builds one per run. The
  function asks for what it needs by parameter name: ``model_client`` (an AutoGen
  ``OpenAIChatCompletionClient`` served by Baton's model gateway, model ``params.model``),
  ``workbench`` (an AutoGen workbench over the task's world, over MCP: give it to the agents that
  act) and ``request`` (the :class:`AdapterRequest`). Clients it builds itself
  (``OpenAIChatCompletionClient(model=...)``) reach the gateway too: ``OPENAI_BASE_URL`` points
  there while Baton runs (``params.openai_env``, default true), and a ``model`` named in
  ``params.models`` is served by that vendor profile;
* ``answer_agent`` (default: the last agent to speak that is not a verifier): whose last message
  is the reply;
* ``verdict_key`` (default ``verdict``): the field of a structured message (``output_content_type``)
  holding a verdict (``pass``/``fail`` or a boolean); an agent sending one is a verify hop;
* ``approve_text`` (default ``APPROVE``): for a verifier that replies in text, the word that
  approves (AutoGen's usual ``TextMentionTermination("APPROVE")``);
* ``hop_kinds``: agent name -> hop kind; otherwise read from the name (``critic``, ``review``,
  ``verif`` -> verify, ``route`` -> route, ...), as for LangGraph nodes;
* ``max_messages`` (default 50): a team still talking after this many agent messages is stopped,
  and the run fails saying so (a team without a termination condition would run forever);
* ``context`` (default true): start the task with the customer's identity, today's date and the
  operating policy, as Baton's own architectures see them.

What each agent does in the system comes from the system's ``hop_purposes`` (e.g.
``drafter = "draft"``, ``critic = "verify"``). A ``target`` that is missing or is a team rather than
a function, a parameter Baton cannot supply, or an ``answer_agent``/``hop_kinds`` name that is not
one of the team's agents is a configuration error, raised before any task runs.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
import warnings
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from baton.errors import ConfigError
from baton.model import InfraError
from baton.runners.adapters.callable import load_system_target
from baton.runners.adapters.harness import AdapterInfraError, AdapterSession, Step, complete_output, run_adapter
from baton.runners.adapters.langgraph import _gateway_env, jsonable, node_kind
from baton.runners.adapters.types import AdapterRequest
from baton.runners.context import RunContext
from baton.runners.registry import register_architecture
from baton.systems import SystemConfig
from baton.trace import Hop, HopKind

TESTED = "autogen-agentchat 0.7"
SUPPLIED = ("model_client", "workbench", "request")
MAX_MESSAGES = 50
_NO_KEY = "baton-gateway"


def _require_autogen(system: SystemConfig) -> None:
    try:
        import autogen_agentchat  # noqa: F401
        import autogen_ext.models.openai  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"system {system.name!r}: architecture 'autogen' needs AutoGen ({exc.name} is not "
                          f"installed); pip install 'baton-evals[autogen]' (tested with {TESTED})") from None


def _quiet_structured_output_logging() -> None:
    """autogen-ext logs each structured-output response with ``model_dump()``, and Pydantic warns on
    every one that the ``parsed`` field (typed ``None`` by openai) holds the parsed model: noise."""
    warnings.filterwarnings("ignore", category=UserWarning, message=r"Pydantic serializer warnings:\s+"
                            r"PydanticSerializationUnexpectedValue\(Expected `none`[^\n]*field_name='parsed'")


def _quiet_runtime_tracebacks() -> None:
    """AutoGen's runtime logs an agent's failure with its traceback and then raises it from the
    team's run, where Baton records it on the run. Unless the user set up logging, keep the
    traceback off the terminal (Python's last-resort handler would print it)."""
    if not logging.getLogger().handlers and not logging.getLogger("autogen_core").handlers:
        logging.getLogger("autogen_core").setLevel(logging.CRITICAL)


def load_factory(system: SystemConfig) -> Callable[..., Any]:
    """The team-building function ``params.target`` names (ConfigError when it is not one)."""
    _require_autogen(system)
    _quiet_structured_output_logging()
    _quiet_runtime_tracebacks()
    _gateway_env(system)
    target = load_system_target(system)
    where = f"system {system.name!r}: params.target"
    if hasattr(target, "run_stream"):
        raise ConfigError(f"{where}: names a team ({type(target).__name__}); name the function that builds it "
                          "(a team runs one task at a time, so Baton builds one per run)")
    if not callable(target):
        raise ConfigError(f"{where}: expected a function that builds an AutoGen team, got {type(target).__name__}")
    unknown = [name for name, p in inspect.signature(target).parameters.items()
               if name not in SUPPLIED and p.default is inspect.Parameter.empty
               and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    if unknown:
        raise ConfigError(f"{where}: the function asks for {', '.join(unknown)}, which Baton cannot supply; "
                          f"it may take {', '.join(SUPPLIED)} (by name)")
    return target


def model_client(system: SystemConfig, base_url: str) -> Any:
    """An AutoGen chat client served by Baton's model gateway."""
    from autogen_core.models import ModelInfo
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    model = system.params.get("model", "default")
    if not isinstance(model, str):
        raise ConfigError(f"system {system.name!r}: params.model: expected a model name (string), got {model!r}")
    info = ModelInfo(vision=False, function_calling=True, json_output=True, structured_output=True,
                     family="unknown", multiple_system_messages=True)
    return OpenAIChatCompletionClient(model=model, base_url=base_url, api_key=_NO_KEY, model_info=info)


async def build_team(factory: Callable[..., Any], supplied: dict[str, Any], system: SystemConfig) -> Any:
    wanted = inspect.signature(factory).parameters
    team = factory(**{name: value for name, value in supplied.items() if name in wanted})
    if inspect.isawaitable(team):
        team = await team
    return _team(team, system)


def agent_names(team: Any) -> list[str]:
    return [str(getattr(p, "name", p)) for p in getattr(team, "_participants", [])]


def check_names(team: Any, system: SystemConfig) -> None:
    """``answer_agent`` and ``hop_kinds`` name agents of the team (ConfigError listing them)."""
    names = agent_names(team)
    if not names:
        return
    answer = system.params.get("answer_agent")
    if answer is not None and answer not in names:
        raise ConfigError(f"system {system.name!r}: params.answer_agent: {answer!r} is not an agent of the team; "
                          f"its agents are: {', '.join(names)}")
    kinds = system.params.get("hop_kinds") or {}
    if not isinstance(kinds, dict):
        raise ConfigError(f"system {system.name!r}: params.hop_kinds: expected a table agent -> kind, got {kinds!r}")
    for name in kinds:
        if name not in names:
            raise ConfigError(f"system {system.name!r}: params.hop_kinds: {name!r} is not an agent of the team; "
                              f"its agents are: {', '.join(names)}")
        node_kind(name, kinds)


def check_system(system: SystemConfig) -> None:
    """Configuration-time check: AutoGen is installed, the target builds a team, names exist.

    An async builder is only loaded here; its team is built, and its names checked, per run."""
    from baton.runners.adapters.autogen_workbench import WorldWorkbench
    from baton.runners.adapters.gateway import ModelGateway

    factory = load_factory(system)
    if inspect.iscoroutinefunction(factory):
        return
    supplied = {"model_client": model_client(system, ModelGateway.get().base_url),
                "workbench": WorldWorkbench(None), "request": None}
    wanted = inspect.signature(factory).parameters
    try:
        team = factory(**{name: value for name, value in supplied.items() if name in wanted})
    except Exception as exc:  # noqa: BLE001 - the user's function failed: one line, not a traceback
        raise ConfigError(f"system {system.name!r}: params.target: building the team failed: "
                          f"{type(exc).__name__}: {exc}") from None
    check_names(_team(team, system), system)


def _team(team: Any, system: SystemConfig) -> Any:
    if not hasattr(team, "run_stream"):
        raise ConfigError(f"system {system.name!r}: params.target: the function returned "
                          f"{type(team).__name__}, expected an AutoGen team (e.g. RoundRobinGroupChat)")
    return team


def task_messages(request: AdapterRequest, context: bool) -> list[Any]:
    """The conversation and the request as AutoGen messages; the first carries the run's context."""
    from autogen_agentchat.messages import TextMessage

    lines = []
    if context:
        if request.customer:
            who = [f"id {request.customer['id']}"] if request.customer.get("id") else []
            who += [str(request.customer[k]) for k in ("name", "email") if request.customer.get(k)]
            lines.append("Customer: " + ", ".join(who) + ".")
        lines.append(f"Today: {request.today}.")
        if request.policy:
            lines.append(f"Policy: {request.policy}")
    turns = [*request.conversation, {"role": "user", "content": request.request}]
    messages = []
    for i, turn in enumerate(turns):
        text = turn["content"] if i or not lines else "\n".join(lines) + "\n\n" + turn["content"]
        messages.append(TextMessage(content=text, source="user" if turn["role"] == "user" else turn["role"]))
    return messages


def _verdict(message: Any, verdict_key: str, approve_text: str) -> tuple[str | None, list[str]]:
    """A verify hop's verdict and issues, from a structured message or from text."""
    content = getattr(message, "content", None)
    if content is not None and not isinstance(content, (str, list)):
        data = jsonable(content)
        if isinstance(data, dict) and verdict_key in data:
            value = data[verdict_key]
            verdict = ("pass" if value else "fail") if isinstance(value, bool) else \
                (str(value).lower() if str(value).lower() in ("pass", "fail") else None)
            issues = data.get("issues") or []
            return verdict, [str(i) for i in (issues if isinstance(issues, list) else [issues])]
    text = message_text(message)
    if re.search(rf"(?<!\w){re.escape(approve_text)}(?!\w)", text, re.IGNORECASE):  # not in DISAPPROVE
        return "pass", []
    return "fail", [text] if text else []


def message_text(message: Any) -> str:
    content = getattr(message, "content", None)
    if isinstance(content, str):
        return content
    if content is not None and not isinstance(content, list):
        return json.dumps(jsonable(content))
    try:
        return str(message.to_text())
    except Exception:  # noqa: BLE001
        return ""


def _is_structured_verdict(message: Any, verdict_key: str) -> bool:
    content = getattr(message, "content", None)
    if content is None or isinstance(content, (str, list)):
        return False
    data = jsonable(content)
    return isinstance(data, dict) and verdict_key in data


class _Recorder:
    """Turns the team's stream into steps: one hop per agent message, one per tool call."""

    def __init__(self, session: AdapterSession, kinds: dict[str, str], verdict_key: str, approve_text: str) -> None:
        self.session = session
        self.kinds = kinds
        self.verdict_key = verdict_key
        self.approve_text = approve_text
        self.steps: list[Step] = []
        self.spoken: list[tuple[str, HopKind, str]] = []  # (agent, kind, text) per message
        self.previous = time.perf_counter()
        self.calls: dict[str, tuple[str, dict[str, Any]]] = {}

    def event(self, item: Any) -> None:
        from autogen_agentchat.messages import BaseChatMessage, ToolCallExecutionEvent, ToolCallRequestEvent

        now = time.perf_counter()
        if isinstance(item, ToolCallRequestEvent):
            for call in item.content:
                try:
                    arguments = json.loads(call.arguments) if call.arguments else {}
                except ValueError:
                    arguments = {"raw": call.arguments}
                self.calls[call.id] = (call.name, arguments if isinstance(arguments, dict) else {"value": arguments})
        elif isinstance(item, ToolCallExecutionEvent):
            for result in item.content:
                name, arguments = self.calls.get(result.call_id, (result.name, {}))
                error = result.content if result.is_error else None
                self.steps.append(Step(now - self.session.started, Hop(
                    kind="tool", name="act", input={"name": name, "arguments": arguments},
                    output=complete_output("tool", {"name": name, "arguments": arguments,
                                                    "result": None if error else result.content, "error": error}),
                    error=error)))
        elif isinstance(item, BaseChatMessage) and item.source != "user":
            self.message(item, now)

    def message(self, message: Any, now: float) -> None:
        agent = str(message.source)
        kind = node_kind(agent, self.kinds)
        if agent not in self.kinds and _is_structured_verdict(message, self.verdict_key):
            kind = "verify"
        text = message_text(message)
        if kind == "verify":
            verdict, issues = _verdict(message, self.verdict_key, self.approve_text)
            output = {"verdict": verdict, "issues": issues, "text": text}
        elif kind == "route":
            output = {"route": text.strip() or None}
        else:
            output = {"text": text}
        vendor, model = self.session.served_between(self.previous, now)
        self.steps.append(Step(self.previous - self.session.started, Hop(
            kind=kind, name=agent, vendor=vendor, model=model, output=complete_output(kind, output),
            latency_s=now - self.previous, usage=self.session.usage_between(self.previous, now))))
        self.spoken.append((agent, kind, text))
        self.previous = now

    def answer(self, answer_agent: str | None) -> str:
        if answer_agent is not None:
            return next((text for agent, _, text in reversed(self.spoken) if agent == answer_agent), "")
        for _, kind, text in reversed(self.spoken):
            if kind != "verify":
                return text
        return self.spoken[-1][2] if self.spoken else ""


def first_error(group: BaseExceptionGroup) -> BaseException:
    """The first exception inside (nested) exception groups."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


class TeamError(Exception):
    """An agent of the team failed; the message is AutoGen's, without the traceback it embeds."""


def _without_traceback(error: BaseException) -> BaseException:
    text = str(error)
    if "\nTraceback:" not in text:
        return error
    return TeamError(text.split("\nTraceback:", 1)[0].strip())


async def _stream(team: Any, task: list[Any], recorder: _Recorder, max_messages: int) -> None:
    """Run the team, recording its stream; stop it after ``max_messages`` agent messages."""
    from autogen_core import CancellationToken

    token = CancellationToken()
    stopped = False
    try:
        async for item in team.run_stream(task=task, cancellation_token=token):
            recorder.event(item)
            if len(recorder.spoken) > max_messages and not stopped:
                stopped = True
                token.cancel()
    except asyncio.CancelledError:
        if not stopped:  # cancelled from outside (Ctrl-C, the engine): not ours to swallow
            raise
    if stopped:
        raise TeamError(f"the team sent more than {max_messages} messages without ending (params.max_messages); "
                        "give it a termination condition (e.g. MaxMessageTermination)")


@register_architecture("autogen")
async def run_autogen(ctx: RunContext) -> None:
    """An AutoGen team; agents' messages and tool calls become hops."""
    factory = load_factory(ctx.system)
    kinds = ctx.param("hop_kinds", {}, dict)
    verdict_key = ctx.param("verdict_key", "verdict", str)
    approve_text = ctx.param("approve_text", "APPROVE", str)
    answer_agent = ctx.param("answer_agent", None, str)
    context = ctx.param("context", True, bool)
    max_messages = ctx.param("max_messages", MAX_MESSAGES, int)

    async def invoke(request: AdapterRequest, session: AdapterSession) -> tuple[str, list[Step]]:
        recorder = _Recorder(session, kinds, verdict_key, approve_text)
        recorder.previous = session.started
        try:
            await run_team(request, recorder)
        except BaseException as exc:  # noqa: BLE001 - sorted below; what is not the team's is re-raised
            error = first_error(exc) if isinstance(exc, BaseExceptionGroup) else exc
            if not isinstance(error, Exception) or isinstance(error, (ConfigError, InfraError, AdapterInfraError)):
                raise error from None  # cancellation, configuration and vendor failures: the harness's
            # the team failed: the agents' hops so far, then the failure (AutoGen's text, less its traceback)
            error = _without_traceback(error)
            recorder.steps.append(Step(session.offset(), Hop(
                kind="generate", name="autogen", output=complete_output("generate", {"text": ""}),
                latency_s=session.offset(), error=f"{type(error).__name__}: {error}")))
            return "", recorder.steps
        return recorder.answer(answer_agent), recorder.steps

    async def run_team(request: AdapterRequest, recorder: _Recorder) -> None:
        from mcp import Client

        from baton.runners.adapters.autogen_workbench import WorldWorkbench

        async with AsyncExitStack() as stack:
            mcp = await stack.enter_async_context(Client(request.mcp_url)) if request.mcp_url else None
            client = model_client(ctx.system, request.model_base_url or "")
            stack.push_async_callback(client.close)
            team = await build_team(factory, {"model_client": client, "workbench": WorldWorkbench(mcp),
                                              "request": request}, ctx.system)
            check_names(team, ctx.system)
            await _stream(team, task_messages(request, context), recorder, max_messages)

    await run_adapter(ctx, "autogen", invoke, gateway=True)
