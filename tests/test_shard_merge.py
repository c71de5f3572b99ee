"""Shards and merge end to end: real fixtures, runners and graders against the simulated vendor
over loopback HTTP. Three shards merged give the unsharded run's results and card; merging
again changes nothing; mixed configurations are refused; missing shards are reported."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from baton.cli import main
from baton.fixtures import load_tasks
from baton.matrix import Matrix
from baton.store import iter_results
from baton.systems import BUILTIN_SYSTEMS
from baton.result import RunKey
from baton.units import Shard, parse_shard, shard_matrix, unit_id, unit_index

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = """
[tool.baton.run]
tasks = "fixtures"
systems = ["naive", "multi_agent"]
vendors = ["sim-frontier"]
trials = 2
seed = 5
concurrency = 8
cache = false
"""

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "fixtures" / "billing", root / "fixtures" / "billing")
    (root / "pyproject.toml").write_text(PYPROJECT)
    return root


def baton_run(project: Path, out: Path, *extra: str) -> int:
    return main(["run", "--project", str(project), "--out", str(out), *extra])


def outcomes(run_dir: Path) -> dict[str, tuple]:
    """Everything a run's result means, minus wall-clock fields (latency, timestamps)."""
    out = {}
    for r in iter_results(run_dir):
        grade = r.grade.model_dump(mode="json")
        out[r.key.as_str()] = (r.seed, r.status, json.dumps(grade, sort_keys=True), r.trace.answer,
                               r.usage.cost_usd, r.usage.calls)
    return out


def card_without_timing(run_dir: Path) -> dict:
    assert main(["report", str(run_dir), "--format", "json"]) == 0
    card = json.loads((run_dir / "card.json").read_text())

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if "latency" not in k and not k.endswith("_s")
                    and k not in {"created", "created_at", "run_dir", "title"}}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(card)


