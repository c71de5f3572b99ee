"""The golden set as a datasets.Dataset, JSONL/Parquet export, and loading the exported files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baton.cli import main
from baton.dataset import FEATURES, export_tasks, tasks_from_dataset, to_dataset
from baton.fixtures import FixtureError, load_tasks

BILLING = Path(__file__).resolve().parents[1] / "fixtures" / "billing"


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(BILLING)


def test_dataset_has_one_row_per_task_and_a_fixed_schema(tasks) -> None:
    ds = to_dataset(tasks)
    assert ds.num_rows == len(tasks)
    assert ds.features == FEATURES
    assert to_dataset([]).features == FEATURES
    row = ds[0]
    assert row["id"] == tasks[0].id and row["tags"] == list(tasks[0].tags)
    assert json.loads(row["gold"])["route"] == tasks[0].gold.route


def test_dataset_round_trips_exactly(tasks) -> None:
    back = tasks_from_dataset(to_dataset(tasks))
    assert back == tasks
    assert back[0].world.today == tasks[0].world.today


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_exported_file_loads_as_the_same_tasks(tasks, tmp_path: Path, fmt: str) -> None:
    out = export_tasks(tasks, tmp_path / f"golden.{fmt}", fmt)  # type: ignore[arg-type]
    assert load_tasks(out) == tasks


def test_cli_export_then_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shared" / "golden.parquet"
    assert main(["export", str(BILLING), "-o", str(out)]) == 0
    n = len(load_tasks(BILLING))
    assert capsys.readouterr().out == f"wrote {n} tasks in 1 domain to {out} (parquet)\n"
    assert main(["validate", str(out)]) == 0
    assert capsys.readouterr().out == f"{n} tasks in 1 domain\n"


def test_cli_export_needs_a_known_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(BILLING), "-o", str(tmp_path / "golden.csv")]) == 2
    err = capsys.readouterr().err
    assert "pass --format jsonl or --format parquet" in err and "Traceback" not in err


def test_bad_rows_are_reported_with_their_field(tasks, tmp_path: Path) -> None:
    out = export_tasks(tasks[:2], tmp_path / "golden.jsonl", "jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    rows[0]["version"] = 0
    gold = json.loads(rows[1]["gold"])
    gold["route"] = "nowhere"
    rows[1]["gold"] = json.dumps(gold)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{oops\n")
    with pytest.raises(FixtureError) as info:
        load_tasks(out)
    assert str(info.value).startswith(f"{out}: cannot read exported golden set: ")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(FixtureError) as info:
        load_tasks(out)
    lines = str(info.value).splitlines()
    assert lines[0] == f"{out}: rows.0.version: input should be greater than or equal to 1, got 0"
    assert lines[1].startswith(f"{out}: rows.1.gold.route: 'nowhere' is not one of the domain's routes")
