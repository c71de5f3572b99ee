"""What the retrieve hop hands downstream: ranked document chunks and looked-up world records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baton.runners import prompts
from baton.runners.retrieval import Chunk, ranked_doc_ids


@dataclass(slots=True)
class Evidence:
    """Chunks in rank order and records as ``{"ref": "invoices/5120", "data": {...}}``."""

    chunks: list[Chunk] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def doc_ids(self) -> list[str]:
        return ranked_doc_ids(self.chunks)

    @property
    def record_ids(self) -> list[str]:
        return [r["ref"] for r in self.records]

    def text(self) -> str:
        return prompts.context_block(self.chunks, self.records)

    def summary(self) -> dict[str, Any]:
        """For a downstream hop's ``input``."""
        return {"doc_ids": self.doc_ids, "record_ids": self.record_ids}
