"""``baton import tau-bench`` on a small benchmark environment in that format written for these
tests (tests/tau_sample): the imported domain's gold replay reproduces the benchmark's own end
states, it validates and grades with per-hop attribution, and a checkout in the wrong format
gets errors naming the file and field."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton.fixtures import load_tasks
from baton.graders import grade_run
from baton.importers.tau_bench import import_tau_bench
from baton.importers.tau_checkout import ImportProblems
from baton.importers.tau_tools import judge_writes
from baton.trace import Hop, Trace
from baton.validate import validate_path
from baton.world import ToolError, World

SAMPLE = Path(__file__).parent / "tau_sample" / "minibench" / "envs" / "library"


@pytest.fixture()
def checkout(tmp_path: Path) -> Path:
    target = tmp_path / "bench" / "library"
    shutil.copytree(SAMPLE, target)
    return target


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("golden")
    report = import_tau_bench(SAMPLE, out)
    assert report.ok and report.reproduced == report.tasks == 5 and report.mismatches == []
    return report.domain_dir


def _task(domain_dir: Path, name: str) -> dict[str, Any]:
    return yaml.safe_load((domain_dir / "tasks" / f"{name}.yaml").read_text())


def test_the_imported_domain_validates_and_carries_the_benchmarks_tools(imported: Path) -> None:
    report = validate_path(imported)
    assert report.problems == [] and report.summary() == "5 tasks in 1 domain"
    domain = yaml.safe_load((imported / "domain.yaml").read_text())
    assert domain["world"]["today"] == "2025-03-10"  # the policy's "current time"
    assert domain["policy"].startswith("# Library desk policy")
    assert set(domain["world"]["collections"]) == {"members", "books", "loans"}
    tools = {t.name: t for t in report.tasks[0].tools}
    assert {n for n, t in tools.items() if t.side_effect} == {"borrow_book", "return_book"}
    assert tools["return_book"].parameters["properties"]["days_late"]["type"] == "integer"
    code = (imported / "tools.py").read_text()
    assert not [line for line in code.splitlines() if line.startswith(("from minibench", "import minibench"))]


def test_tasks_keep_gold_calls_failures_end_states_and_outputs(imported: Path) -> None:
    borrow = _task(imported, "test-000")
    assert borrow["request"].startswith("You are Mia Lund") and borrow["customer"] == {"id": "mia_lund_01"}
    assert [c["name"] for c in borrow["gold"]["tool_calls"]] == ["find_member_by_email", "get_book", "borrow_book"]
    assert borrow["gold"]["outcome"] == "act"
    assert borrow["gold"]["final_state"]["loans"]["L-4"] == {"member_id": "mia_lund_01", "book_id": "B-300",
                                                             "status": "active"}
    assert borrow["gold"]["facts"] == [{"id": "output-1", "kind": "text", "forms": ["L-4"]}]
    late = _task(imported, "test-001")
    assert late["gold"]["tool_calls"][-1] == {"name": "borrow_book", "arguments": {
        "member_id": "omar_sayed_02", "book_id": "B-100"}, "expect_error": True}  # raised inside the tool
    assert late["gold"]["final_state"]["members"]["omar_sayed_02"]["balance"] == 2.5
    assert late["gold"]["facts"][0]["kind"] == "number"
    handoff = _task(imported, "test-002")
    assert handoff["gold"]["outcome"] == "escalate" and handoff["gold"]["final_state"] == {}
    assert _task(imported, "test-003")["gold"]["outcome"] == "answer"
    twice = _task(imported, "dev-000")  # tasks_dev.json, "arguments" instead of "kwargs"
    assert [c.get("expect_error", False) for c in twice["gold"]["tool_calls"]] == [False, True]


def test_tool_errors_and_results_reach_the_model_like_the_benchmarks(imported: Path) -> None:
    task = next(t for t in load_tasks(imported) if t.id == "library/test-000")
    world = World(task)
    assert world.call("find_member_by_email", {"email": "MIA.LUND@example.org"}) == "mia_lund_01"
    assert world.call("get_book", {"book_id": "B-300"})["copies_available"] == 3
    with pytest.raises(ToolError, match="^book not found$"):
        world.call("get_book", {"book_id": "B-999"})
    assert world.call("return_book", {"loan_id": "L-2", "days_late": 2})["balance"] == 2.0
    with pytest.raises(ToolError, match="borrow_book failed: ValueError: outstanding balance"):
        world.call("borrow_book", {"member_id": "omar_sayed_02", "book_id": "B-300"})
    assert world.snapshot()["books"]["B-300"]["copies_available"] == 3


def _trace(task: Any, calls: list[tuple[str, dict[str, Any]]], answer: str) -> Trace:
    world = World(task)
    hops = [Hop(kind="route", name="route", output={"route": task.gold.route})]
    for name, args in calls:
        try:
            world.call(name, args)
        except ToolError:
            pass
        hops.append(Hop(kind="tool", name="act", output=world.calls[-1].as_output(), error=world.calls[-1].error))
    return Trace(task_id=task.id, task_version=task.version, system="s", architecture="naive", hops=hops,
                 answer=answer, final_state=world.snapshot())


def test_imported_tasks_are_graded_with_per_hop_attribution(imported: Path) -> None:
    task = next(t for t in load_tasks(imported) if t.id == "library/test-001")
    gold = [(c.name, dict(c.arguments)) for c in task.gold.tool_calls]
    right = grade_run(task, _trace(task, gold, "Returned; the late fee is 1.00, your balance is 2.5."))
    assert right.status == "passed", right.checks
    wrong = grade_run(task, _trace(task, [*gold[:2], ("return_book", {"loan_id": "L-3", "days_late": 4})],
                                   "Returned; your balance is 2.5."))
    assert wrong.status == "failed" and wrong.first_divergent_hop == "tool"
    assert wrong.components["tool"].passed is False
    assert any(c.name == "final_state" and not c.passed for c in wrong.checks)


def test_a_divergence_between_the_benchmark_and_baton_is_reported(checkout: Path, tmp_path: Path) -> None:
    tasks = checkout / "tasks_dev.json"
    data = json.loads(tasks.read_text())
    data[0]["actions"][0]["arguments"]["days_late"] = "2"  # the benchmark's code accepts a string; the schema does not
    tasks.write_text(json.dumps(data))
    report = import_tau_bench(checkout, tmp_path / "out", splits=["dev"])
    assert not report.ok and report.reproduced == 0
    assert report.mismatches[0].startswith("library/dev-000: Baton's replay rejects a gold call")


def test_the_cli_imports_refuses_to_overwrite_and_exits_1_on_mismatch(checkout: Path, tmp_path: Path) -> None:
    out = tmp_path / "golden"

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "baton.cli", "import", "tau-bench", str(checkout), "-o", str(out),
                               *extra], capture_output=True, text=True, check=False)

    first = run("--split", "test", "--limit", "2", "--domain", "Lib Desk")
    assert first.returncode == 0, first.stderr
    assert "wrote 2 tasks to" in first.stdout and "reproduces the benchmark's end state in 2/2" in first.stdout
    assert sorted(p.name for p in (out / "lib_desk" / "tasks").iterdir()) == ["test-000.yaml", "test-001.yaml"]
    again = run("--domain", "Lib Desk")
    assert again.returncode == 2 and "already exists and is not empty; pass --force" in again.stderr
    assert run("--domain", "Lib Desk", "--force").returncode == 0
    assert len(list((out / "lib_desk" / "tasks").iterdir())) == 5
    unknown = run("--split", "nope", "--force")
    assert unknown.returncode == 2 and "no task split 'nope' (splits: dev, test)" in unknown.stderr


def _problems(path: Path, tmp_path: Path) -> list[str]:
    with pytest.raises(ImportProblems) as caught:
        import_tau_bench(path, tmp_path / "out")
    return [f"{p.file}|{p.field}|{p.message}" for p in caught.value.problems]


def test_a_folder_that_is_not_an_environment_names_what_is_missing(checkout: Path, tmp_path: Path) -> None:
    (message,) = _problems(checkout.parent.parent, tmp_path)
    assert "not a benchmark environment folder: data/ and tools/ missing" in message
    assert "environments found below it: bench/library" in message


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: (c / "data" / "books.json").write_text("[1, 2]"),
     "data/books.json||expected an object mapping record ids to records, got a JSON list"),
    (lambda c: (c / "data" / "loans.json").write_text('{"L-1": 5}'),
     "data/loans.json|L-1|expected a record (a JSON object), got int"),
    (lambda c: (c / "data" / "members.json").write_text("{"), "data/members.json||cannot read JSON"),
    (lambda c: (c / "tasks_test.py").write_text((c / "tasks_test.py").read_text().replace(
        'instruction="You are Omar Sayed. You ask', 'note="You are Omar Sayed. You ask')),
     "tasks_test.py|TASKS_TEST[3].instruction|required field is missing"),
    (lambda c: (c / "tasks_test.py").write_text((c / "tasks_test.py").read_text().replace(
        'outputs=["2.5"]', "outputs=compute()")),
     "tasks_test.py|line 25|expected literal task data"),
    (lambda c: (c / "tasks_dev.json").write_text('[{"instruction": "x", "actions": [{"name": "fly"}]}]'),
     "tasks_dev.json|[0].actions.0.name|'fly' is not a tool of tools/"),
    (lambda c: (c / "tools" / "get_book.py").write_text((c / "tools" / "get_book.py").read_text().replace(
        "return {\n", "info = {\n        return info\n        x = {\n", 1)),
     "tools/get_book.py|line"),
    (lambda c: (c / "tools" / "get_member.py").write_text((c / "tools" / "get_member.py").read_text().replace(
        '"type": "function",\n            "function": {\n                "name": "get_member",',
        '"type": "function",\n            "function": {\n                "name": NAME,')),
     "tools/get_member.py|GetMember.get_info|expected get_info() to return one literal dict"),
    (lambda c: (c / "tools" / "get_book.py").write_text((c / "tools" / "get_book.py").read_text().replace(
        "from minibench.envs.tool import Tool", "from minibench.envs.tool import Tool, helper")),
     "tools/get_book.py|line 4|imports helper from the benchmark's own package"),
    (lambda c: (c / "tools" / "get_book.py").write_text((c / "tools" / "get_book.py").read_text().replace(
        '"get_book"', '"get_member"')),
     "get_member' is also defined in"),
])
def test_a_checkout_in_the_wrong_format_names_the_file_and_field(checkout: Path, tmp_path: Path,
                                                                 change: Any, expected: str) -> None:
    change(checkout)
    problems = _problems(checkout, tmp_path)
    assert any(expected.split("|")[-1] in p and all(part in p for part in expected.split("|")[:-1])
               for p in problems), problems


def test_the_cli_prints_a_bad_checkout_as_an_error(checkout: Path, tmp_path: Path) -> None:
    (checkout / "data" / "books.json").write_text("[]")
    out = subprocess.run([sys.executable, "-m", "baton.cli", "import", "tau-bench", str(checkout), "-o",
                          str(tmp_path / "o")], capture_output=True, text=True, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("baton: error: the checkout cannot be imported:") and "books.json" in out.stderr


@pytest.mark.parametrize(("source", "writes"), [
    ("def invoke(data, x):\n    orders = data['orders']\n    orders[x]['status'] = 'done'\n", True),
    ("def invoke(data, x):\n    for u in data['users'].values():\n        u['seen'] += 1\n", True),
    ("def invoke(data, x):\n    o = data['orders'][x]\n    o['items'].append(1)\n", True),
    ("def invoke(data, x):\n    out = {}\n    for k, v in data['p'].items():\n        out[k] = v['name']\n    return out\n", False),
    ("def invoke(data, x):\n    found = []\n    found.append(data['p'][x])\n    return found\n", False),
    ("def invoke(data, x):\n    return str(data['p'][x])\n", False),
])
def test_judging_whether_a_tool_writes(source: str, writes: bool) -> None:
    import ast

    (function,) = ast.parse(source).body
    assert judge_writes(function) is writes  # type: ignore[arg-type]


@pytest.mark.e2e
async def test_an_imported_domain_runs_end_to_end_with_grading_in_a_spawned_worker(
        imported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import baton.engine
    from baton.engine import Matrix, run_matrix
    from baton.store import iter_results
    from baton.systems import BUILTIN_SYSTEMS
    from baton.vendor_config import builtin_profiles

    monkeypatch.setattr(baton.engine, "_can_fork", lambda: False)  # the worker gets tasks, not this process's modules
    matrix = Matrix(tasks=load_tasks(imported), systems=[BUILTIN_SYSTEMS["multi_agent"]],
                    vendors=["sim-frontier"], trials=1, seed=1)
    summary = await run_matrix(matrix, profiles=builtin_profiles(), run_dir=tmp_path / "run", concurrency=4,
                               cache_dir=tmp_path / "cache", grade_worker=True)
    assert summary.completed == len(matrix) == 5 and summary.errors == 0
    results = list(iter_results(tmp_path / "run"))
    tool_hops = [h for r in results for h in r.trace.hops if h.kind == "tool"]
    assert tool_hops and any(h.output["error"] is None and h.output["result"] is not None for h in tool_hops)
    assert summary.passed >= 1
    assert all(r.grade.first_divergent_hop for r in results if r.grade.status == "failed")
