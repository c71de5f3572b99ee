"""The ``baton`` command. Each subcommand lives in its own module under ``baton.commands``.

A command module defines ``register(subparsers) -> None``, which adds its parser and sets
``func`` (a callable taking the parsed args and returning an exit code) with ``set_defaults``.

Start-up is kept short: :data:`COMMANDS` names each command's module and one-line help, so
``baton --help`` imports no command module and ``baton run ...`` imports only
``baton.commands.run`` (whose own heavy imports happen inside the function that runs it). A
module under ``baton.commands`` that the table does not list is still found and imported, so a
new command works before it is added to the table (``tests/test_cli_lazy.py`` asks for the row).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from baton import __version__
from baton.errors import BatonError

COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("compare", "run vendors × systems on the golden set and write the report (the main job)"),
    "diff": ("diff", "compare two runs per system and per task, with paired significance tests"),
    "export": ("export", "export golden tasks as a JSONL or Parquet dataset file"),
    "import": ("import_", "import a tau-bench-style benchmark environment as a Baton domain"),
    "load": ("load", "load-test a system: latency per hop versus offered rate, and the saturation point"),
    "merge": ("merge", "combine shard run directories into one run directory"),
    "otel": ("otel", "OpenTelemetry: export runs as traces, grade systems from spans"),
    "report": ("report", "build the report card of a run (HTML, Markdown, CSV, JSON)"),
    "run": ("run", "run the golden set on systems and vendors"),
    "sim": ("sim", "the simulated vendor"),
    "validate": ("validate", "check golden tasks: schema, cross-references, gold replay"),
    "vendors": ("vendors", "vendor profiles"),
    "whatif": ("whatif", "predicted vs measured success at chosen per-hop reliabilities (simulated)"),
}
"""``command name -> (module under baton.commands, one-line help shown by baton --help)``."""


def _unlisted_modules() -> list[str]:
    """Command modules that :data:`COMMANDS` does not name (imported eagerly, as before the table)."""
    import baton.commands as commands

    listed = {module for module, _ in COMMANDS.values()}
    return sorted(info.name for info in pkgutil.iter_modules(commands.__path__) if info.name not in listed)


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line: the first argument that is not an option."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def build_parser(command: str | None = None, *, load_all: bool = True) -> argparse.ArgumentParser:
    """The full parser. With ``load_all=False`` only ``command``'s module is imported; the other
    listed commands get a placeholder parser carrying their help line."""
    parser = argparse.ArgumentParser(
        prog="baton",
        description="End-to-end task success evaluation: component scores, system success, and the gap.")
    parser.add_argument("--version", action="version", version=f"baton {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_line) in sorted(COMMANDS.items()):
        if load_all or name == command:
            importlib.import_module(f"baton.commands.{module}").register(subparsers)
        else:
            subparsers.add_parser(name, help=help_line, add_help=False)
    for module in _unlisted_modules():
        importlib.import_module(f"baton.commands.{module}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from baton.redact import install_log_redaction, redact

    install_log_redaction()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_chosen_command(argv), load_all=False)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BatonError as exc:
        print(f"baton: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("baton: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
