"""The ``--baton-*`` options of the pytest gate, their ini keys, and how they resolve.

Every option but ``--baton-run-dir`` and ``--baton-save-baseline`` is mirrored by an ini key
(``[tool.pytest.ini_options]``, ``pytest.ini``...) named ``baton_<name>``. Precedence: the
command line, then the ini key, then ``[tool.baton.run]`` (read by :func:`baton.run_settings.load_settings`),
then Baton's defaults. Ini paths are relative to the ini file, command-line paths to the
directory pytest was started in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from baton.errors import BatonError
from baton.run_options import RUN_OPTIONS, Kind

if TYPE_CHECKING:
    from baton.gates import DeclaredGate

# Imports of the rest of Baton are deferred: this module loads in every pytest session.

__all__ = ["OPTIONS", "GROUP", "Option", "GateOptions", "add_options", "resolve_options"]

GROUP = "baton"
_INI_TYPES: dict[Kind, str] = {"path": "paths", "str": "string", "int": "string", "float": "string",
                               "names": "args", "flag": "bool", "gates": "linelist"}


@dataclass(frozen=True, slots=True)
class Option:
    """One ``--baton-<name>`` option; ``ini`` False for command-line-only options."""

    name: str
    kind: Kind
    help: str
    metavar: str | None = None
    ini: bool = True

    @property
    def flag(self) -> str:
        return f"--baton-{self.name}"

    @property
    def dest(self) -> str:
        return "baton_" + self.name.replace("-", "_")


_SHARED = {option.name: option for option in RUN_OPTIONS}  # declared once, with ``baton run``'s


def _shared(name: str) -> Option:
    option = _SHARED[name]
    return Option(option.name, option.kind, option.help, option.metavar)


OPTIONS: tuple[Option, ...] = (
    *(_shared(name) for name in ("tasks", "task-filter", "systems", "vendors", "vendors-file", "trials", "seed",
                                 "concurrency")),
    Option("out", "path", "folder for run directories (default: [tool.baton.run] out, else reports/)", "DIR"),
    Option("run-dir", "path", "exact run directory to write; resumed if it holds a run of the same "
           "configuration", "DIR", ini=False),
    _shared("no-cache"),
    Option("gate", "gates", "a gate, SYSTEM[@VENDOR]:KEY=VALUE,... with keys min_success, "
           "min_success_lower_bound, max_cost_per_task, max_p95_latency_s, max_error_rate, "
           "max_gap, no_regression, alpha (repeatable; adds to [[tool.baton.gates]])", "SPEC"),
    Option("baseline", "path", "baseline for no_regression gates: a run directory or a file written "
           "by --baton-save-baseline", "PATH"),
    Option("save-baseline", "path", "write this run's outcomes as a compact baseline file", "PATH", ini=False),
    Option("alpha", "float", "significance level of no_regression gates (default: 0.05)", "A"),
    Option("strict", "flag", "a failed task fails its test item (default: reported as xfail; only "
           "gates fail the session)"),
)


def add_options(parser: pytest.Parser) -> None:
    """Register the options in a named group, and their ini keys."""
    group = parser.getgroup(GROUP, "Baton: the golden set as a quality gate")
    for option in OPTIONS:
        if option.kind == "flag":
            group.addoption(option.flag, dest=option.dest, action="store_const", const=True, default=None,
                            help=option.help)
        elif option.kind == "gates":
            group.addoption(option.flag, dest=option.dest, action="append", default=None,
                            metavar=option.metavar, help=option.help)
        else:
            group.addoption(option.flag, dest=option.dest, default=None, metavar=option.metavar,
                            help=option.help)
        if option.ini:
            parser.addini("baton_gates" if option.kind == "gates" else option.dest, option.help, type=_INI_TYPES[option.kind],  # type: ignore[arg-type]
                          default=None)


@dataclass(frozen=True)
class GateOptions:
    """Resolved command-line and ini values; None where neither gave one (settings decide)."""

    tasks: Path | None = None
    task_filter: str | None = None
    systems: tuple[str, ...] | None = None
    vendors: tuple[str, ...] | None = None
    vendors_file: Path | None = None
    trials: int | None = None
    seed: int | None = None
    concurrency: int | None = None
    out: Path | None = None
    run_dir: Path | None = None
    no_cache: bool = False
    gates: tuple[DeclaredGate, ...] = ()
    baseline: Path | None = None
    save_baseline: Path | None = None
    alpha: float | None = None
    strict: bool = False


def _convert(option: Option, value: Any, where: str, base: Path) -> Any:
    """A raw command-line or ini value as the option's type; pytest.UsageError when it is not one."""
    try:
        if option.kind == "path":
            if isinstance(value, list):  # ini "paths": already relative to the ini file
                if len(value) != 1:
                    raise BatonError(f"expected one path, got {len(value)}")
                value = value[0]
            return (base / Path(value)).resolve()
        if option.kind == "int":
            number = int(str(value).strip())
            if option.name != "seed" and number < 1:
                raise BatonError(f"expected an integer >= 1, got {number}")
            return number
        if option.kind == "float":
            alpha = float(str(value).strip())
            if not 0.0 < alpha < 1.0:
                raise BatonError(f"expected a number strictly between 0 and 1, got {alpha}")
            return alpha
        if option.kind == "names":
            from baton.run_settings import parse_names

            items = value if isinstance(value, list) else [value]
            return parse_names(",".join(items), where)
        if option.kind == "gates":
            from baton.gates import parse_gate_spec

            return tuple(parse_gate_spec(spec, where) for spec in value if spec.strip())
        if option.kind == "flag":
            return bool(value)
        text = str(value).strip()
        if not text:
            raise BatonError("expected a non-empty value")
        return text
    except ValueError:
        raise pytest.UsageError(f"{where}: expected {'an integer' if option.kind == 'int' else 'a number'}, "
                                f"got {value!r}") from None
    except BatonError as exc:
        message = str(exc)
        raise pytest.UsageError(message if message.startswith(where) else f"{where}: {message}") from None


