"""The response cache: keys, persistence, and concurrent writers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from baton.cache import CACHE_FILE, ResponseCache, request_key


def test_request_key_is_canonical():
    a = {"vendor": "v", "model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 1}
    b = {"seed": 1, "messages": [{"content": "hi", "role": "user"}], "model": "m", "vendor": "v"}
    assert request_key(a) == request_key(b)
    assert request_key(a) != request_key({**a, "seed": 2})
    assert request_key(a) != request_key({**a, "messages": [{"role": "user", "content": "hi!"}]})


def test_get_put_and_persistence(tmp_path):
    with ResponseCache(tmp_path / "c") as cache:
        assert cache.get("k") is None
        cache.put("k", {"text": "hello", "usage": {"input_tokens": 3}})
        assert cache.get("k") == {"text": "hello", "usage": {"input_tokens": 3}}
        cache.put("k", {"text": "replaced"})
        assert len(cache) == 1 and cache.hits == 1 and cache.misses == 1
    assert (tmp_path / "c" / CACHE_FILE).is_file()
    with ResponseCache(tmp_path / "c") as again:
        assert again.get("k") == {"text": "replaced"}
        again.clear()
        assert again.get("k") is None


def _writer(directory: str, worker: int) -> None:
    with ResponseCache(directory) as cache:
        for i in range(50):
            cache.put(f"{worker}-{i}", {"worker": worker, "i": i})
            cache.get(f"{1 - worker}-{i}")


def test_two_processes_share_a_cache(tmp_path: Path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w)) for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with ResponseCache(tmp_path) as cache:
        assert len(cache) == 100
        assert cache.get("1-49") == {"worker": 1, "i": 49}
