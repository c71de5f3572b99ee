"""The published JSON schemas of the adapter request/response match the models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baton.runners import AdapterRequest, AdapterResponse

SCHEMAS = Path(__file__).resolve().parents[1] / "examples/schemas"


@pytest.mark.parametrize("name, model", [("adapter_request", AdapterRequest), ("adapter_response", AdapterResponse)])
def test_published_schema_is_current(name: str, model: type) -> None:
    published = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    assert published == model.model_json_schema(), f"regenerate examples/schemas/{name}.schema.json"


def test_request_schema_carries_no_gold() -> None:
    properties = AdapterRequest.model_json_schema()["properties"]
    assert "gold" not in properties and {"request", "documents", "tools", "mcp_url"} <= set(properties)
