"""The ``baton`` command. Each subcommand lives in its own module under ``baton.commands``.

A command module defines ``register(subparsers) -> None``, which adds its parser and sets
``func`` (a callable taking the parsed args and returning an exit code) with ``set_defaults``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from baton import __version__
from baton.errors import BatonError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton",
        description="End-to-end task success evaluation: component scores, system success, and the gap.")
    parser.add_argument("--version", action="version", version=f"baton {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import baton.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"baton.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from baton.redact import install_log_redaction, redact

    install_log_redaction()
    parser = build_parser()
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
