"""Task identity comes from content only: the same fixtures are the same tasks whatever the
working directory. The gate compares against its baseline, ``--resume`` continues and ``baton
diff`` pairs two runs when each command runs from the project, from a folder inside it and from a
folder outside it (real fixtures, the simulated vendor over HTTP, ``baton`` in subprocesses)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from baton.fixtures import load_tasks
from baton.manifest import task_hash

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e

PYPROJECT = """
[tool.pytest.ini_options]
addopts = "-p no:cacheprovider"
baton_systems = "naive"
baton_vendors = "sim-frontier"

[tool.baton.run]
tasks = "fixtures"
systems = ["naive"]
vendors = ["sim-frontier"]
trials = 1
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO / "fixtures" / "billing", root / "fixtures" / "billing")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "evals").mkdir()
    (root / "evals" / "test_golden.py").write_text("def test_golden_set(baton_case):\n    baton_case.check()\n")
    (root / "sub" / "deeper").mkdir(parents=True)
    return root


def working_dirs(project: Path) -> list[Path]:
    outside = project.parent / "elsewhere"
    outside.mkdir(exist_ok=True)
    return [project, project / "sub" / "deeper", outside]


def baton(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "baton.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_task_hash_ignores_where_documents_were_read_from(project: Path, monkeypatch: pytest.MonkeyPatch):
    hashes = []
    for cwd in working_dirs(project):
        monkeypatch.chdir(cwd)
        hashes.append({t.id: task_hash(t) for t in load_tasks(project / "fixtures")})
    assert hashes[0] == hashes[1] == hashes[2]


def test_gate_compares_with_its_baseline_from_any_working_directory(project: Path):
    base = project / "runs" / "base"
    done = baton(project, "run", "--project", str(project), "--out", str(base), "--no-cache")
    assert done.returncode == 0, done.stderr
    plugin = [] if metadata.entry_points(group="pytest11", name="baton") else ["-p", "baton.pytest_plugin"]
    for i, cwd in enumerate(working_dirs(project)):
        gate = subprocess.run(
            [sys.executable, "-m", "pytest", str(project / "evals"), *plugin, f"--rootdir={project}",
             f"--baton-baseline={base}", "--baton-gate=naive:no_regression", f"--baton-run-dir={project / 'runs' / str(i)}",
             "--baton-no-cache"],
            cwd=cwd, capture_output=True, text=True, timeout=300)
        output = gate.stdout + gate.stderr
        assert gate.returncode == 0, output
        verdicts = json.loads((project / "runs" / str(i) / "gates.json").read_text())
        checks = [c for v in verdicts for c in v["checks"] if c["name"] == "no_regression"]
        assert checks and all("not compared" not in json.dumps(c) for c in checks), (cwd, checks)


def test_resume_and_diff_from_any_working_directory(project: Path):
    inside, deeper, outside = working_dirs(project)
    first, second = project / "runs" / "first", project / "runs" / "second"
    for cwd, run_dir in ((inside, first), (outside, second)):
        done = baton(cwd, "run", "--project", str(project), "--out", str(run_dir), "--no-cache")
        assert done.returncode == 0, done.stderr
    # Cut the first run short, then resume it from each directory in turn.
    results = first / "results.jsonl"
    lines = results.read_bytes().splitlines(keepends=True)
    for kept, cwd in enumerate((inside, deeper, outside), start=2):
        results.write_bytes(b"".join(lines[:kept]))
        resumed = baton(cwd, "run", "--resume", str(first))
        assert resumed.returncode == 0, resumed.stderr
        assert "6/6 runs" in resumed.stdout and f"{kept} from earlier sessions" in resumed.stdout
    for cwd in (inside, deeper, outside):
        diff = baton(cwd, "diff", str(first), str(second), "--format", "text")
        assert diff.returncode == 0, diff.stderr
        assert "different fixture sets" not in diff.stdout + diff.stderr
