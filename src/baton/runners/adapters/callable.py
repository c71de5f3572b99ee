"""callable: a Python function is the system under test.

``params.target`` = ``"module:function"`` (or ``"path/to/file.py:function"``): a sync or async
function ``(request: AdapterRequest) -> AdapterResponse | str | dict``. A sync function runs on a
worker thread, so it may block (and call the run's MCP endpoint) freely.

Targets resolve against the project that declared the system (the folder of the pyproject.toml
holding ``[tool.baton.systems]`` or ``runners/systems.toml``), never the working directory: a
relative file is taken from there, the project folder is importable for ``module:function``, and
a file target's own folder is importable (so it can import its neighbours; two target folders with
same-named neighbours each import their own, see :func:`_own_neighbours`). A mistake — a
missing file or module, an attribute typo, a module that fails to import — is one
:class:`ConfigError` naming the file, the key and what was expected.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator
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


_TARGET_FOLDERS: dict[Path, set[str]] = {}
"""Folders of the file targets loaded in this process, each with its neighbour modules' names."""


class AmbiguousNeighbour(ModuleType):
    """Stands in ``sys.modules`` for a neighbour module name that several target folders have
    (``v1/prompts.py``, ``v2/prompts.py``). Each target got its own while its file executed; an
    import of the name after that (inside a function) cannot tell which is meant, so using it is a
    :class:`ConfigError` rather than silently another version's code."""

    def __init__(self, name: str, folders: list[Path]) -> None:
        super().__init__(name)
        self.folders = folders

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise ConfigError(
            f"module {self.__name__!r} is a neighbour of more than one adapter target "
            f"({', '.join(str(f) for f in self.folders)}): a target gets its own when it imports it at the top "
            f"of its file, but an import inside a function cannot tell which is meant; import it at the top, "
            f"or make each folder a package")


def _neighbours(folder: Path) -> set[str]:
    names = set()
    for entry in folder.iterdir():
        if entry.suffix == ".py" and entry.stem.isidentifier():
            names.add(entry.stem)
        elif entry.is_dir() and entry.name.isidentifier() and (entry / "__init__.py").is_file():
            names.add(entry.name)
    return names


def _home(module: ModuleType) -> Path | None:
    """The folder a top-level module was imported from (a package's parent folder)."""
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    return path.parent.parent if path.name == "__init__.py" else path.parent


@contextlib.contextmanager
def _own_neighbours(path: Path) -> Iterator[None]:
    """While the target file ``path`` executes, the names of its folder's modules import its own
    files, even where another target folder's same-named modules are loaded already; afterwards a
    name that several target folders have stands as an :class:`AmbiguousNeighbour`."""
    folder = path.parent
    names = _neighbours(folder) - {path.stem}
    for name in names:
        module = sys.modules.get(name)
        if isinstance(module, AmbiguousNeighbour) or (
                module is not None and _home(module) in _TARGET_FOLDERS and _home(module) != folder):
            for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
                del sys.modules[key]  # the other target keeps the module it imported
    _TARGET_FOLDERS[folder] = names
    entry = str(folder)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)  # this folder first while its target executes
    try:
        yield
    finally:
        for name in names:
            folders = [f for f, known in _TARGET_FOLDERS.items() if name in known]
            module = sys.modules.get(name)
            ours = module is None or isinstance(module, AmbiguousNeighbour) or _home(module) in _TARGET_FOLDERS
            if len(folders) > 1 and ours:  # never over a module from elsewhere (the standard library's json)
                sys.modules[name] = AmbiguousNeighbour(name, folders)


def _exec_file(path: Path, where: str) -> ModuleType:
    name = "baton_target_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{where}: cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with _own_neighbours(path):
            spec.loader.exec_module(module)
    except ConfigError as exc:  # an ambiguous neighbour used while the module loads
        del sys.modules[name]
        raise ConfigError(f"{where}: importing {path} failed: {exc}") from None
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
