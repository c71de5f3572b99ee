"""``baton validate``: a mistake in ``domain.yaml`` is reported once, against ``domain.yaml`` and
the field — not once per task file that happens to use it — and an empty enum reads as such."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton.cli import main
from baton.task import GoldenTask
from baton.world import ToolError, World

REPO = Path(__file__).resolve().parent.parent


def first_record_with(collections: dict[str, Any], field: str, kind: type) -> tuple[str, str]:
    for name, records in collections.items():
        for rid, record in records.items():
            if isinstance(record.get(field), kind) and not isinstance(record.get(field), bool):
                return name, rid
    raise AssertionError(f"no record with a {kind.__name__} {field}")


def drop_tools(domain: dict[str, Any]) -> str:
    domain.pop("tools")
    return "tools: the domain declares no tools, but"


def empty_enum(domain: dict[str, Any]) -> str:
    for i, tool in enumerate(domain["tools"]):
        for name, prop in tool["parameters"].get("properties", {}).items():
            if "enum" in prop:
                prop["enum"] = []
                return f"tools.{i}.parameters.properties.{name}.enum: tool '{tool['name']}': an empty enum accepts no value"
    raise AssertionError("no enum in the domain's tools")


def retype_world_field(domain: dict[str, Any]) -> str:
    collection, rid = first_record_with(domain["world"]["collections"], "amount", float)
    record = domain["world"]["collections"][collection][rid]
    record["amount"] = str(record["amount"])
    return f"world.collections.{collection}.{rid}.amount: expected a number like in the other"


@pytest.mark.parametrize("mutate", [drop_tools, empty_enum, retype_world_field])
def test_domain_mistakes_are_reported_once_against_domain_yaml(tmp_path: Path, capsys,
                                                               mutate: Callable[[dict[str, Any]], str]):
    shutil.copytree(REPO / "fixtures" / "billing", tmp_path / "billing")
    path = tmp_path / "billing" / "domain.yaml"
    domain = yaml.safe_load(path.read_text())
    expected = mutate(domain)
    path.write_text(yaml.safe_dump(domain, sort_keys=False))
    code = main(["validate", str(tmp_path)])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code != 0
    problems = [line for line in text.splitlines() if "billing/" in line and ": " in line]
    domain_lines = [line for line in problems if line.split(": ")[0].endswith("domain.yaml")]
    task_lines = [line for line in problems if "/tasks/" in line.split(": ")[0]]
    assert len(domain_lines) == 1 and expected in domain_lines[0], text
    assert not task_lines, text  # not repeated against every task that uses it
    assert "one of , got" not in text


def test_an_empty_enum_at_run_time_reads_as_such() -> None:
    task = next(iter(_tasks()))
    tool = next(t for t in task.tools if any("enum" in p for p in (t.parameters.get("properties") or {}).values()))
    name = next(n for n, p in tool.parameters["properties"].items() if "enum" in p)
    params = {**tool.parameters, "properties": {**tool.parameters["properties"], name: {"type": "string", "enum": []}}}
    broken = task.model_copy(update={"tools": [tool.model_copy(update={"parameters": params})]})
    args = {n: ("x" if p.get("type") == "string" else 1) for n, p in params["properties"].items()}
    with pytest.raises(ToolError) as err:
        World(broken).call(tool.name, args)
    assert "one of ," not in str(err.value) and "accepts no value" in str(err.value)


def _tasks() -> list[GoldenTask]:
    from baton.fixtures import load_tasks

    return load_tasks(REPO / "fixtures" / "billing")
