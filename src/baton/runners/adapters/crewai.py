"""crewai: a CrewAI crew is the system under test; each task its agents perform becomes a hop.

CrewAI pins ``openai<3`` and ``mcp<2`` (Baton needs ``openai>=3.50``, ``mcp>=2.3``), so the crew
runs in a virtual environment of its own (``bash scripts/bootstrap --crewai`` makes
``.venv-crewai``), in sidecar processes that Baton starts and stops
(:mod:`baton.runners.adapters.sidecar`, :mod:`baton.runners.adapters.crewai_sidecar`). ``params``:

* ``target``: ``"path/crew.py:attr"`` or ``"module:attr"`` naming a ``Crew`` or a function
  returning one (called with the request as a dict when it takes an argument: ``routes``,
  ``documents``, ``tools``, ``mcp_url``, ...); relative to the project folder, whose folder and
  the file's folder are importable;
* ``python`` (default ``$BATON_CREWAI_PYTHON``, else ``.venv-crewai/bin/python`` in the project
  folder): the CrewAI environment's interpreter;
* ``workers`` (default 2): sidecar processes, each running one crew at a time;
* ``hop_kinds``: task name -> hop kind; otherwise a task whose structured output (``output_pydantic``
  / ``output_json``) has a pass/fail verdict is a verify hop, one with a ``route`` is a route hop,
  and the rest are read from the task's name (or its agent's role): ``route``/``router``/
  ``classify`` -> route, ``research``/``retriev``/``search`` -> retrieve, ``verif``/``check``/
  ``critic``/``review`` -> verify, else generate;
* ``answer_task`` (default: the last generate task that ran, else the crew's final output): the
  task whose output is the reply;
* ``verdict_key`` (default ``verdict``): the structured-output field of a verify task;
* ``models``: model name -> vendor profile, as for LangGraph; ``timeout_s`` (default 300).

The crew's task descriptions may use ``{request}``, ``{customer}``, ``{conversation}``,
``{today}``, ``{policy}``, ``{routes}`` and ``{documents}``: they are the kickoff inputs. Its LLMs
reach Baton's model gateway (``OPENAI_BASE_URL`` is set for each run), so every call is served by
the run's vendor with cost, tokens, the simulated label and the run's context; its MCP tools reach
the run's world at ``request["mcp_url"]`` (also ``BATON_MCP_URL``). A retrieve task's documents
are the knowledge-base documents its description or output names by id (``[doc-id]``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any


from baton.errors import ConfigError
from baton.runners.adapters.gateway import ModelGateway
from baton.runners.adapters.harness import AdapterInfraError, AdapterSession, Step, run_adapter
from baton.runners.adapters.langgraph import node_kind, node_output
from baton.runners.adapters.sidecar import Sidecar, SidecarPool
from baton.runners.adapters.types import AdapterRequest
from baton.runners.context import RunContext
from baton.runners.registry import register_architecture
from baton.systems import SystemConfig
from baton.trace import HOP_KINDS, Hop, HopKind

SIDECAR_SCRIPT = Path(__file__).with_name("crewai_sidecar.py")
# Run the script without its folder on sys.path: this folder's crewai.py and types.py would
# shadow the real crewai package and the standard library's types module.
SIDECAR_BOOT = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
DEFAULT_PYTHON = ".venv-crewai/bin/python"
DEFAULT_WORKERS = 2
DEFAULT_TIMEOUT_S = 300.0
# CrewAI phones home (telemetry, tracing prompts) unless told not to; a test run must stay offline.
QUIET_ENV = {"CREWAI_DISABLE_TELEMETRY": "true", "CREWAI_TRACING_ENABLED": "false", "OTEL_SDK_DISABLED": "true",
             "CREWAI_DISABLE_TRACKING": "true", "PYTHONUNBUFFERED": "1"}


def _where(system: SystemConfig, key: str) -> str:
    return f"{system.source}: system '{system.name}': params.{key}" if system.source \
        else f"system {system.name!r}: params.{key}"


def _base_dir(system: SystemConfig) -> Path:
    return system.base_dir or Path.cwd()


def crewai_python(system: SystemConfig) -> Path:
    """The CrewAI environment's interpreter (ConfigError with the set-up command when missing)."""
    value = system.params.get("python") or os.environ.get("BATON_CREWAI_PYTHON") or DEFAULT_PYTHON
    if not isinstance(value, str):
        raise ConfigError(f"{_where(system, 'python')}: expected the path of a Python interpreter, got {value!r}")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else _base_dir(system) / path
    if not path.is_file():
        raise ConfigError(f"{_where(system, 'python')}: {path} not found; CrewAI runs in its own environment "
                          f"(it needs openai<3 and mcp<2): create it with `bash scripts/bootstrap --crewai` "
                          f"(or `python3 -m venv .venv-crewai && .venv-crewai/bin/pip install 'crewai>=1.15,<2'`), "
                          f"or point params.python / BATON_CREWAI_PYTHON at one")
    return path


