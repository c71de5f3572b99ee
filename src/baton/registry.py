"""One typed registry for every kind of thing a user adds to Baton.

A :class:`Registry` maps a name to an object (an architecture, a check, a report format...).
Built-ins register with the decorator (``@CHECKS.register("my_check")``); third-party packages
join through an entry-point group ``baton.<kind>`` whose entries name the object
(``my_check = my_pkg.checks:my_check``). Entry points load lazily: the first time an unknown name
is asked for, or when the names are listed, never at import, so start-up stays fast. A name can
also be a ``module:attr`` (or ``file.py:attr``) target, imported on use.

The registries themselves live next to what they register (``baton.runners.registry``,
``baton.graders.registry``, ``baton.reports.formats``, ``baton.vendor_kinds``...); the table of
extension points is in ARCHITECTURE.md.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Generic, TypeVar

from baton.errors import ConfigError

T = TypeVar("T")

ENTRY_POINT_PREFIX = "baton."
PLUGINS_GROUP = "baton.plugins"
"""Entry points of this group name plugin *modules*; importing one registers whatever it
decorates (an architecture, a check, a report format...). Loaded once, before any registry's
own group."""

_plugins_loaded = False


_entry_points_cache: object = None


def entry_points_of(group: str) -> list:
    """The installed entry points of ``group``. The distributions' metadata is read once per
    process (one scan costs ~10 ms; every registry used to pay it again), then selected from."""
    global _entry_points_cache
    from importlib import metadata  # imported on first discovery: start-up stays cheap

    if _entry_points_cache is None:
        _entry_points_cache = metadata.entry_points()
    return list(_entry_points_cache.select(group=group))  # type: ignore[attr-defined]


def load_plugin_modules() -> None:
    """Import every module of the ``baton.plugins`` entry-point group (once per process)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points_of(PLUGINS_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must name itself, not crash discovery
            raise ConfigError(f"Baton plugin {ep.name!r} ({ep.value}, entry-point group {PLUGINS_GROUP!r}) "
                              f"failed to load: {type(exc).__name__}: {exc}") from exc


_project_plugins: set[str] = set()
_NOT_THE_PLUGIN = (str(Path(__file__).parent), str(Path(importlib.__file__).parent), "<frozen")
"""Frames of Baton and of the import machinery: a plugin's error names the plugin's own line."""


def is_plugin_file(spec: str) -> bool:
    """Whether a ``plugins`` entry names a file (``checks/mine.py``) rather than a module."""
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def load_project_plugins(specs: Sequence[str], base: Path, where: str) -> None:
    """Import a project's own plugins (``[tool.baton] plugins``), each once per process.

    An entry is a Python file, relative to ``base`` (the folder of ``pyproject.toml``), or an
    importable module name (``base`` is appended to ``sys.path`` so a package of the project
    imports without installing it). Importing one registers whatever it decorates. A missing
    file or module, or one that fails to import, is a :class:`ConfigError` naming ``where``, the
    entry and, for a failure inside the plugin, its file and line (never a traceback)."""
    for spec in specs:
        if is_plugin_file(spec):
            file = (base / spec).resolve()
            if str(file) in _project_plugins:
                continue
            if not file.is_file():
                raise ConfigError(f"{where}: plugins: {spec!r}: no such file ({file})")
            _project_plugins.add(str(file))
            _run_plugin(lambda: _import_file(str(file)), spec, where)
        else:
            if spec in _project_plugins:
                continue
            if str(base) not in sys.path:
                sys.path.append(str(base))
            if importlib.util.find_spec(spec.split(".")[0]) is None:
                raise ConfigError(f"{where}: plugins: {spec!r}: no module named {spec.split('.')[0]!r} (expected "
                                  f"a .py file relative to {base} or an importable module name)")
            _project_plugins.add(spec)
            _run_plugin(lambda: importlib.import_module(spec), spec, where)


def _run_plugin(load: Callable[[], object], spec: str, where: str) -> None:
    try:
        load()
    except ConfigError as exc:
        raise ConfigError(f"{where}: plugins: {spec!r}: {exc}") from None
    except SyntaxError as exc:
        raise ConfigError(f"{where}: plugins: {spec!r}: {exc.filename}:{exc.lineno}: SyntaxError: {exc.msg}") from None
    except Exception as exc:  # a broken plugin names its file and line, never a traceback
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if not f.filename.startswith(_NOT_THE_PLUGIN)]
        at = f"{own[-1].filename}:{own[-1].lineno}: " if own else ""  # the plugin's own line
        raise ConfigError(f"{where}: plugins: {spec!r} failed to import: {at}{type(exc).__name__}: {exc}") from None


def import_target(target: str, *, what: str) -> object:
    """Import ``module:attr`` or ``path/to/file.py:attr`` (dotted attr allowed).

    A clear :class:`ConfigError` names ``what`` when the target is malformed or missing."""
    module_name, sep, attr_path = target.rpartition(":")
    if not sep or not module_name or not attr_path:
        raise ConfigError(f"{what}: expected 'module:attribute' or 'file.py:attribute', got {target!r}")
    try:
        obj: object = _import_file(module_name) if module_name.endswith(".py") else \
            importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{what}: cannot import {module_name!r} ({exc})") from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{what}: module {module_name!r} has no attribute {attr_path!r}") from None
    return obj


