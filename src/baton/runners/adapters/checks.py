"""Configuration-time checks of adapted systems, run when a matrix is planned (before any task):
a wrong target or state key is a configuration error, not a failure of every task."""

from __future__ import annotations

from collections.abc import Iterable

from baton.systems import SystemConfig


def check_systems(systems: Iterable[SystemConfig]) -> None:
    """Raise :class:`~baton.errors.ConfigError` for the first misconfigured adapted system."""
    for system in systems:
        if system.architecture == "langgraph":
            from baton.runners.adapters.langgraph import check_system

            check_system(system)
