"""The options that choose and run a matrix, declared once for both front ends: ``baton run``
adds them as ``--<name>`` (:func:`add_to_argparse`), the pytest plugin as ``--baton-<name>``
with an ini key ``baton_<name>`` (:mod:`baton.plugin_options`). Unset options fall back to
``[tool.baton.run]`` (:mod:`baton.run_settings`), then to Baton's defaults."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Kind", "RUN_OPTIONS", "RunOption", "add_to_argparse"]

Kind = Literal["path", "str", "int", "float", "names", "flag", "gates"]


@dataclass(frozen=True, slots=True)
class RunOption:
    """One option: its name (``task-filter``), the kind of value, its help line and metavar."""

    name: str
    kind: Kind
    help: str
    metavar: str | None = None


RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption("tasks", "path", "golden set: root, domain folder, task file or exported .jsonl/.parquet "
              "(default: [tool.baton.run] tasks, else fixtures/)", "PATH"),
    RunOption("task-filter", "str", "only tasks whose id matches a glob, comma-separated, e.g. 'billing/*'", "GLOB"),
    RunOption("systems", "names", "systems to run, comma-separated (default: naive,rag,multi_agent)", "A,B"),
    RunOption("vendors", "names", "vendor profiles, comma-separated, each the default vendor of every role "
              "(default: sim-frontier)", "X,Y"),
    RunOption("vendors-file", "path", "an extra vendor profile file (TOML, one table per profile)", "PATH"),
    RunOption("trials", "int", "trials per task, system and vendor (default: 1)", "N"),
    RunOption("seed", "int", "matrix seed (default: 0)", "S"),
    RunOption("concurrency", "int", "runs in flight at once, across vendors (default: 32); each vendor is also "
              "held to its profile's max_concurrency", "N"),
    RunOption("no-cache", "flag", "bypass the response cache"),
)

_TYPES = {"path": Path, "int": int, "float": float, "str": str, "names": str}


def add_to_argparse(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """Add the options (all, or those in ``names``) to a command's parser as ``--<name>``."""
    for option in RUN_OPTIONS:
        if names is not None and option.name not in names:
            continue
        if option.kind == "flag":
            parser.add_argument(f"--{option.name}", action="store_true", help=option.help)
        else:
            parser.add_argument(f"--{option.name}", type=_TYPES[option.kind], default=None,
                                metavar=option.metavar, help=option.help)
