"""The grader validation set: hand-labelled runs in tests/grader_cases/*.yaml.

Each file names a default ``task`` and lists ``cases``. A task is a task file path (repo-relative),
or a mapping ``{base: <path>, <field>: <value>, gold: {<gold field>: <value>}}`` that replaces
fields of the base task, or a path to a complete task under tests/grader_cases/tasks/.

A case gives the run: ``steps`` (in trace order; each one of ``route: <label>``,
``retrieve: {doc_ids: [...], record_ids: [...]}``, ``call: {<tool>: {<arguments>}}``,
``generate: <text>`` or ``generate: {text: ..., tool_calls: [...]}``, ``verify: pass|fail``) or
just ``calls`` (a list of ``{<tool>: {<arguments>}}``), the final ``answer``, and optionally
``infra_error`` and ``record_state: false`` (the trace carries no final state). Calls are
executed on a fresh sandbox World, so results, errors and the final state are what a real run
would record. ``expect`` is the label: ``status``, ``category``
(failure category), ``hop`` (first divergent hop), ``failed_checks`` (exact set) and
``components`` (``{name: {score|passed|<metric>: value}}``; ``null`` means absent), ``found``
(for a wrong fact: the value the answer stated) and ``unjudged`` (how many free-text assertions
no judge graded; default 0). A file (or case) with ``author: held-out`` was written from the
tasks' meaning before its author read the graders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from baton.fixtures import load_tasks
from baton.graders import grade_run
from baton.graders.text import canonical
from baton.result import FailureCategory
from baton.task import GoldenTask
from baton.trace import Hop, Trace
from baton.world import ToolError, World

HERE = Path(__file__).parent
REPO = HERE.parent
CASES = HERE / "grader_cases"

_task_cache: dict[str, GoldenTask] = {}


def _load_path(path: str) -> GoldenTask:
    if path not in _task_cache:
        full = REPO / path
        if full.is_relative_to(CASES / "tasks"):
            data = yaml.safe_load(full.read_text())
            _task_cache[path] = GoldenTask.model_validate(data)
        else:
            _task_cache[path] = load_tasks(full)[0]
    return _task_cache[path]


def build_task(spec: str | dict[str, Any]) -> GoldenTask:
    if isinstance(spec, str):
        return _load_path(spec)
    base = _load_path(spec["base"]).model_dump(by_alias=True)
    for key, value in spec.items():
        if key == "base":
            continue
        if key == "gold":
            base["gold"].update(value)
        else:
            base[key] = value
    return GoldenTask.model_validate(base)


def _call_hop(world: World, spec: dict[str, Any]) -> Hop:
    ((name, arguments),) = spec.items()
    try:
        world.call(name, arguments or {})
    except ToolError:
        pass
    record = world.calls[-1]
    return Hop(kind="tool", name="act", output=record.as_output(), error=record.error)


def build_trace(task: GoldenTask, case: dict[str, Any]) -> Trace:
    world = World(task)
    hops: list[Hop] = []
    steps = case.get("steps") or [{"call": c} for c in case.get("calls") or []]
    for step in steps:
        ((kind, value),) = step.items()
        if kind == "route":
            hops.append(Hop(kind="route", name="route", output={"route": value}))
        elif kind == "retrieve":
            hops.append(Hop(kind="retrieve", name="retrieve",
                            output={"doc_ids": value.get("doc_ids", []), "record_ids": value.get("record_ids", [])}))
        elif kind == "call":
            hops.append(_call_hop(world, value))
        elif kind == "generate":
            output = value if isinstance(value, dict) else {"text": value}
            hops.append(Hop(kind="generate", name="draft", output=output))
        elif kind == "verify":
            hops.append(Hop(kind="verify", name="verify", output={"verdict": value, "issues": []}))
        else:
            raise ValueError(f"case {case['id']}: unknown step kind {kind!r}")
    architecture = "multi_agent" if any(h.kind in ("route", "retrieve", "verify") for h in hops) else "naive"
    return Trace(task_id=task.id, task_version=task.version, system=f"{architecture}@cases",
                 architecture=architecture, hops=hops, answer=case.get("answer", ""),
                 final_state=world.snapshot() if case.get("record_state", True) else {},
                 infra_error=case.get("infra_error"))


def _cases() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for case in data["cases"]:
            case = {**case, "_author": case.get("author", data.get("author"))}
            params.append(pytest.param(case.get("task", data.get("task")), case,
                                       id=f"{path.stem}/{case['id']}"))
    return params


ALL_CASES = _cases()


def test_validation_set_is_large_and_varied() -> None:
    assert len(ALL_CASES) >= 300
    labels = {(p.values[1]["expect"]["status"], p.values[1]["expect"].get("category")) for p in ALL_CASES}
    categories = {c for _, c in labels if c}
    # every failure kind the graders can give without a judge (failed_assertion: test_graders_assertions)
    assert set(get_args(FailureCategory)) - {"failed_assertion"} <= categories
    assert ("passed", None) in labels and ("error", None) in labels


def test_a_third_of_the_cases_were_written_before_reading_the_graders() -> None:
    held_out = [p for p in ALL_CASES if p.values[1].get("_author") == "held-out"]
    assert len(held_out) * 3 >= len(ALL_CASES)
    domains = {build_task(p.values[0]).domain for p in ALL_CASES}
    assert {"billing", "healthcare_intake", "it_access", "orders_returns", "travel"} <= domains


@pytest.mark.parametrize(("task_spec", "case"), ALL_CASES)
def test_grader_agrees_with_label(task_spec: str | dict[str, Any], case: dict[str, Any]) -> None:
    task = build_task(task_spec)
    grade = grade_run(task, build_trace(task, case))
    expect = case["expect"]
    explain = f"{case['id']}: {[(c.name, c.detail) for c in grade.checks if not c.passed]}"
    assert grade.status == expect["status"], explain
    assert grade.failure_category == expect.get("category"), explain
    if "hop" in expect or grade.status != "failed":
        assert grade.first_divergent_hop == expect.get("hop"), explain
    if "found" in expect:  # a wrong fact is reported with the value the answer stated
        facts = next(c for c in grade.checks if c.name == "facts")
        assert canonical(expect["found"]) in facts.detail, explain
    assert len(grade.unjudged) == expect.get("unjudged", 0), explain
    if "failed_checks" in expect:
        assert {c.name for c in grade.checks if not c.passed} == set(expect["failed_checks"]), explain
    for name, wanted in (expect.get("components") or {}).items():
        component = grade.components.get(name)
        if wanted is None:
            assert component is None, f"{case['id']}: {name} should be absent"
            continue
        assert component is not None, f"{case['id']}: {name} missing"
        for key, value in wanted.items():
            got = getattr(component, key) if key in ("score", "passed") else component.metrics.get(key)
            if isinstance(value, float) and got is not None:
                assert got == pytest.approx(value), f"{case['id']}: {name}.{key} = {got} ({component.detail})"
            else:
                assert got == value, f"{case['id']}: {name}.{key} = {got} ({component.detail})"
