"""Adapter targets resolve against the project that declared them, whatever the working
directory, and every target mistake is one clear error naming the file, the key and what was
expected: on the command line, inside the engine and in the pytest gate — never a traceback,
never an infrastructure error with exit 0."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from baton.engine import Matrix, run_matrix
from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.matrix import load_systems
from baton.vendor_config import builtin_profiles

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e

SYSTEMS = """
[file_agent]
architecture = "callable"
params = {target = "agents/file_agent.py:answer", mcp = false}

[module_agent]
architecture = "callable"
params = {target = "agentpkg.core:answer", mcp = false}

[typo_agent]
architecture = "callable"
params = {target = "agents/file_agent.py:answr", mcp = false}

[missing_agent]
architecture = "callable"
params = {target = "agents/nowhere.py:answer", mcp = false}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO / "fixtures" / "billing", root / "fixtures" / "billing")
    (root / "runners").mkdir()
    (root / "runners" / "systems.toml").write_text(SYSTEMS)
    (root / "agents").mkdir()
    # The target imports a neighbour: its folder must be importable.
    (root / "agents" / "helpers_for_agent.py").write_text("def reply(text):\n    return 'Noted: ' + text[:20]\n")
    (root / "agents" / "file_agent.py").write_text(textwrap.dedent("""
        from helpers_for_agent import reply

        def answer(request):
            return reply(request.request)
        """))
    (root / "agentpkg").mkdir()
    (root / "agentpkg" / "__init__.py").write_text("")
    (root / "agentpkg" / "core.py").write_text("def answer(request):\n    return 'from a module'\n")
    (root / "pyproject.toml").write_text('[tool.baton.run]\nvendors = ["sim-frontier"]\ntrials = 1\n'
                                         'task_filter = "billing/refund-*"\n')
    (tmp_path / "elsewhere").mkdir()
    return root


def baton(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "baton.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_targets_resolve_against_the_project_not_the_working_directory(project: Path):
    done = baton(project.parent / "elsewhere", "run", "--project", str(project), "--systems",
                 "file_agent,module_agent", "--out", str(project / "run"), "--no-cache")
    assert done.returncode == 0, done.stderr
    assert "6/6 runs" in done.stdout and "0 infra errors" in done.stdout


@pytest.mark.parametrize("system, expected", [
    ("typo_agent", "has no attribute 'answr'; it defines answer"),
    ("missing_agent", "agents/nowhere.py not found (relative paths start at the project folder"),
])
def test_a_target_mistake_is_one_error_line_and_nothing_runs(project: Path, system: str, expected: str):
    done = baton(project.parent / "elsewhere", "run", "--project", str(project), "--systems", system,
                 "--out", str(project / "run"))
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("baton: error:")]
    assert len(errors) == 1, done.stderr
    assert f"{project / 'runners' / 'systems.toml'}: system '{system}': params.target" in done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert not (project / "run").exists()


async def test_inside_the_engine_a_target_mistake_stops_the_run(project: Path, tmp_path: Path):
    tasks = load_tasks(project / "fixtures")[:2]
    matrix = Matrix(tasks=tasks, systems=[load_systems(project)["typo_agent"]], vendors=["sim-frontier"])
    with pytest.raises(ConfigError, match="has no attribute 'answr'"):
        await run_matrix(matrix, profiles=builtin_profiles(), run_dir=tmp_path / "run", clients=object(),
                         concurrency=2)
    assert not (tmp_path / "run" / "results.jsonl").read_bytes()  # no run stored as an infra error


def test_in_the_pytest_gate_a_target_mistake_is_a_clean_error(project: Path):
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\nbaton_systems = "typo_agent"\n'
        'baton_vendors = "sim-frontier"\nbaton_task_filter = "billing/refund-*"\n')
    (project / "evals").mkdir()
    (project / "evals" / "test_golden.py").write_text("def test_golden_set(baton_case):\n    baton_case.check()\n")
    plugin = [] if metadata.entry_points(group="pytest11", name="baton") else ["-p", "baton.pytest_plugin"]
    # without CI in the environment: under CI=true pytest repeats each error's full message in its
    # short summary, and this test counts the messages
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    gate = subprocess.run([sys.executable, "-m", "pytest", str(project / "evals"), *plugin, f"--rootdir={project}"],
                          cwd=project.parent / "elsewhere", capture_output=True, text=True, timeout=300, env=env)
    output = gate.stdout + gate.stderr
    assert gate.returncode != 0
    assert output.count("has no attribute 'answr'") == 1  # one collection error, not one per item
    assert "params.target" in output and "has no attribute 'answr'" in output
    assert "Traceback" not in output and "infra" not in output.lower()


