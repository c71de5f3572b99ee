"""The CLI's command table: every command module is listed with the help line it registers, and
a command's module is imported only when that command runs (``baton --help`` imports none)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import subprocess
import sys

import baton.commands
from baton.cli import COMMANDS, build_parser


def test_every_command_module_is_in_the_table_with_its_help_line() -> None:
    modules = {info.name for info in pkgutil.iter_modules(baton.commands.__path__)}
    assert modules == {module for module, _ in COMMANDS.values()}
    for name, (module, help_line) in COMMANDS.items():
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"baton.commands.{module}").register(sub)
        registered = {action.dest: action.help for action in sub._choices_actions}
        assert registered == {name: help_line}, module


def test_the_full_parser_and_the_lazy_one_list_the_same_commands() -> None:
    full = build_parser()
    lazy = build_parser("run", load_all=False)
    subs = [a for p in (full, lazy) for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(subs[0].choices) == set(subs[1].choices) == set(COMMANDS)


def _modules_after(*argv: str) -> set[str]:
    code = ("import sys\nfrom baton.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('\\n'.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_help_imports_no_command_module_and_run_help_only_its_own() -> None:
    top = _modules_after("--help")
    assert not {m for m in top if m.startswith("baton.commands.")}
    run = _modules_after("run", "--help")
    assert {m for m in run if m.startswith("baton.commands.")} <= {"baton.commands.run", "baton.commands.otel"}
    heavy = {"pydantic", "mcp", "uvicorn", "starlette", "openai", "pandas", "jinja2", "scipy"}
    assert not heavy & {m.split(".")[0] for m in run}


def test_a_run_of_a_built_in_system_without_tools_loads_no_heavy_library(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A one-task ``naive`` run against a loopback endpoint, as a fresh process: the MCP SDK, the
    simulated vendor's HTTP server, httpx (and with it rich and click), the ``openai`` SDK (the
    client posts with httpx2), tenacity (until a call is retried), Hugging Face datasets, pandas,
    scipy and jinja2 stay unimported (start-up: bench/startup.py)."""
    from pathlib import Path

    from baton.fixtures import load_tasks
    from baton.sim import SimKnobs, SimServer

    task_file = Path(__file__).resolve().parent.parent / "fixtures" / "billing" / "tasks" / "refund-unauthorized-4471.yaml"
    with SimServer({"loop-model": SimKnobs()}, tasks=load_tasks(task_file)) as server:
        (tmp_path / "pyproject.toml").write_text(
            f'[tool.baton.vendors.loop]\nbase_url = "{server.base_url}"\nmodel = "loop-model"\nretries = 0\n',
            encoding="utf-8")
        code = ("import sys\nfrom baton.cli import main\n"
                f"code = main(['run', '--tasks', {str(task_file)!r}, '--systems', 'naive', '--vendors', 'loop', "
                f"'--no-cache', '--out', {str(tmp_path / 'run')!r}])\n"
                "print('exit', code)\nprint('\\n'.join(sorted(sys.modules)))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert "exit 0" in done.stdout, done.stderr
    loaded = {m.split(".")[0] for m in done.stdout.split()}
    heavy = {"mcp", "mcp_types", "uvicorn", "starlette", "httpx", "rich", "click", "datasets", "pandas", "scipy",
             "jinja2", "openai", "tenacity"}
    assert not heavy & loaded, sorted(heavy & loaded)