def _target(system: SystemConfig) -> str:
    target = system.params.get("target")
    if not isinstance(target, str) or ":" not in target:
        raise ConfigError(f"{_where(system, 'target')}: expected 'path/crew.py:attribute' or 'module:attribute' "
                          f"naming a Crew or a function returning one, got {target!r}")
    module, _, attr = target.rpartition(":")
    if module.endswith(".py"):
        path = Path(module).expanduser()
        path = (path if path.is_absolute() else _base_dir(system) / path).resolve()
        if not path.is_file():
            raise ConfigError(f"{_where(system, 'target')}: file {path} not found (relative paths start at the "
                              f"project folder {_base_dir(system)})")
        return f"{path}:{attr}"
    return target


def _workers(system: SystemConfig) -> int:
    workers = system.params.get("workers", DEFAULT_WORKERS)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"{_where(system, 'workers')}: expected a positive integer, got {workers!r}")
    return workers


def sidecar_pool(system: SystemConfig) -> SidecarPool:
    """The process's CrewAI sidecars for this system, started (and the crew imported) on first use."""
    python, target, workers = crewai_python(system), _target(system), _workers(system)
    gateway = ModelGateway.get().base_url
    base = str(_base_dir(system))
    env = {**os.environ, **QUIET_ENV,
           "PYTHONPATH": os.pathsep.join(p for p in (base, os.environ.get("PYTHONPATH", "")) if p)}
    for key in ("VIRTUAL_ENV", "PYTHONHOME"):  # Baton's environment must not leak into CrewAI's
        env.pop(key, None)
    argv = [str(python), "-c", SIDECAR_BOOT, str(SIDECAR_SCRIPT), "--target", target, "--gateway", gateway]
    make = [Sidecar(argv, name=f"crewai sidecar for system '{system.name}'", env=env, cwd=base)
            for _ in range(workers)]
    try:
        return SidecarPool.shared((str(python), target, base, gateway, workers), make)
    except ConfigError as exc:
        raise ConfigError(f"{_where(system, 'target')}: {exc}") from None


def check_system(system: SystemConfig) -> None:
    """Configuration-time check (preflight): the environment exists and the crew imports in it."""
    sidecar_pool(system)


# --------------------------------------------------------------------------- tasks -> hops

_RESEARCH = ("research", "retriev", "search", "lookup")


def task_kind(name: str, structured: dict[str, Any] | None, kinds: dict[str, str], verdict_key: str) -> HopKind:
    """A task's hop kind: declared, else from its structured output, else from its name."""
    if name in kinds:
        kind = kinds[name]
        if kind not in HOP_KINDS:
            raise ConfigError(f"params.hop_kinds.{name}: expected one of {', '.join(HOP_KINDS)}, got {kind!r}")
        return kind  # type: ignore[return-value]
    if structured:
        verdict = structured.get(verdict_key, structured.get("verdict"))
        if isinstance(verdict, bool) or str(verdict).lower() in ("pass", "fail"):
            return "verify"
        if isinstance(structured.get("route"), str):
            return "route"
    if any(n in name.lower() for n in _RESEARCH):
        return "retrieve"
    return node_kind(name, {})


def _named_documents(request: AdapterRequest, *texts: str) -> list[str]:
    """Ids of the request's documents that ``texts`` name (as ``[id]`` or a whole word)."""
    found = []
    for doc in request.documents:
        pattern = re.compile(rf"(?<![\w-]){re.escape(doc['id'])}(?![\w-])")
        if any(pattern.search(text) for text in texts):
            found.append(doc["id"])
    return found