def resolve_options(config: pytest.Config) -> GateOptions:
    """Read every ``--baton-*`` option and ini key; bad values or combinations are a pytest.UsageError."""
    cwd = Path(config.invocation_params.dir)
    ini_base = Path(config.inipath).parent if config.inipath else cwd
    values: dict[str, Any] = {}
    for option in OPTIONS:
        cli = config.getoption(option.dest)
        if option.kind == "gates":  # gates add up: ini keys, then the command line
            ini = config.getini("baton_gates") or []
            values["gates"] = (_convert(option, ini, "ini baton_gates", ini_base)
                               + _convert(option, cli or [], option.flag, cwd))
            continue
        field = option.dest[len("baton_"):]
        if cli is not None:
            values[field] = _convert(option, cli, option.flag, cwd)
        elif option.ini:
            ini = config.getini(option.dest)
            if ini is not None and ini != [] and ini != "":
                values[field] = _convert(option, ini, f"ini {option.dest}", ini_base)
    options = GateOptions(**values)
    _check_combinations(options)
    return options


def _check_combinations(options: GateOptions) -> None:
    if options.run_dir is not None and options.out is not None:
        raise pytest.UsageError("--baton-run-dir and --baton-out are exclusive: --baton-run-dir names the run "
                                "directory itself, --baton-out the folder that timestamped ones go to")
    if options.save_baseline is not None and options.save_baseline.is_dir():
        raise pytest.UsageError(f"--baton-save-baseline: {options.save_baseline} is a directory; "
                                f"expected a file path, e.g. reports/baseline.json")
    if options.baseline is None and any(g.gate.no_regression for g in options.gates):
        raise pytest.UsageError("--baton-gate ...no_regression needs a baseline: pass --baton-baseline "
                                "PATH (a run directory or a baseline file)")