def _import_file(path: str) -> ModuleType:
    file = Path(path).resolve()
    if not file.is_file():
        raise ImportError(f"no such file: {path}")
    name = "baton_target_" + hashlib.sha256(str(file).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module



def spec_or_function(kind: str, spec_type: type[T], wrap: Callable[[str, Callable[..., object]], T],
                     expected: str) -> Callable[[str, object], T]:
    """A registry's ``convert``: an entry that is already a ``spec_type`` is kept, a function is
    wrapped by ``wrap(name, function)``, anything else is a :class:`ConfigError` saying what was
    ``expected`` (e.g. ``"an async function (task, trace, context)"``)."""

    def convert(name: str, found: object) -> T:
        if isinstance(found, spec_type):
            return found
        if callable(found):
            return wrap(name, found)
        raise ConfigError(f"{kind} {name!r}: expected {expected}, got {type(found).__name__}")

    return convert

class Registry(Generic[T]):
    """Name -> object of one kind, with duplicate protection and entry-point discovery.

    ``kind`` names the thing in errors ("unknown check 'x'; known: ..."); ``group`` is the
    entry-point group third parties register in (default ``baton.<kind>s``). ``convert`` turns
    what an entry point or a ``module:attr`` target yields into a ``T`` (e.g. a bare function into
    a spec object) and may raise :class:`ConfigError` when it is not one; ``builtins`` is a
    callable that imports the modules registering the built-ins (run on first use, so importing
    the registry stays cheap). ``targets`` allows ``module:attr`` names."""

    def __init__(self, kind: str, group: str | None = None, *, convert: Callable[[str, object], T] | None = None,
                 builtins: Callable[[], None] | None = None, targets: bool = True) -> None:
        self.kind = kind
        self.group = group or f"{ENTRY_POINT_PREFIX}{kind.replace(' ', '_')}s"
        self._convert = convert
        self._builtins = builtins
        self._targets = targets
        self._items: dict[str, T] = {}
        self._entry_points_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name``. A second registration of a name raises."""

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        """Register ``obj`` as ``name``; the same object twice is fine, another object is an error."""
        if not name or not isinstance(name, str):
            raise ValueError(f"{self.kind}: a name must be a non-empty string, got {name!r}")
        self._load_builtins()  # built-ins first: listing order is registration order
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj

    def remove(self, name: str) -> None:
        """Unregister ``name`` (tests that register temporary entries clean up with this)."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        """The entry ``name``; unknown names load the entry points, then raise listing the known ones."""
        self._load_builtins()
        if name not in self._items:
            self._load_entry_points()
        if name in self._items:
            return self._items[name]
        if self._targets and ":" in name:
            return self._as_entry(name, import_target(name, what=f"{self.kind} {name!r}"))
        raise ConfigError(self.unknown_message(name))

    def unknown_message(self, name: str) -> str:
        known = ", ".join(self.names()) or "none"
        hint = " (or a 'module:attribute' target)" if self._targets else ""
        return f"unknown {self.kind} {name!r}; known: {known}{hint}"

    def validate(self, name: str, where: str = "") -> str:
        """``name`` if registered, else a :class:`ConfigError` naming ``where`` and the known names."""
        self._load_builtins()
        if name not in self._items:
            self._load_entry_points()
        if name not in self._items:
            raise ConfigError(f"{where + ': ' if where else ''}{self.unknown_message(name)}")
        return name

    def names(self) -> list[str]:
        """Every registered name, entry points included, sorted."""
        self._load_builtins()
        self._load_entry_points()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs in registration order, entry points included."""
        self._load_builtins()
        self._load_entry_points()
        return list(self._items.items())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        if name not in self._items:
            self._load_entry_points()
        return name in self._items

    def __len__(self) -> int:
        return len(self.names())

    def _as_entry(self, name: str, obj: object) -> T:
        return self._convert(name, obj) if self._convert is not None else obj  # type: ignore[return-value]

    def _load_builtins(self) -> None:
        if self._builtins is not None:
            load, self._builtins = self._builtins, None
            load()

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        load_plugin_modules()
        for ep in entry_points_of(self.group):
            if ep.name in self._items:
                continue
            try:
                loaded = ep.load()
            except Exception as exc:  # a broken plugin must name itself, not crash discovery
                raise ConfigError(f"{self.kind} plugin {ep.name!r} ({ep.value}, entry-point group "
                                  f"{self.group!r}) failed to load: {type(exc).__name__}: {exc}") from exc
            if ep.name not in self._items and not isinstance(loaded, ModuleType):
                # a module registers its entries through the decorator as it is imported
                self._items[ep.name] = self._as_entry(ep.name, loaded)
