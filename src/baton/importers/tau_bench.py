"""``baton import tau-bench``: a tau-bench-style environment folder -> a Baton domain.

Steps, each with file + field errors (see :mod:`baton.importers.tau_checkout` for the format):

1. read the checkout (data tables, tool classes, task lists, policy);
2. replay every task's gold actions with the benchmark's *own* tool code on a fresh copy of its
   data: that gives each task's end state, which gold calls the benchmark rejects (they become
   ``expect_error: true``) and which tools really write;
3. write ``<out>/<domain>/``: ``domain.yaml`` (policy, one route, the data as the seed world),
   ``tools.py`` (the benchmark's tool classes behind Baton ``@tool`` wrappers) and one task per
   benchmark task (the instruction as the request, the gold actions as gold tool calls, every
   record the replay changed as ``final_state``, the expected outputs as facts);
4. load the written domain with Baton, replay each task's gold calls in Baton's sandbox and
   compare the whole end state with the benchmark's: :class:`ImportReport` says how many agree.

The benchmark's tasks are instructions for a simulated user, not a first message; the imported
request is that instruction, so a run sees the whole scenario in one turn.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from baton.fixtures import Problem, display_path, load_golden_set
from baton.importers.tau_checkout import RESPOND_ACTION, BenchTask, Checkout, ImportProblems, read_checkout
from baton.importers.tau_tools import BenchTool, load_original_tools, read_tools, render_tools_py
from baton.replay import replay_gold
from baton.world import ToolError

__all__ = ["ImportReport", "import_tau_bench", "BenchReplay", "replay_benchmark"]

_SLUG = re.compile(r"[^a-z0-9_\-]+")
_POLICY_DATE = re.compile(r"(?:current (?:time|date)|today)\D{0,40}?(\d{4}-\d{2}-\d{2})", re.I)
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_WATCHED_CALLS = 3  # calls of each seemingly read-only tool checked for writes


@dataclass(slots=True)
class BenchReplay:
    """A task replayed with the benchmark's own code."""

    changes: dict[str, dict[str, Any]]  # what the replay changed (see _changes): the end state
    failed: list[bool]  # per gold action kept (respond actions dropped): the benchmark rejected it
    wrote: set[str]     # tools whose call changed the data


@dataclass(slots=True)
class ImportReport:
    """What the import wrote and how well Baton reproduces the benchmark."""

    domain_dir: Path
    tasks: int
    reproduced: int
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reproduced == self.tasks


def _slug(text: str) -> str:
    slug = _SLUG.sub("_", text.lower()).strip("_-")
    return slug or "imported"


def _actions(task: BenchTask) -> list[Any]:
    return [a for a in task.actions if a.name != RESPOND_ACTION]


def _copy(data: Any) -> Any:
    """A deep copy of JSON data (a JSON round trip is several times faster than deepcopy)."""
    return json.loads(json.dumps(data))


def replay_benchmark(task: BenchTask, data: dict[str, Any], originals: dict[str, Any],
                     watch: dict[str, int]) -> BenchReplay:
    """Run ``task``'s gold actions with the benchmark's own tools, the way its environment does
    (an exception or a result starting with "Error" is a rejected call). A tool in ``watch`` is
    checked for writes (comparing the data before and after) on that many more of its calls."""
    initial, data = data, _copy(data)
    failed: list[bool] = []
    wrote: set[str] = set()
    for action in _actions(task):
        cls = originals.get(action.name)
        if cls is None:
            failed.append(True)
            continue
        before = _copy(data) if watch.get(action.name, 0) > 0 else None
        try:
            result = cls.invoke(data=data, **action.kwargs)
        except Exception as exc:  # the benchmark's environment reports it as "Error: ..."
            result = f"Error: {exc}"
        failed.append(isinstance(result, str) and result.startswith("Error"))
        if before is not None:
            watch[action.name] -= 1
            if before != data:
                wrote.add(action.name)
    return BenchReplay(_changes(initial, data), failed, wrote)


def _changes(initial: dict[str, dict[str, Any]], end: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """final_state: every record the replay added or changed (whole), or removed (null)."""
    state: dict[str, dict[str, Any]] = {}
    for collection in sorted(set(initial) | set(end)):
        old, new = initial.get(collection, {}), end.get(collection, {})
        changed = {rid: new.get(rid) for rid in list(old) + [r for r in new if r not in old]
                   if old.get(rid) != new.get(rid)}
        if changed:
            state[collection] = changed
    return state


def _title(split: str, index: int, instruction: str) -> str:
    first = re.split(r"(?<=[.!?])\s", instruction.strip(), maxsplit=1)[0]
    first = first if len(first) <= 70 else first[:67].rstrip() + "..."
    return f"{split} #{index}: {first}"


def _task_yaml(domain: str, split: str, index: int, task: BenchTask, replay: BenchReplay,
               tools: dict[str, BenchTool], terminate: list[str],
               origin: str) -> dict[str, Any]:
    calls = []
    for action, failed in zip(_actions(task), replay.failed):
        call: dict[str, Any] = {"name": action.name, "arguments": action.kwargs}
        if failed:
            call["expect_error"] = True
        calls.append(call)
    writes = any(not failed and tools[a.name].writes for a, failed in zip(_actions(task), replay.failed)
                 if a.name in tools)
    escalates = any(a.name in terminate for a in _actions(task))
    outcome = "act" if writes else ("escalate" if escalates else "answer")
    tags = (["action"] if writes else []) + (["multi_tool"] if len({c["name"] for c in calls}) > 1 else []) \
        + (["escalation"] if escalates else [])
    facts = [{"id": f"output-{i + 1}", "kind": "number" if _NUMBER.match(out.strip()) else "text",
              "forms": [out]} for i, out in enumerate(task.outputs) if out.strip()]
    gold: dict[str, Any] = {"route": domain, "outcome": outcome, "tool_calls": calls, "ordered": False,
                            "final_state": replay.changes}
    if facts:
        gold["facts"] = facts
    gold["notes"] = f"Imported from {origin}, split '{split}', task {index}."
    data: dict[str, Any] = {"id": f"{domain}/{_slug(split)}-{index:03d}", "version": 1,
                            "title": _title(split, index, task.instruction), "tags": tags,
                            "request": task.instruction}
    if task.user_id:
        data["customer"] = {"id": task.user_id}
    data["gold"] = gold
    return data


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=100)


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                return f"{path}.{key}".lstrip(".") + (": only in Baton's replay" if key in a else ": only in the benchmark's")
            if a[key] != b[key]:
                return _first_difference(a[key], b[key], f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}.{i}")
    return f"{path.lstrip('.')}: Baton {a!r:.80} vs benchmark {b!r:.80}"


