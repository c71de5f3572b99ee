"""Named registries for architectures and retrievers.

A registry maps a name to a factory. Built-ins register with the decorator; third-party
packages join through an entry-point group (``baton.architectures``, ``baton.retrievers``)
whose entries name the object (``my_pkg.mod:my_architecture``), loaded the first time an
unknown name is asked for. A registered name can also be a ``module:attr`` target, which is
imported on use.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Generic, TypeVar

from baton.errors import ConfigError

if TYPE_CHECKING:
    from baton.runners.context import RunContext

T = TypeVar("T")


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


class Registry(Generic[T]):
    """Name -> object, with duplicate protection and entry-point discovery."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._entry_points_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name``. A second registration of a name raises."""

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj

    def get(self, name: str) -> T:
        if name not in self._items:
            self._load_entry_points()
        if name in self._items:
            return self._items[name]
        if ":" in name:
            return import_target(name, what=f"{self.kind} {name!r}")  # type: ignore[return-value]
        known = ", ".join(sorted(self._items)) or "none"
        raise ConfigError(f"unknown {self.kind} {name!r}; known: {known} (or a 'module:attribute' target)")

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name not in self._items:
                try:
                    self._items[ep.name] = ep.load()
                except Exception as exc:  # a broken plugin must name itself, not crash discovery
                    raise ConfigError(f"{self.kind} plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Architecture:
    """A registered architecture: ``run`` fills the run's trace through its :class:`RunContext`.

    ``isolated_hops`` lists the hops that can run in isolated-component mode."""

    name: str
    run: Callable[[RunContext], Awaitable[None]]
    isolated_hops: tuple[str, ...] = ()
    description: str = ""


ARCHITECTURES: Registry[Architecture] = Registry("architecture", "baton.architectures")


def register_architecture(name: str, *, isolated_hops: tuple[str, ...] = (), description: str = ""
                          ) -> Callable[[Callable[[RunContext], Awaitable[None]]],
                                        Callable[[RunContext], Awaitable[None]]]:
    """Decorator: register ``async def run(ctx: RunContext) -> None`` as architecture ``name``.

    Third-party architectures may instead expose an :class:`Architecture` through the
    ``baton.architectures`` entry-point group."""

    def decorate(run: Callable[[RunContext], Awaitable[None]]) -> Callable[[RunContext], Awaitable[None]]:
        doc = (run.__doc__ or "").strip().splitlines()
        ARCHITECTURES.add(name, Architecture(name, run, isolated_hops, description or (doc[0] if doc else "")))
        return run

    return decorate