def task_output(kind: HopKind, record: dict[str, Any], request: AdapterRequest, verdict_key: str) -> dict[str, Any]:
    """A task's output as the hop output of its kind (plus the raw text and structured output)."""
    structured = record.get("structured") or None
    raw = str(record.get("raw") or "")
    update: dict[str, Any] = dict(structured or {})
    if kind == "generate":
        update = {"text": raw}
    elif kind == "verify" and structured is None:
        try:
            parsed = json.loads(raw)
            update = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            update = {}
    elif kind == "retrieve" and not update.get("doc_ids"):
        update["doc_ids"] = _named_documents(request, str(record.get("description") or ""), raw)
    output = node_output(kind, update, verdict_key=verdict_key)
    output["raw"] = raw
    return output


def task_steps(records: list[dict[str, Any]], request: AdapterRequest, session: AdapterSession,
               kinds: dict[str, str], verdict_key: str) -> list[Step]:
    """One step per task; model calls metered while a task ran are its usage, vendor and model."""
    steps = []
    for record in records:
        name = str(record.get("name") or record.get("agent") or "task")
        kind = task_kind(name, record.get("structured"), kinds, verdict_key)
        started, ended = record.get("started"), record.get("ended")
        offset = None
        usage_kwargs: dict[str, Any] = {}
        latency = 0.0
        if isinstance(started, (int, float)) and isinstance(ended, (int, float)):
            offset = started - session.started_wall  # both processes read the same wall clock
            start_perf, end_perf = session.started + offset, session.started + (ended - session.started_wall)
            vendor, model = session.served_between(start_perf, end_perf)
            usage_kwargs = {"usage": session.usage_between(start_perf, end_perf), "vendor": vendor, "model": model}
            latency = max(0.0, ended - started)
        hop = Hop(kind=kind, name=name, input={"agent": record.get("agent")},
                  output=task_output(kind, record, request, verdict_key), latency_s=latency, **usage_kwargs)
        steps.append(Step(offset, hop))
    return steps


def pick_answer(steps: list[Step], final: str, answer_task: str | None) -> str:
    """The reply: ``answer_task``'s output, else the last generate task's, else the crew's final output."""
    if answer_task is not None:
        for step in steps:
            if step.hop.name == answer_task:
                return str(step.hop.output.get("raw") or step.hop.output.get("text") or "")
        raise RuntimeError(f"params.answer_task: no task named {answer_task!r} ran; tasks: "
                           f"{', '.join(s.hop.name for s in steps) or 'none'}")
    for step in reversed(steps):
        if step.hop.kind == "generate":
            return str(step.hop.output.get("text") or "")
    return final


@register_architecture("crewai")
async def run_crewai(ctx: RunContext) -> None:
    """A CrewAI crew in its own environment; each task becomes a hop, tool calls reach the world over MCP."""
    import httpx  # here, not at import: a run without a crew never pays for it

    pool = await asyncio.to_thread(sidecar_pool, ctx.system)  # started here unless preflight did it
    kinds = ctx.param("hop_kinds", {}, dict)
    verdict_key = ctx.param("verdict_key", "verdict", str)
    answer_task = ctx.param("answer_task", None, str)
    timeout = ctx.param("timeout_s", DEFAULT_TIMEOUT_S, (int, float))

    async def invoke(request: AdapterRequest, session: AdapterSession) -> tuple[str, list[Step]]:
        async with httpx.AsyncClient(timeout=timeout) as client:
            url = f"{sidecar.url}/run"
            try:
                reply = await client.post(url, json=request.model_dump(mode="json"))
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                raise AdapterInfraError(f"CrewAI sidecar {url}: {type(exc).__name__}: {exc}") from exc
            except httpx.TimeoutException as exc:
                await asyncio.to_thread(sidecar.stop, keep_log=True)  # abandon the crew: the next lease starts a fresh sidecar
                raise TimeoutError(f"the crew did not finish within {timeout:g}s (params.timeout_s)") from exc
        body = reply.json()
        if body.get("error"):
            raise RuntimeError(f"the crew failed: {body['error']}")
        steps = task_steps(body.get("tasks") or [], request, session, kinds, verdict_key)
        return pick_answer(steps, str(body.get("answer") or ""), answer_task), steps

    async with pool.lease() as sidecar:  # waiting for a free sidecar is not the run's latency
        await run_adapter(ctx, "crewai", invoke, gateway=True)

