"""The golden set as a Hugging Face ``datasets.Dataset``, and its JSONL / Parquet files.

One row per task. Scalar parts are plain columns (``id``, ``version``, ``domain``, ``title``,
``request``, ``tags``, ``source``, ``policy``); nested parts (``customer``, ``conversation``,
``routes``, ``documents``, ``tools``, ``world``, ``gold``) are JSON strings, so the schema is the
same for every golden set (:data:`FEATURES`) and a row converts back to the exact same
:class:`~baton.task.GoldenTask`. ``baton.fixtures.load_tasks`` reads the exported files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from baton.errors import BatonError
from baton.problems import Problem, display_path, pydantic_problems, reference_problems
from baton.task import GoldenTask

if TYPE_CHECKING:
    import datasets

__all__ = ["FEATURES", "JSON_COLUMNS", "to_dataset", "tasks_from_dataset", "task_to_row",
           "task_from_row", "export_tasks", "read_tasks_file"]

ExportFormat = Literal["jsonl", "parquet"]
JSON_COLUMNS = ("customer", "conversation", "routes", "documents", "tools", "world", "gold")
COLUMNS = ("id", "version", "domain", "title", "request", "tags", "policy", "source", *JSON_COLUMNS)
"""The columns of a row, in order (the names of :data:`FEATURES`)."""


def _features() -> datasets.Features:
    import datasets  # about a second of imports: only to build or export a Dataset

    return datasets.Features({
        "id": datasets.Value("string"),
        "version": datasets.Value("int64"),
        "domain": datasets.Value("string"),
        "title": datasets.Value("string"),
        "request": datasets.Value("string"),
        "tags": datasets.Sequence(datasets.Value("string")),
        "policy": datasets.Value("string"),
        "source": datasets.Value("string"),
        **{name: datasets.Value("string") for name in JSON_COLUMNS},
    })


def __getattr__(name: str) -> Any:
    if name == "FEATURES":  # the schema, built on first use (PEP 562)
        return _features()
    raise AttributeError(f"module 'baton.dataset' has no attribute {name!r}")


def task_to_row(task: GoldenTask) -> dict[str, Any]:
    """One task as a flat row: scalars as columns, nested parts as JSON strings."""
    data = task.model_dump(mode="json", by_alias=True)
    row = {name: data[name] for name in COLUMNS if name not in JSON_COLUMNS}
    for name in JSON_COLUMNS:
        row[name] = json.dumps(data[name], ensure_ascii=False, sort_keys=False)
    return row


ColumnMemo = dict[tuple[str, str], Any]
"""Validated nested columns by (column, JSON text), shared by the rows of one file."""


def task_from_row(row: dict[str, Any], memo: ColumnMemo | None = None) -> GoldenTask:
    """Inverse of :func:`task_to_row`. Raises ``pydantic.ValidationError`` or ``ValueError``.

    With ``memo``, a nested column whose JSON text an earlier row of the same file had is not
    parsed or validated again: the earlier row's validated value is reused. Rows exported from
    one domain folder repeat that domain's documents, tools and world verbatim, which are most of
    a row's bytes. Sharing is safe because every part of a task is a frozen model and a run's
    ``World`` works on its own copy of the seed. The task model's own checks still run per row.
    """
    data = {name: row.get(name) for name in COLUMNS if name not in JSON_COLUMNS}
    data["tags"] = list(data["tags"] or [])
    for name in JSON_COLUMNS:
        raw = row.get(name)
        if not isinstance(raw, str):
            data[name] = raw
        elif memo is not None and (name, raw) in memo:
            data[name] = memo[name, raw]
        else:
            data[name] = json.loads(raw)
    task = GoldenTask.model_validate(data)
    if memo is not None:
        for name in JSON_COLUMNS:
            raw = row.get(name)
            if isinstance(raw, str):
                memo.setdefault((name, raw), getattr(task, name))
    return task


def to_dataset(tasks: Iterable[GoldenTask]) -> datasets.Dataset:
    """The tasks as a ``datasets.Dataset`` with the fixed schema :data:`FEATURES`."""
    import datasets

    rows = [task_to_row(task) for task in tasks]
    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    return datasets.Dataset.from_dict(columns, features=_features())


def tasks_from_dataset(ds: datasets.Dataset | Sequence[dict[str, Any]]) -> list[GoldenTask]:
    """Tasks from a dataset made by :func:`to_dataset` (or any sequence of such rows)."""
    memo: ColumnMemo = {}
    return [task_from_row(dict(row), memo) for row in ds]


def export_tasks(tasks: Iterable[GoldenTask], out: Path | str, fmt: ExportFormat) -> Path:
    """Write the tasks to ``out`` as JSON Lines or Parquet; returns the path written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds = to_dataset(tasks)
    if fmt == "jsonl":
        with out.open("w", encoding="utf-8") as fh:
            for row in ds:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(ds.data.table, out)
    else:
        raise BatonError(f"unknown export format '{fmt}': expected jsonl or parquet")
    return out


def _read_rows(path: Path) -> list[Any]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rows.append(json.loads(line) if line.strip() else None)
    return rows


def read_tasks_file(path: Path) -> tuple[list[GoldenTask], list[Problem]]:
    """Tasks from an exported ``.jsonl`` / ``.parquet`` file, with a problem per bad row."""
    file = display_path(path)
    try:
        rows = _read_rows(path)
    except (OSError, ValueError) as exc:  # json.JSONDecodeError and pyarrow errors are ValueErrors
        return [], [Problem(file, "", f"cannot read exported golden set: {exc}")]
    tasks: list[GoldenTask] = []
    problems: list[Problem] = []
    memo: ColumnMemo = {}
    for i, row in enumerate(rows):
        prefix = f"rows.{i}."
        if row is None:
            continue
        if not isinstance(row, dict):
            problems.append(Problem(file, f"rows.{i}", "expected a JSON object (one task)"))
            continue
        try:
            task = task_from_row(row, memo)
        except ValidationError as exc:
            problems.extend(pydantic_problems(file, exc, prefix))
            continue
        except ValueError as exc:
            problems.append(Problem(file, f"rows.{i}", f"a nested column is not valid JSON: {exc}"))
            continue
        found = reference_problems(task, file, prefix)
        problems.extend(found)
        if not found:
            tasks.append(task)
    return tasks, problems
