"""Importers: turn another benchmark's format into a Baton golden-set domain.

``IMPORTERS`` maps a format name (``baton import FORMAT``) to its module's import function.
"""

from __future__ import annotations

from baton.importers.tau_bench import ImportReport, import_tau_bench

__all__ = ["IMPORTERS", "ImportReport"]

IMPORTERS = {"tau-bench": import_tau_bench}
