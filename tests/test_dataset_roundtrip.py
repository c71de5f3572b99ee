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


def test_rows_of_one_domain_share_their_validated_sources(tasks, tmp_path: Path) -> None:
    # A domain's documents and world repeat verbatim in every exported row: each distinct text is
    # validated once and the (frozen) value shared, which is the same task as validating it again.
    out = export_tasks(tasks, tmp_path / "golden.jsonl", "jsonl")
    loaded = load_tasks(out)
    assert loaded == tasks
    first, second = loaded[0], loaded[1]
    assert first.documents == second.documents and first.documents[0] is second.documents[0]
    assert first.world is second.world
    again = tasks_from_dataset(to_dataset(tasks))
    assert again == tasks and again[0].world is again[1].world


def test_a_run_on_one_task_leaves_a_shared_seed_alone(tasks, tmp_path: Path) -> None:
    from baton.world import ToolError, World

    loaded = load_tasks(export_tasks(tasks, tmp_path / "golden.jsonl", "jsonl"))
    actor = next(t for t in loaded if any(c.name in {s.name for s in t.tools if s.written_collections != frozenset()}
                                          for c in t.gold.tool_calls))
    other = next(t for t in loaded if t is not actor and t.world is actor.world)
    before = other.world.model_dump()
    world = World(actor)
    for call in actor.gold.tool_calls:
        try:
            world.call(call.name, call.arguments)
        except ToolError:  # a gold call may expect the tool to refuse it
            assert call.expect_error
    assert world.snapshot() != before["collections"]
    assert other.world.model_dump() == before


def test_a_bad_source_shared_by_rows_is_reported_for_every_row(tasks, tmp_path: Path) -> None:
    out = export_tasks(tasks[:3], tmp_path / "golden.jsonl", "jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["documents"] == rows[2]["documents"]
    for row in rows:
        documents = json.loads(row["documents"])
        documents[0]["id"] = "Not A Slug!"
        row["documents"] = json.dumps(documents)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(FixtureError) as info:
        load_tasks(out)
    lines = str(info.value).splitlines()
    assert [line.split(":")[1].strip() for line in lines if ".documents.0.id" in line] == [
        "rows.0.documents.0.id", "rows.1.documents.0.id", "rows.2.documents.0.id"]
