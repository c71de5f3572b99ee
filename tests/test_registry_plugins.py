"""Done-when of the registries: a third-party distribution (tests/plugins/dist, found through the
entry points of its dist-info on the path, never imported by Baton by name) adds an architecture
with its own isolated hop, a check, a component grader, a report format and a vendor kind; a
user's project (tests/plugins/project, a held-out library domain) runs them through ``baton run``
and ``pytest evals/``, and they show up in the stored results and the reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "plugins"
DIST = HERE / "dist"
PROJECT = HERE / "project"
pytestmark = pytest.mark.e2e


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    return root


def env_with_plugin(plugin: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    paths = [str(DIST)] if plugin else []
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def baton(cwd: Path, *args: str, plugin: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "baton.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env_with_plugin(plugin))


def results(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines() if line.strip()]


def assert_plugin_parts_in(run_dir: Path) -> None:
    stored = results(run_dir)
    modes = {r["key"]["mode"] for r in stored}
    assert modes == {"system", "isolated:lookup"}, modes  # the architecture's own hop, run isolated
    assert {r["key"]["vendor"] for r in stored} == {"echo-local"}
    assert {r["trace"]["architecture"] for r in stored} == {"two_step"}
    for r in stored:
        assert r["status"] in ("passed", "failed"), r["trace"].get("infra_error")
        checks = {c["name"]: c for c in r["grade"]["checks"]}
        assert "short_reply" in checks and checks["short_reply"]["detail"].endswith("words (max 60)")
        assert "final_state" in checks  # the built-ins still run next to the plugin's checks
        assert checks["no_template_placeholders"] == {"name": "no_template_placeholders", "passed": True,
                                                      "detail": "none"}  # the README's example
        assert "lookup_recall" in r["grade"]["components"]
    system = [r for r in stored if r["key"]["mode"] == "system"]
    assert all(r["trace"]["answer"].startswith("Echo: ") for r in system)  # served by the echo kind
    isolated = [r for r in stored if r["key"]["mode"] == "isolated:lookup"]
    assert all(h["isolated"] for r in isolated for h in r["trace"]["hops"])
    assert all(r["grade"]["components"]["lookup_recall"]["score"] == 1.0 for r in stored)
    card = json.loads((run_dir / "card.json").read_text())
    config = next(c for c in card["configurations"] if c["system"] == "two_step") if "configurations" in card \
        else card
    text = json.dumps(config)
    assert '"lookup_recall_in_system": 1.0' in text and '"lookup_recall_isolated": 1.0' in text, text
    # the grader declares the hop it scores: the hop's reliability, alone and in the system
    assert all(r["grade"]["hops"]["lookup"]["ok"] is True for r in stored)
    assert config["lookup_reliability_isolated"] == 1.0 and config["lookup_reliability_in_system"] == 1.0
    assert "two_step on echo-local: 2/2 successful runs" in (run_dir / "report.txt").read_text()


def test_plugin_parts_run_through_baton_run_and_report(project: Path, tmp_path: Path):
    run_dir = tmp_path / "run"
    lines = tmp_path / "exported" / "runs.jsonl"
    lines.parent.mkdir()
    done = baton(project, "run", "--out", str(run_dir), "--no-cache", "--otel-export", f"run-lines={lines}")
    assert done.returncode == 0, done.stderr
    assert "4/4 runs" in done.stdout and "0 infra errors" in done.stdout
    assert f"spans exported to run-lines:{lines}" in done.stderr  # the plugin's exporter, during the run
    exported = [json.loads(line) for line in lines.read_text().splitlines()]
    assert len(exported) == 4 and {e["name"] for e in exported} == {"invoke_workflow two_step"}, exported
    assert {e["task"] for e in exported} == {r["key"]["task_id"] for r in results(run_dir)}
    reported = baton(project, "report", str(run_dir))
    assert reported.returncode == 0, reported.stderr
    assert str(run_dir / "report.txt") in reported.stdout  # every registered format by default
    assert_plugin_parts_in(run_dir)
    only = baton(project, "report", str(run_dir), "--format", "txt", "--out", str(tmp_path / "txt"))
    assert only.returncode == 0 and [p.name for p in (tmp_path / "txt").iterdir()] == ["report.txt"]


def test_plugin_parts_run_through_pytest_evals(project: Path, tmp_path: Path):
    run_dir = tmp_path / "gate-run"
    plugin = [] if metadata.entry_points(group="pytest11", name="baton") else ["-p", "baton.pytest_plugin"]
    gate = subprocess.run([sys.executable, "-m", "pytest", "evals", *plugin, f"--rootdir={project}",
                           f"--baton-run-dir={run_dir}", "--baton-no-cache", "-rA"],
                          cwd=project, capture_output=True, text=True, timeout=300, env=env_with_plugin())
    output = gate.stdout + gate.stderr
    assert gate.returncode == 0, output
    assert "test_golden_set[library/loan-period-two_step-echo-local]" in output or "2 passed" in output, output
    assert_plugin_parts_in(run_dir)


def test_without_the_plugin_its_names_are_clear_errors(project: Path, tmp_path: Path):
    pyproject = project / "pyproject.toml"

    def fails_with(*expected: str) -> None:
        done = baton(project, "run", "--out", str(tmp_path / "run"), plugin=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert all(text in done.stderr for text in expected), done.stderr
        assert not (tmp_path / "run").exists()

    fails_with(f"{pyproject} [tool.baton.run]: modes: unknown mode 'isolated:lookup'",
               "with hop one of route, retrieve, draft, act, verify")
    pyproject.write_text(pyproject.read_text().replace('modes = ["system", "isolated:lookup"]', 'modes = ["system"]'))
    fails_with("unknown architecture 'two_step'; known: ", "multi_agent, naive, rag")  # adapters join when installed
    systems = project / "runners" / "systems.toml"
    systems.write_text(systems.read_text().replace('architecture = "two_step"', 'architecture = "naive"'))
    fails_with("vendor profile 'echo-local': kind: unknown vendor kind 'echo'; known: local, openai, sim")
    missing = baton(project, "otel", "export", str(tmp_path), "--otel-export", "run-lines=runs.jsonl", plugin=False)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr, missing.stderr
    assert "--otel-export: unknown exporter 'run-lines'; known: jsonl-file, otlp-http" in missing.stderr


def test_results_of_a_plugin_run_still_report_without_the_plugin(project: Path, tmp_path: Path):
    run_dir = tmp_path / "run"
    assert baton(project, "run", "--out", str(run_dir), "--no-cache").returncode == 0
    reported = baton(project, "report", str(run_dir), "--format", "md,json", plugin=False)
    assert reported.returncode == 0, reported.stderr
    assert "lookup_recall" in (run_dir / "card.json").read_text()
    later = tmp_path / "later.jsonl"
    exported = baton(project, "otel", "export", str(run_dir), "--otel-export", f"run-lines={later}")
    assert exported.returncode == 0 and len(later.read_text().splitlines()) == 4, exported.stderr
