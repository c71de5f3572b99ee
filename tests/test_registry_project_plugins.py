"""A project's own plugins, without packaging: ``[tool.baton] plugins`` names a Python file of the
project (a check and an async grader) and a module of a package inside it (an OpenTelemetry
exporter). ``baton run``
and ``pytest evals/`` load them once before the run; the check and the async grader grade every run and the exporter
writes one line per run. A bad ``plugins`` entry is an error naming pyproject.toml, the key and
what was expected; a plugin that fails to import names its file and line, never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from baton.config_model import load_config
from baton.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

PYPROJECT = """
[tool.pytest.ini_options]
addopts = "-p no:cacheprovider"
baton_systems = "naive"
baton_vendors = "sim-frontier"

[tool.baton]
plugins = ["checks/word_count.py", "team_plugins.exporters"]

[tool.baton.run]
tasks = "fixtures"
systems = ["naive"]
vendors = ["sim-frontier"]
trials = 1

[tool.baton.otel.export]
status-lines = "exported/status.jsonl"
"""

CHECK = '''
import asyncio

from baton.graders.async_graders import register_async_grader
from baton.graders.registry import register_check
from baton.result import Check, ComponentScore


@register_check("reply_word_count")
def reply_word_count(task, trace) -> Check:
    words = len(trace.answer.split())
    return Check(name="reply_word_count", passed=True, detail=f"{words} words")


@register_async_grader("answer_service")
async def answer_service(task, trace, context) -> ComponentScore:
    await asyncio.sleep(0)  # e.g. a call to the team's own scoring service
    return ComponentScore(component="answer_service", score=1.0 if trace.answer else 0.0)
'''

EXPORTER = '''
import json
from pathlib import Path

from baton.otel.exporters import register_exporter


@register_exporter("status-lines", path=True)
class StatusLines:
    def __init__(self, destination, context):
        Path(destination).parent.mkdir(parents=True, exist_ok=True)
        self.out = open(destination, "a", encoding="utf-8")

    def send(self, spans):
        for span in spans:
            if span.parent_id is None:
                self.out.write(json.dumps({"task": span.attributes["baton.task.id"],
                                           "status": span.attributes["baton.status"]}) + "\\n")

    def flush(self):
        self.out.flush()

    def close(self):
        self.out.close()
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO / "fixtures" / "billing", root / "fixtures" / "billing")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "checks").mkdir()
    (root / "checks" / "word_count.py").write_text(CHECK)
    (root / "team_plugins").mkdir()
    (root / "team_plugins" / "__init__.py").write_text("")
    (root / "team_plugins" / "exporters.py").write_text(EXPORTER)
    (root / "evals").mkdir()
    (root / "evals" / "test_golden.py").write_text("def test_golden_set(baton_case):\n    baton_case.check()\n")
    return root


def stored(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines() if line.strip()]


def assert_graded_by_the_projects_check(run_dir: Path) -> list[dict]:
    records = stored(run_dir)
    assert len(records) == 6
    for record in records:
        checks = {c["name"]: c for c in record["grade"]["checks"]}
        assert checks["reply_word_count"]["detail"] == f"{len(record['trace']['answer'].split())} words"
        assert "final_state" in checks  # next to the built-ins
        assert record["grade"]["components"]["answer_service"]["score"] == (1.0 if record["trace"]["answer"] else 0.0)
    return records


@pytest.mark.e2e
def test_baton_run_loads_the_projects_own_check_and_exporter(project: Path, tmp_path: Path):
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "baton.cli", "run", "--out", str(run_dir), "--no-cache"],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    records = assert_graded_by_the_projects_check(run_dir)
    lines = [json.loads(line) for line in (project / "exported" / "status.jsonl").read_text().splitlines()]
    assert sorted((x["task"], x["status"]) for x in lines) == \
        sorted((r["key"]["task_id"], r["status"]) for r in records)


@pytest.mark.e2e
def test_pytest_evals_loads_the_projects_own_check(project: Path, tmp_path: Path):
    run_dir = tmp_path / "gate-run"
    plugin = [] if metadata.entry_points(group="pytest11", name="baton") else ["-p", "baton.pytest_plugin"]
    gate = subprocess.run([sys.executable, "-m", "pytest", "evals", *plugin, f"--rootdir={project}",
                           f"--baton-run-dir={run_dir}", "--baton-no-cache", "-q"],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert (run_dir / "results.jsonl").exists(), gate.stdout + gate.stderr
    assert_graded_by_the_projects_check(run_dir)


def config_with(tmp_path: Path, plugins: str, files: dict[str, str] | None = None) -> ConfigError:
    (tmp_path / "pyproject.toml").write_text(f"[tool.baton]\nplugins = {plugins}\n")
    for name, text in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    return caught.value


def test_plugins_must_be_a_list_of_files_or_module_names(tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    assert str(config_with(tmp_path, '"checks/mine.py"')) == \
        f"{pyproject}: tool.baton.plugins: expected a list of Python files or module names"
    assert f"{pyproject} [tool.baton]: plugins: expected a list of Python files relative to {tmp_path} or " \
           f"module names, got 3" == str(config_with(tmp_path, '["checks/mine.py", 3]'))


def test_a_missing_plugin_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    pyproject = tmp_path / "pyproject.toml"
    assert str(config_with(tmp_path, '["checks/absent.py"]')) == \
        f"{pyproject} [tool.baton]: plugins: 'checks/absent.py': no such file ({tmp_path / 'checks' / 'absent.py'})"
    message = str(config_with(tmp_path, '["no_such_team_module.checks"]'))
    assert message.startswith(f"{pyproject} [tool.baton]: plugins: 'no_such_team_module.checks': no module "
                              f"named 'no_such_team_module'"), message
    message = str(config_with(tmp_path, '["json.no_such_submodule"]'))
    assert message == f"{pyproject} [tool.baton]: plugins: 'json.no_such_submodule' failed to import: " \
                      f"ModuleNotFoundError: No module named 'json.no_such_submodule'", message


def test_a_plugin_that_fails_to_import_names_its_file_and_line(tmp_path: Path):
    broken = tmp_path / "checks" / "broken_runtime.py"
    message = str(config_with(tmp_path, '["checks/broken_runtime.py"]',
                              {"checks/broken_runtime.py": "import os\n\nTHRESHOLD = undefined_name + 1\n"}))
    assert f"'checks/broken_runtime.py' failed to import: {broken}:3: NameError: name 'undefined_name'" in message
    bad_syntax = tmp_path / "checks" / "bad_syntax.py"
    message = str(config_with(tmp_path, '["checks/bad_syntax.py"]', {"checks/bad_syntax.py": "x = 1\ndef (:\n"}))
    assert f"'checks/bad_syntax.py': {bad_syntax}:2: SyntaxError" in message


@pytest.mark.e2e
def test_baton_run_with_a_broken_plugin_exits_2_without_a_traceback(project: Path, tmp_path: Path):
    (project / "checks" / "word_count.py").write_text(CHECK + "\nraise RuntimeError('half-written check')\n")
    done = subprocess.run([sys.executable, "-m", "baton.cli", "run", "--out", str(tmp_path / "run")],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    line = len(CHECK.splitlines()) + 2
    assert f"{project / 'checks' / 'word_count.py'}:{line}: RuntimeError: half-written check" in done.stderr
    assert not (tmp_path / "run").exists()
