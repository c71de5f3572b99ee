"""The response cache: completed deterministic model calls, keyed by the full request.

The model client (``baton.client``) asks the cache before a temperature-0 call and stores the
response after it; a hit costs nothing and is recorded as a cached call in the trace's usage.
The key is a hash of everything that determines the answer (vendor, model, messages, tools,
parameters, seed): :func:`request_key` computes it from a JSON-serialisable request mapping.

Storage is one SQLite database in WAL mode (stdlib ``sqlite3``): point look-ups by key, safe
across concurrent processes sharing a cache directory (readers never block the writer, writers
wait ``busy_timeout`` for each other), and a half-finished write never corrupts it. The
default location is ``.baton-cache/`` in the project directory (``baton run --cache-dir``);
``--no-cache`` bypasses it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from baton.errors import BatonError

__all__ = ["CACHE_FILE", "DEFAULT_CACHE_DIR", "ResponseCache", "request_key"]

DEFAULT_CACHE_DIR = ".baton-cache"
CACHE_FILE = "responses.sqlite3"
_SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"


def request_key(request: Mapping[str, Any]) -> str:
    """A stable hash of a JSON-serialisable request: equal requests, equal keys.

    Mapping order does not matter (keys are sorted); list order does."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """A persistent ``key -> JSON object`` store for model responses.

    ``path`` is the cache directory; the database is ``<path>/responses.sqlite3``. Usable from
    several threads of one process (calls are serialised by a lock) and from several processes."""

    def __init__(self, path: Path | str) -> None:
        self.directory = Path(path)
        self.file = self.directory / CACHE_FILE
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.file, timeout=30.0, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise BatonError(f"{self.file}: cannot open the response cache: {exc}") from None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.writes = 0

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response for ``key``, or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        try:
            value = json.loads(row[0])
        except json.JSONDecodeError:
            self.misses += 1
            return None
        self.hits += 1
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Store ``value`` (a JSON-serialisable mapping) under ``key``, replacing any old one."""
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)",
                             (key, text, time.time()))
        self.writes += 1

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            self._db.execute("DELETE FROM responses")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
