"""Work units and shards: a stable id per run of a matrix, and a coordinator-free split.

A *unit* is one (task, task version, system, vendor, mode, trial, seed) of a matrix. Its id
(:func:`unit_id`) is a content hash of exactly those values, so it does not depend on the
working directory, the order of the matrix's lists, or the machine. A shard ``i/N`` (1-based,
as Playwright's ``--shard``) is the set of units whose id, read as a number, is ``i-1`` modulo
``N``: every machine of a CI matrix or a Kubernetes indexed job computes its own share from the
same configuration, with no coordinator, and the N shards partition the matrix exactly.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from baton.errors import ConfigError
from baton.matrix import Matrix, WorkItem
from baton.result import RunKey

__all__ = ["Shard", "ShardedMatrix", "parse_shard", "shard_matrix", "unit_id", "unit_index"]


def unit_id(key: RunKey, seed: int) -> str:
    """The stable id of one unit: SHA-256 over its key fields and seed (hex, 32 characters)."""
    text = json.dumps([key.task_id, key.task_version, key.system, key.vendor, key.mode, key.trial, seed],
                      separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def unit_index(uid: str, count: int) -> int:
    """The 0-based shard (of ``count``) a unit id belongs to."""
    return int(uid[:16], 16) % count


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count``, 1-based: ``Shard(1, 3)`` is written ``1/3``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, item: WorkItem) -> bool:
        return unit_index(unit_id(item.key(), item.seed), self.count) == self.index - 1

    def as_json(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str, where: str = "--shard") -> Shard:
    """``"i/N"`` with 1 <= i <= N; a :class:`ConfigError` naming ``where`` otherwise."""
    match = _SHARD.match(text or "")
    if not match:
        raise ConfigError(f"{where}: expected 'i/N' (e.g. 2/5, 1-based), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"{where}: expected 1 <= i <= N in 'i/N', got {text!r}")
    return Shard(index, count)


@dataclass(frozen=True)
class ShardedMatrix(Matrix):
    """A :class:`Matrix` restricted to one shard's units. Its configuration (and so the run key
    of its manifest) is the whole matrix's, so shards of one run can be merged."""

    shard: Shard | None = None

    def items_for(self, vendor: str) -> Iterator[WorkItem]:
        items = super().items_for(vendor)
        if self.shard is None:
            yield from items
            return
        shard = self.shard
        yield from (item for item in items if shard.holds(item))

    def __len__(self) -> int:
        if self.shard is None:
            return super().__len__()
        return sum(1 for vendor in self.vendors for _ in self.items_for(vendor))

    def full_len(self) -> int:
        """The number of units of the whole matrix, every shard together."""
        return Matrix.__len__(self)


def shard_matrix(matrix: Matrix, shard: Shard) -> ShardedMatrix:
    """``matrix`` restricted to ``shard``."""
    values: dict[str, Any] = {f.name: getattr(matrix, f.name) for f in fields(Matrix)}
    return ShardedMatrix(**values, shard=shard)
