"""A model client that takes a permit from a shared limiter around every call, so a vendor's
concurrency limit holds across processes and machines, not per process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["LimitedClient", "LimitedPool"]

Acquire = Callable[[str], Awaitable[Any]]


class LimitedClient:
    """Wraps a ``ModelClient``: ``chat`` waits for a permit of its vendor first and returns it after."""

    def __init__(self, inner: Any, vendor: str, acquire: Acquire, release: Acquire) -> None:
        self._inner, self._vendor, self._acquire, self._release = inner, vendor, acquire, release

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def chat(self, *args: Any, **kwargs: Any) -> Any:
        await self._acquire(self._vendor)
        try:
            return await self._inner.chat(*args, **kwargs)
        finally:
            await self._release(self._vendor)


class LimitedPool:
    """Wraps a ``ClientPool``: every client it hands out is a :class:`LimitedClient`."""

    def __init__(self, inner: Any, acquire: Acquire, release: Acquire) -> None:
        self._inner, self._acquire, self._release = inner, acquire, release

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def client(self, name: str) -> LimitedClient:
        return LimitedClient(self._inner.client(name), name, self._acquire, self._release)
