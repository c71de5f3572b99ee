"""Sidecars: helper processes that run a framework in its own Python environment.

Some frameworks pin libraries Baton cannot share (CrewAI needs ``openai<3`` and ``mcp<2``), so
the system under test runs in a process of its own virtual environment and serves HTTP on
loopback. A :class:`Sidecar` starts such a process and waits on readiness, not on a clock: the
child writes ``port <n>`` (or ``error <message>``) to a pipe Baton gives it, and Baton blocks on
that pipe (bounded by ``ready_timeout_s``). The child's standard input is a pipe Baton holds:
when Baton exits, however it exits, the pipe closes and the child stops. Output goes to a log
file whose tail is shown when the child fails.

A :class:`SidecarPool` keeps ``size`` identical sidecars, each serving one run at a time, shared
by every run of the process (keyed by command line) and stopped at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import select
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from baton.errors import ConfigError
from baton.redact import redact

LOG_TAIL_CHARS = 2000


class SidecarError(ConfigError):
    """A sidecar did not start: the message names the command, the reason and its log's tail."""


class Sidecar:
    """One helper process serving HTTP on ``127.0.0.1``."""

    def __init__(self, argv: Sequence[str], *, name: str, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike[str] | None = None, ready_timeout_s: float = 180.0) -> None:
        self.argv = list(argv)
        self.name = name
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.ready_timeout_s = ready_timeout_s
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{self.name} is not started")
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> int:
        """Start the process; returns the read end of its ready pipe (see :meth:`wait_ready`)."""
        read_fd, write_fd = os.pipe()
        prefix = "baton-" + re.sub(r"[^A-Za-z0-9_.]+", "-", self.name).strip("-") + "-"
        log = tempfile.NamedTemporaryFile(prefix=prefix, suffix=".log", delete=False)
        self.log_path = Path(log.name)
        try:
            self.process = subprocess.Popen([*self.argv, "--ready-fd", str(write_fd)], stdin=subprocess.PIPE,
                                            stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                                            pass_fds=(write_fd,), start_new_session=True)
        except OSError as exc:
            os.close(read_fd)
            raise SidecarError(f"{self.name}: cannot start {self.argv[0]!r}: {exc}") from None
        finally:
            os.close(write_fd)
            log.close()
        return read_fd

    def wait_ready(self, read_fd: int) -> None:
        """Block until the child reports its port (or an error, or dies); raise SidecarError unless ready."""
        data = b""
        try:
            while b"\n" not in data:
                readable, _, _ = select.select([read_fd], [], [], self.ready_timeout_s)
                if not readable:
                    tail = self._log_tail()
                    self.stop(keep_log=True)
                    raise SidecarError(f"{self.name}: not ready within {self.ready_timeout_s:g} s{tail}")
                chunk = os.read(read_fd, 4096)
                if not chunk:  # the child exited without a word
                    break
                data += chunk
        finally:
            os.close(read_fd)
        line = data.decode(errors="replace").strip()
        if line.startswith("port "):
            self.port = int(line.split()[1])
            return
        reason = line[len("error "):] if line.startswith("error ") else "it exited before it was ready"
        tail = self._log_tail()
        self.stop(keep_log=True)
        raise SidecarError(f"{self.name}: {reason}{tail}")

    def start(self) -> None:
        self.wait_ready(self.launch())

    def stop(self, *, keep_log: bool = False) -> None:
        """Close its standard input (it exits on that), then wait; killed if it does not go.
        Its log is removed unless ``keep_log`` (a failure's, which the error names)."""
        process = self.process
        if process is None:
            return
        if process.stdin is not None:
            try:
                process.stdin.close()
            except OSError:
                pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.port = None
        if not keep_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = redact(self.log_path.read_text(errors="replace").strip())
        if not text:
            return ""
        return f"\n    its output ({self.log_path}) ends with:\n    " + \
            text[-LOG_TAIL_CHARS:].replace("\n", "\n    ")


class SidecarPool:
    """``size`` identical sidecars; :meth:`lease` hands one out for one run."""

    _pools: dict[tuple[object, ...], SidecarPool] = {}
    _lock = threading.Lock()

    def __init__(self, sidecars: list[Sidecar]) -> None:
        self.sidecars = sidecars
        self._mutex = threading.Lock()
        self._free: deque[Sidecar] = deque(sidecars)
        # runs waiting for a sidecar: futures of their own event loops (no thread held while waiting)
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[Sidecar]]] = deque()

    @classmethod
    def shared(cls, key: tuple[object, ...], make: list[Sidecar]) -> SidecarPool:
        """The process's pool for ``key``, started (all sidecars at once) on first use."""
        with cls._lock:
            pool = cls._pools.get(key)
            if pool is not None:
                return pool
            fds = []
            try:
                for sidecar in make:
                    fds.append(sidecar.launch())
                for sidecar, fd in zip(make, fds, strict=False):
                    sidecar.wait_ready(fd)
            except BaseException:
                for sidecar in make:
                    sidecar.stop()
                raise
            pool = cls._pools[key] = SidecarPool(make)
            return pool

    @classmethod
    def stop_all(cls) -> None:
        with cls._lock:
            pools, cls._pools = list(cls._pools.values()), {}
        for pool in pools:
            for sidecar in pool.sidecars:
                sidecar.stop()

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[Sidecar]:
        """A free sidecar for the block (waits, first come first served, when all are busy)."""
        sidecar = await self._acquire()
        try:
            if not sidecar.alive():  # it died (a crash in the framework, a timed-out run): a fresh one
                sidecar.stop(keep_log=True)
                await asyncio.to_thread(sidecar.start)
            yield sidecar
        finally:
            self._release(sidecar)

    async def _acquire(self) -> Sidecar:
        loop = asyncio.get_running_loop()
        with self._mutex:
            if self._free:
                return self._free.popleft()
            waiter: asyncio.Future[Sidecar] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed over just as the run was cancelled
                self._release(waiter.result())
            raise

    def _release(self, sidecar: Sidecar) -> None:
        with self._mutex:
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                if not waiter.done() and not loop.is_closed():
                    loop.call_soon_threadsafe(self._hand_over, waiter, sidecar)
                    return
            self._free.append(sidecar)

    def _hand_over(self, waiter: asyncio.Future[Sidecar], sidecar: Sidecar) -> None:
        if waiter.done():  # cancelled meanwhile: the next in line gets it
            self._release(sidecar)
        else:
            waiter.set_result(sidecar)


atexit.register(SidecarPool.stop_all)
