"""The report card: aggregation of a run's results, and its HTML, Markdown, CSV and JSON forms.

``write_reports(run_dir)`` is the one call a command needs; ``build_card`` and the renderers are
the pieces it is made of. Imported lazily, so that the CLI starts without pandas and SciPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton.reports.aggregate import ReportCard, build_card
    from baton.reports.write import write_reports

__all__ = ["ReportCard", "build_card", "write_reports"]
_WHERE = {"ReportCard": "baton.reports.aggregate", "build_card": "baton.reports.aggregate",
          "write_reports": "baton.reports.write"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'baton.reports' has no attribute {name!r}")
