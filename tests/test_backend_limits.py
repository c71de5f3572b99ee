"""The cluster-wide limiter's logic, in process: permits per vendor, per owner, returned when an
owner dies; and the client wrapper that takes a permit around every call."""

from __future__ import annotations

import asyncio

from baton.backends.limits import LimitedPool
from baton.backends.ray_backend import VendorLimiter


class CountingClient:
    def __init__(self, gate: asyncio.Event) -> None:
        self.now = self.peak = 0
        self.gate = gate
        self.vendor_name = "v"

    async def chat(self, *args: object, **kwargs: object) -> str:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await self.gate.wait()
            return "ok"
        finally:
            self.now -= 1


class Pool:
    def __init__(self, client: CountingClient) -> None:
        self._client = client

    def client(self, name: str) -> CountingClient:
        return self._client


async def test_calls_through_one_limiter_never_exceed_the_vendor_limit() -> None:
    limiter = VendorLimiter({"v": 3})
    gate = asyncio.Event()
    inner = CountingClient(gate)
    # four "workers", each with its own pool wrapper, sharing the one limiter
    pools = [LimitedPool(Pool(inner), lambda v, o=f"w{i}": limiter.acquire(v, o),
                         lambda v, o=f"w{i}": limiter.release(v, o)) for i in range(4)]
    calls = [asyncio.create_task(pool.client("v").chat([])) for pool in pools for _ in range(5)]
    while inner.now < 3:  # wait until the limit is reached (event-driven: each step yields once)
        await asyncio.sleep(0)
    for _ in range(50):
        await asyncio.sleep(0)
    assert inner.now == 3
    gate.set()
    assert await asyncio.gather(*calls) == ["ok"] * 20
    assert inner.peak == 3
    assert pools[0].client("v").vendor_name == "v"  # everything else is the wrapped client's


async def test_a_dead_owners_permits_come_back() -> None:
    limiter = VendorLimiter({"v": 2})
    await limiter.acquire("v", "dead")
    await limiter.acquire("v", "dead")
    blocked = asyncio.create_task(limiter.acquire("v", "alive"))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not blocked.done()
    assert await limiter.release_owner("dead") == 2
    await asyncio.wait_for(blocked, timeout=5)
    await limiter.release("v", "nobody")  # a release without a permit is ignored, not an extra permit
    await limiter.release("v", "alive")
    await limiter.acquire("v", "x")
    await limiter.acquire("v", "y")
    third = asyncio.create_task(limiter.acquire("v", "z"))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not third.done()
    third.cancel()