def import_tau_bench(path: Path, out: Path, *, domain: str | None = None, splits: list[str] | None = None,
                     limit: int | None = None, today: dt.date | None = None, force: bool = False,
                     progress: Any = None) -> ImportReport:
    """Import the environment at ``path`` into ``out/<domain>/``; raises ImportProblems."""
    checkout: Checkout = read_checkout(path)
    tools, problems, code = read_tools(checkout.tool_files)
    if problems:
        raise ImportProblems(problems)
    name = _slug(domain or checkout.root.name)
    target = out / name
    if target.exists() and any(target.iterdir()) and not force:
        raise ImportProblems([Problem(display_path(target), "", "already exists and is not empty; "
                                      "pass --force to replace it")])
    chosen = splits or sorted(checkout.tasks)
    unknown = [s for s in chosen if s not in checkout.tasks]
    if unknown:
        raise ImportProblems([Problem(display_path(path), "", f"no task split '{unknown[0]}' "
                                      f"(splits: {', '.join(sorted(checkout.tasks)) or 'none'})")])
    by_name = {t.name: t for t in tools}
    problems = []
    for split in chosen:
        for i, task in enumerate(checkout.tasks[split]):
            for j, action in enumerate(task.actions):
                if action.name != RESPOND_ACTION and action.name not in by_name:
                    problems.append(Problem(checkout.task_files[split], f"[{i}].actions.{j}.name",
                                            f"'{action.name}' is not a tool of tools/ ({', '.join(by_name)})"))
    if problems:
        raise ImportProblems(problems)

    originals = load_original_tools(checkout.tool_files)
    read_only = {t.name for t in tools if not t.writes}
    watch = dict.fromkeys(read_only, _WATCHED_CALLS)
    selected = [(split, i, task) for split in chosen for i, task in enumerate(checkout.tasks[split])][:limit]
    replays = []
    notes = []
    for n, (split, i, task) in enumerate(selected, 1):
        replay = replay_benchmark(task, checkout.data, originals, watch)
        for tool_name in replay.wrote & read_only:
            by_name[tool_name].writes = True
            read_only.discard(tool_name)
            notes.append(f"tool '{tool_name}' looked read-only but changed the data in the benchmark's "
                         "replay: declared writes=True")
        replays.append(replay)
        if progress is not None:
            progress(f"replayed {n}/{len(selected)} tasks with the benchmark's own tools")

    policy = checkout.policy
    if today is None:
        found = _POLICY_DATE.search(policy or "")
        today = dt.date.fromisoformat(found.group(1)) if found else dt.date(2000, 1, 1)
        if not found:
            notes.append("no date found in the policy: the world's date is 2000-01-01 (use --today)")
    origin = display_path(path)
    target.mkdir(parents=True, exist_ok=True)
    (target / "tasks").mkdir(exist_ok=True)
    for old in (target / "tasks").glob("*.yaml"):
        old.unlink()
    domain_yaml = {"domain": name, "title": f"{checkout.root.name} (imported from a tau-bench-style benchmark)",
                   "description": f"Imported by `baton import tau-bench` from {origin}.",
                   "policy": policy,
                   "routes": [{"label": name, "description": f"Every request of the {checkout.root.name} benchmark."}],
                   "world": {"today": today.isoformat(), "collections": checkout.data}}
    if policy is None:
        del domain_yaml["policy"]
    (target / "domain.yaml").write_text(_dump(domain_yaml), encoding="utf-8")
    (target / "tools.py").write_text(render_tools_py(tools, code, origin), encoding="utf-8")
    for (split, i, task), replay in zip(selected, replays):
        data = _task_yaml(name, split, i, task, replay, by_name, checkout.terminate_tools, origin)
        (target / "tasks" / f"{data['id'].split('/', 1)[1]}.yaml").write_text(_dump(data), encoding="utf-8")

    loaded, load_problems = load_golden_set(target)
    if load_problems:
        raise ImportProblems(load_problems)
    report = ImportReport(target, len(selected), 0, notes=notes)
    by_id = {t.id: t for t in loaded}
    for (split, i, _), replay in zip(selected, replays):
        task_id = f"{name}/{_slug(split)}-{i:03d}"
        try:
            state = replay_gold(by_id[task_id]).snapshot()
        except ToolError as exc:
            report.mismatches.append(f"{task_id}: Baton's replay rejects a gold call the benchmark accepts: {exc}")
            continue
        changes = _changes(checkout.data, state)  # both replays start from the same data
        if changes == replay.changes:
            report.reproduced += 1
        else:
            report.mismatches.append(f"{task_id}: end states differ at {_first_difference(changes, replay.changes)}")
    return report