@pytest.fixture(scope="module")
def runs(project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    dirs = {"whole": base / "whole"}
    assert baton_run(project, dirs["whole"]) == 0
    for i in (1, 2, 3):
        dirs[f"s{i}"] = base / f"shard{i}"
        assert baton_run(project, dirs[f"s{i}"], "--shard", f"{i}/3") == 0
    return dirs


def test_three_shards_partition_the_run(runs: dict[str, Path]) -> None:
    whole = set(outcomes(runs["whole"]))
    parts = [set(outcomes(runs[f"s{i}"])) for i in (1, 2, 3)]
    assert all(parts), "each shard got some units"
    assert sum(len(p) for p in parts) == len(whole)
    assert set().union(*parts) == whole


def test_merged_shards_equal_the_unsharded_run_and_a_second_merge_changes_nothing(
        runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    merged = tmp_path / "merged"
    assert main(["merge", str(runs["s1"]), str(runs["s2"]), str(runs["s3"]), "-o", str(merged)]) == 0
    assert outcomes(merged) == outcomes(runs["whole"])
    manifest = json.loads((merged / "manifest.json").read_text())
    whole_manifest = json.loads((runs["whole"] / "manifest.json").read_text())
    assert manifest["run_key"] == whole_manifest["run_key"]
    assert manifest["total_runs"] == whole_manifest["total_runs"]
    files = {p.name: p.read_bytes() for p in merged.iterdir() if p.is_file() and p.name != ".lock"}
    capsys.readouterr()
    assert main(["merge", str(runs["s1"]), str(runs["s2"]), str(runs["s3"]), "-o", str(merged)]) == 0
    assert "0 added" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in merged.iterdir() if p.is_file() and p.name != ".lock"} == files
    assert card_without_timing(merged) == card_without_timing(runs["whole"])


def test_a_missing_shard_and_duplicates_are_reported(runs: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["merge", str(runs["s1"]), str(runs["whole"]), "-o", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert "were in more than one source" in err
    assert main(["merge", str(runs["s1"]), str(runs["s3"]), "-o", str(tmp_path / "m2")]) == 1
    err = capsys.readouterr().err
    assert "missing: shard 2/3" in err and "lacks" in err
    # the matrix is rebuilt from the manifest, so the missing units are named, each with its shard
    assert "missing units" in err
    named = [line.strip() for line in err.splitlines() if line.startswith("  ")]
    assert named and all(line.endswith("(shard 2/3)") for line in named)
    shard2 = set(outcomes(runs["s2"]))
    assert {line.rsplit(" (", 1)[0] for line in named} == shard2  # 3 units: all listed


def test_a_different_configuration_is_refused(project: Path, runs: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    assert baton_run(project, other, "--shard", "2/3", "--seed", "6", "--task-filter",
                     "billing/seat-addon-billing-date") == 0
    capsys.readouterr()
    assert main(["merge", str(runs["s1"]), str(other), "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "not a part of the same run" in err and "seed: 5 -> 6" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_resume_keeps_the_shard_and_refuses_another(project: Path, runs: dict[str, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--project", str(project), "--resume", str(runs["s2"])]) == 0
    assert main(["run", "--project", str(project), "--resume", str(runs["s2"]), "--shard", "1/3"]) == 2
    assert "was started as shard 2/3" in capsys.readouterr().err


def test_unit_ids_do_not_depend_on_order_or_working_directory(tmp_path: Path) -> None:
    tasks = load_tasks(REPO / "fixtures" / "billing")
    systems = [BUILTIN_SYSTEMS["naive"], BUILTIN_SYSTEMS["rag"]]
    a = Matrix(tasks=tasks, systems=systems, vendors=["v1", "v2"], trials=2, seed=3)
    b = Matrix(tasks=list(reversed(tasks)), systems=list(reversed(systems)), vendors=["v2", "v1"], trials=2, seed=3)
    ids_a = {unit_id(i.key(), i.seed) for i in a.items()}
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        ids_b = {unit_id(i.key(), i.seed) for i in b.items()}
    finally:
        os.chdir(cwd)
    assert ids_a == ids_b and len(ids_a) == len(a)
    shards = [shard_matrix(a, Shard(i, 4)) for i in range(1, 5)]
    assert sum(len(s) for s in shards) == len(a)
    assert set().union(*({unit_id(i.key(), i.seed) for i in s.items()} for s in shards)) == ids_a
    # a known id pins the recipe: changing it would silently reshuffle every existing CI split
    key = RunKey(task_id="d/t", task_version=2, system="s", vendor="v", trial=1, mode="system")
    assert unit_id(key, 42) == "c38262082b73035d89cecb13b2ab60d2"
    assert unit_index(unit_id(key, 42), 3) == 1


@pytest.mark.parametrize("bad", ["0/3", "4/3", "1/0", "x", "1-3", ""])
def test_bad_shard_specs_are_clear_errors(bad: str) -> None:
    with pytest.raises(Exception, match="--shard: expected"):
        parse_shard(bad)


def test_the_pytest_gate_reads_a_merged_run_like_the_unsharded_one(project: Path, runs: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    import subprocess
    import sys

    merged = tmp_path / "merged"
    assert main(["merge", str(runs["s1"]), str(runs["s2"]), str(runs["s3"]), "-o", str(merged)]) == 0
    (project / "test_golden.py").write_text("def test_golden_set(baton_case):\n    baton_case.check()\n")

    def gate(run_dir: Path) -> tuple[int, list[str]]:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
                               "--baton-run-dir", str(run_dir), "test_golden.py"],
                              cwd=project, capture_output=True, text=True, timeout=300)
        outcomes = sorted(line for line in done.stdout.splitlines()
                          if line.startswith(("PASSED", "FAILED", "ERROR", "XFAIL", "XPASS", "SKIPPED")))
        return done.returncode, outcomes

    code, merged_outcomes = gate(merged)
    assert merged_outcomes, "the gate collected one item per (task, system, vendor)"
    assert (code, merged_outcomes) == gate(runs["whole"])
    assert outcomes(merged) == outcomes(runs["whole"])  # the gate found every unit stored: no run redone
