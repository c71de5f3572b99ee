"""Memoisation by identity: what graders derive from a golden task (or one of its parts) alone,
computed once per object.

A :class:`~baton.task.GoldenTask` is frozen, but it holds dicts, so it is not hashable; and two
tasks may share an id and version while differing (a test's variant of a fixture). The cache is
therefore keyed by the object itself: it holds a strong reference to each object it caches, so an
id is never reused while its entry lives, and it keeps at most :data:`MAX_ENTRIES` objects.
Cached objects must not be mutated afterwards (tasks are frozen; their world seed is never
written, the sandbox works on a copy).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

MAX_ENTRIES = 512

K = TypeVar("K")
T = TypeVar("T")


def per_object(fn: Callable[[K], T]) -> Callable[[K], T]:
    """Cache ``fn(obj)`` per object identity (results are shared: callers must not mutate them)."""
    cache: dict[int, tuple[Any, T]] = {}

    @wraps(fn)
    def cached(obj: K) -> T:
        entry = cache.get(id(obj))
        if entry is not None and entry[0] is obj:
            return entry[1]
        value = fn(obj)
        if len(cache) >= MAX_ENTRIES:
            del cache[next(iter(cache))]
        cache[id(obj)] = (obj, value)
        return value

    cached.cache_clear = cache.clear  # type: ignore[attr-defined]
    return cached