RETRIEVER_TYPO = '\n[bad_retriever]\narchitecture = "multi_agent"\nparams = {retriever = "bm52"}\n'


def test_an_unknown_retriever_is_one_error_line_naming_file_system_and_field(project: Path):
    (project / "runners" / "systems.toml").write_text(SYSTEMS + RETRIEVER_TYPO)
    done = baton(project.parent / "elsewhere", "run", "--project", str(project), "--systems", "bad_retriever",
                 "--out", str(project / "run"))
    assert done.returncode == 2, done.stderr
    assert (f"{project / 'runners' / 'systems.toml'}: system 'bad_retriever': params.retriever: "
            "unknown retriever 'bm52'; known: bm25") in done.stderr
    assert "Traceback" not in done.stderr and not (project / "run").exists()


async def test_a_configuration_error_inside_a_task_group_stops_the_engine(project: Path, tmp_path: Path):
    """Raised inside a task group (as the MCP tool session's), a ConfigError arrives wrapped in an
    exception group; the engine still stops on the ConfigError itself instead of storing an infra error."""
    import asyncio

    from baton.runners.registry import register_architecture
    from baton.systems import SystemConfig

    @register_architecture("test_grouped_config_error")
    async def grouped(ctx):  # type: ignore[no-untyped-def]
        async def misconfigured() -> None:
            raise ConfigError("params.widget: expected a widget name")

        async with asyncio.TaskGroup() as group:
            group.create_task(misconfigured())

    tasks = load_tasks(project / "fixtures")[:1]
    system = SystemConfig(name="grouped", architecture="test_grouped_config_error")
    matrix = Matrix(tasks=tasks, systems=[system], vendors=["sim-frontier"])
    with pytest.raises(ConfigError, match=r"^params\.widget: expected a widget name$"):
        await run_matrix(matrix, profiles=builtin_profiles(), run_dir=tmp_path / "run", clients=object(),
                         concurrency=1)
    assert not (tmp_path / "run" / "results.jsonl").read_bytes()


def two_versions(project: Path, body: str) -> None:
    """agents_versions/v1 and v2: an agent.py (``body``) next to its own prompts.py."""
    for version in ("v1", "v2"):
        folder = project / "agents_versions" / version
        folder.mkdir(parents=True)
        (folder / "prompts.py").write_text(f"GREETING = 'answer from {version}'\n")
        (folder / "agent.py").write_text(body)
    (project / "runners" / "systems.toml").write_text(SYSTEMS + "".join(
        f'\n[agent_{v}]\narchitecture = "callable"\nparams = {{target = "agents_versions/{v}/agent.py:answer", '
        f'mcp = false}}\n' for v in ("v1", "v2")))


def test_two_versions_of_an_agent_each_import_their_own_neighbours(project: Path):
    # Comparing v1 and v2 of one agent: each agent.py imports its own prompts.py. Python keeps one
    # module per name, so v2 used to get v1's prompts silently and both systems ran v1's code.
    two_versions(project, "from prompts import GREETING\nimport prompts as own\n\n"
                          "def answer(request):\n    return GREETING + ' / ' + own.GREETING\n")
    done = baton(project, "run", "--systems", "agent_v1,agent_v2", "--out", str(project / "run"), "--no-cache")
    assert done.returncode == 0, done.stderr
    answers = {(r["key"]["system"], r["trace"]["answer"]) for r in
               map(json.loads, (project / "run" / "results.jsonl").read_text().splitlines())}
    assert answers == {("agent_v1", "answer from v1 / answer from v1"),
                       ("agent_v2", "answer from v2 / answer from v2")}, answers


def test_a_shared_neighbour_imported_inside_a_function_is_a_clear_error(project: Path):
    # An import at call time cannot tell v1's prompts from v2's: one error line, not another version's code.
    two_versions(project, "def answer(request):\n    import prompts\n    return prompts.GREETING\n")
    done = baton(project, "run", "--systems", "agent_v1,agent_v2", "--out", str(project / "run"), "--no-cache")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "module 'prompts' is a neighbour of more than one adapter target" in done.stderr
    assert str(project / "agents_versions" / "v1") in done.stderr and str(project / "agents_versions" / "v2") in done.stderr
