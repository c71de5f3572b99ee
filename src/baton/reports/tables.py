"""The report's tables for further analysis: results.csv (one row per run), card.csv and card.json
(one row per configuration), all written with pandas."""

from __future__ import annotations

import json
import math
from pathlib import Path

from baton.reports.aggregate import ReportCard
from baton.reports.rundir import run_facts

RESULTS_CSV = "results.csv"
CARD_CSV = "card.csv"
CARD_JSON = "card.json"


def write_results_csv(card: ReportCard, out_dir: Path) -> Path:
    """One row per run: key, status, failure attribution, usage, latency, component scores."""
    path = Path(out_dir) / RESULTS_CSV
    card.runs.drop(columns=["trace_index"], errors="ignore").to_csv(path, index=False)
    return path


def write_card_csv(card: ReportCard, out_dir: Path) -> Path:
    path = Path(out_dir) / CARD_CSV
    card.card_frame().to_csv(path, index=False)
    return path


def _finite(value: object) -> object:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_card_json(card: ReportCard, out_dir: Path) -> Path:
    """The card as JSON: definitions, overall failure attribution, one record per configuration."""
    path = Path(out_dir) / CARD_JSON
    frame = card.card_frame()
    records = json.loads(frame.to_json(orient="records")) if not frame.empty else []
    for record, config in zip(records, card.configs, strict=True):
        record["reliability"] = _finite(config.reliability.as_json())
    document = {
        "run": dict(run_facts(card.manifest)),
        "definitions": card.definitions,
        "failure_attribution": [{"hop": s.name, "failures": s.count, "share": s.share}
                                for s in card.attribution],
        "configurations": records,
        "tasks": [{"task_id": row.task_id,
                   "cells": {label: {"successes": cell.successes, "counted": cell.counted,
                                     "infra_errors": cell.infra_errors}
                             for label, cell in row.cells.items()}}
                  for row in card.tasks],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
