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
