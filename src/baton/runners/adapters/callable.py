"""callable: a Python function is the system under test.

``params.target`` = ``"module:function"`` (or ``"path/to/file.py:function"``): a sync or async
function ``(request: AdapterRequest) -> AdapterResponse | str | dict``. A sync function runs on a
worker thread, so it may block (and call the run's MCP endpoint) freely.

Targets resolve against the project that declared the system (the folder of the pyproject.toml
holding ``[tool.baton.systems]`` or ``runners/systems.toml``), never the working directory: a
relative file is taken from there, the project folder is importable for ``module:function``, and
a file target's own folder is importable (so it can import its neighbours). A mistake — a
missing file or module, an attribute typo, a module that fails to import — is one
:class:`ConfigError` naming the file, the key and what was expected.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from baton.errors import ConfigError
from baton.runners.adapters.harness import AdapterSession, Step, parse_response, run_adapter
from baton.runners.adapters.types import AdapterRequest
from baton.runners.context import RunContext
from baton.runners.registry import register_architecture
from baton.systems import SystemConfig


def load_target(ctx: RunContext) -> Any:
    return load_system_target(ctx.system)


def load_system_target(system: SystemConfig) -> Any:
    """The object ``system.params.target`` names, resolved against the system's project."""
    where = (f"{system.source}: system '{system.name}': params.target" if system.source
             else f"system {system.name!r}: params.target")
    target = system.params.get("target")
    if not isinstance(target, str):
        raise ConfigError(f"{where}: expected 'module:attribute' or 'path/file.py:attribute', got {target!r}")
    # a system declared in code (no file) resolves against the working directory
    return import_project_target(target, system.base_dir or Path.cwd(), where)


def import_project_target(target: str, base_dir: Path, where: str) -> Any:
    """Import ``module:attr`` or ``path/file.py:attr`` (dotted attr allowed), relative to ``base_dir``."""
    module_name, sep, attr_path = target.rpartition(":")
    if not sep or not module_name or not attr_path:
        raise ConfigError(f"{where}: expected 'module:attribute' or 'path/file.py:attribute', got {target!r}")
    if module_name.endswith(".py"):
        path = Path(module_name).expanduser()
        path = (path if path.is_absolute() else base_dir / path).resolve()
        if not path.is_file():
            raise ConfigError(f"{where}: file {path} not found (relative paths start at the project folder "
                              f"{base_dir}); expected 'path/file.py:attribute'")
        label = str(path)
        module = _exec_file(path, where)
    else:
        label = f"module {module_name!r}"
        module = _import_module(module_name, base_dir, where)
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            defined = sorted(n for n, v in vars(module).items()
                             if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == module.__name__)
            hint = f"; it defines {', '.join(defined[:12])}" if defined else ""
            raise ConfigError(f"{where}: {label} has no attribute {attr_path!r}{hint}; expected "
                              f"'{module_name}:<function or object defined there>'")
        obj = getattr(obj, part)
    return obj


def _importable(folder: Path) -> None:
    entry = str(folder)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def _exec_file(path: Path, where: str) -> ModuleType:
    name = "baton_target_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    _importable(path.parent)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{where}: cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module failed: one line, not a traceback
        del sys.modules[name]
        raise ConfigError(f"{where}: importing {path} failed: {type(exc).__name__}: {exc}") from None
    return module


def _import_module(name: str, base_dir: Path, where: str) -> ModuleType:
    _importable(base_dir)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.split(".")[0] == exc.name.split(".")[0]:
            raise ConfigError(f"{where}: no module {name!r} in the project folder {base_dir} or the "
                              f"installed packages; expected 'module:attribute'") from None
        raise ConfigError(f"{where}: importing {name!r} failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"{where}: importing {name!r} failed: {type(exc).__name__}: {exc}") from None


@register_architecture("callable")
async def run_callable(ctx: RunContext) -> None:
    """A Python function: (AdapterRequest) -> AdapterResponse | str."""
    function = load_target(ctx)
    if not callable(function):
        raise ConfigError(f"system {ctx.system.name!r}: params.target: expected a function, got "
                          f"{type(function).__name__}")

    async def invoke(request: AdapterRequest, session: AdapterSession) -> tuple[str, list[Step]]:
        response = await _call(function, request)
        parsed = parse_response(response, source=ctx.params["target"])
        return parsed.answer, [session.event_hop(e) for e in parsed.hops]

    await run_adapter(ctx, "callable", invoke)


async def _call(function: Callable[[AdapterRequest], Any], request: AdapterRequest) -> Any:
    if inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(getattr(function, "__call__", None)):
        return await function(request)
    result = await asyncio.to_thread(function, request)
    return await result if inspect.isawaitable(result) else result
