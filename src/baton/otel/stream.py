"""Export a run's spans while it runs: a process that follows the results file as it grows.

The engine appends every finished run to ``results.jsonl`` (or ``results.jsonl.zst``) in
batches, fsynced, with secrets already redacted (:mod:`baton.store`). :class:`StreamingExport`
starts one exporter process before the run; it reads what was appended, builds the runs' spans
(:mod:`baton.otel.spans`) and sends them (:mod:`baton.otel.export`) while the run goes on, so
the export overlaps the run's model latency on another CPU instead of following it. When the run
ends, the exporter reads the file to its end, sends the rest and reports how many spans it sent.

A resumed run exports the runs it adds (the file is followed from the end of its valid records
when the run starts); ``baton otel export RUN_DIR`` exports a whole directory. The exporter
process is forked when the caller has a single thread (no interpreter start-up; it inherits
the imports) and spawned otherwise; it ignores Ctrl-C (the run's own handler stops the run, and
the exporter then sends what was stored), and leaves when its parent dies.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

from baton.errors import BatonError
from baton.otel.settings import OtelSettings

log = logging.getLogger(__name__)
POLL_S = 0.05
"""How often the exporter looks for new results (it wakes at once when the run ends)."""
_READ = 1 << 20


def _start_position(run_dir: Path) -> tuple[Path | None, int]:
    """The results file and the end of its valid records (where this run's appends will start:
    the store truncates a damaged tail to exactly that offset), or (None, 0) for a new run."""
    from baton.store import results_path, scan_results

    path = results_path(run_dir)
    if not path.exists() or path.stat().st_size == 0:
        return None, 0
    return path, scan_results(path).valid_bytes


class _Follower:
    """Reads complete records appended to a run directory's results file, from an offset."""

    def __init__(self, run_dir: Path, path: Path | None, offset: int) -> None:
        self.run_dir = run_dir
        self.path = path
        self.offset = offset
        self._fixed = path is not None  # resumed: the store keeps the file it has
        self._fh: Any = None
        self._read_any = False
        self._pending = b""
        self._frame: Any = None  # zstd decompressor of the frame being read (compressed files)
        self._frame_out: list[bytes] = []
        self.compressed = False
        self.behind = False

    def _open(self) -> bool:
        """Open the results file; until a new run's first bytes arrive, follow whichever file
        the store reads (it may create ``results.jsonl.zst`` next to an empty ``results.jsonl``)."""
        from baton.store import results_path

        if self._fh is not None and (self._fixed or self._read_any):
            return True
        path = self.path if self._fixed else results_path(self.run_dir)
        if self._fh is not None and path == self.path:
            return True
        if path is None or not path.exists():
            return False
        if self._fh is not None:
            self._fh.close()
        self._fh = path.open("rb")
        self._fh.seek(self.offset)
        self.path, self.compressed = path, path.name.endswith(".zst")
        return True

    def read(self) -> list[bytes]:
        """Complete records appended since the last call, from at most one chunk of the file
        (``behind`` tells whether more is waiting), so memory stays bounded when export lags."""
        if not self._open():
            return []
        data = self._fh.read(_READ)
        self.behind = len(data) == _READ  # more may be waiting: read again before sleeping
        if not data:
            return []
        self._read_any = True
        if self.compressed:
            return self._frames(data)
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        return data[:cut].splitlines(keepends=True)

    def _frames(self, data: bytes) -> list[bytes]:
        import zstandard

        lines: list[bytes] = []
        while data:
            if self._frame is None:
                self._frame, self._frame_out = zstandard.ZstdDecompressor().decompressobj(), []
            self._frame_out.append(self._frame.decompress(data))
            if not self._frame.eof:
                break
            data = self._frame.unused_data
            lines += b"".join(self._frame_out).splitlines(keepends=True)
            self._frame = None
        return lines

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def _follow(settings: OtelSettings, run_dir: Path, path: Path | None, offset: int, conn: Connection) -> None:
    """The exporter process: export what the run appends until the parent says stop (or dies)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sent = _export_following(settings, run_dir, path, offset, conn)
        conn.send(("done", (sent, time.process_time())))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        message = str(exc) if isinstance(exc, BatonError) else "".join(traceback.format_exception(exc))
        try:
            conn.send(("error", message))
        except OSError:
            pass


def _export_following(settings: OtelSettings, run_dir: Path, path: Path | None, offset: int,
                      conn: Connection) -> int:
    from baton.otel.export import Sinks, SpanBuilder

    follower = _Follower(run_dir, path, offset)
    sinks: Sinks | None = None
    builder: SpanBuilder | None = None
    stopping = False
    try:
        while True:
            lines = follower.read()
            if lines:
                if builder is None:
                    from baton.manifest import read_manifest

                    manifest = read_manifest(run_dir)
                    builder = SpanBuilder(follower.path or run_dir, run_key=manifest.run_key,
                                          fixture_set_hash=manifest.config.fixture_set_hash,
                                          content=settings.content)
                    sinks = Sinks(settings)
                assert sinks is not None
                try:
                    builder.send(lines, sinks)
                finally:
                    sinks.flush()
            if follower.behind:
                continue
            if stopping:
                return sinks.sent if sinks is not None else 0
            if conn.poll(POLL_S):
                try:
                    conn.recv()
                except EOFError:  # the parent is gone: send what it stored, then leave
                    pass
                stopping = True
    finally:
        follower.close()
        if sinks is not None:
            sinks.close()


def _can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


class StreamingExport:
    """``with StreamingExport(settings, run_dir):`` run the matrix; spans are exported meanwhile.

    ``sent`` is the number of spans exported, once the block has ended. An export failure (a
    collector that is down) does not stop the run: it is raised as a :class:`BatonError` when the
    block ends without another error (and logged when it ends with one)."""

    def __init__(self, settings: OtelSettings, run_dir: Path) -> None:
        self.settings = settings
        self.run_dir = Path(run_dir)
        self.sent = 0
        self.resumed = False  # the run directory held results before: only the new runs are exported
        self.drain_s = 0.0  # how long the end of the block waited for the exporter to finish
        self.cpu_s = 0.0  # CPU time the exporter process spent (start-up included), once the block has ended
        self._proc: Any = None
        self._conn: Connection | None = None

    def __enter__(self) -> StreamingExport:
        from baton.otel.export import check_destinations, require_sdk

        require_sdk()
        check_destinations(self.settings)
        path, offset = _start_position(self.run_dir)
        self.resumed = offset > 0
        ctx = multiprocessing.get_context("fork" if _can_fork() else "spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_follow, args=(self.settings, self.run_dir, path, offset, child),
                                 name="baton-otel-export", daemon=True)
        self._proc.start()
        child.close()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._conn is not None and self._proc is not None
        started = time.perf_counter()
        try:
            with contextlib.suppress(OSError):  # an exporter that failed has left; its report waits in the pipe
                self._conn.send("stop")
            status, value = self._conn.recv()
        except (EOFError, OSError):
            status, value = "error", f"the OpenTelemetry exporter process exited (code {self._proc.exitcode})"
        except BaseException:  # a second Ctrl-C while waiting: stop exporting
            self._proc.kill()
            raise
        finally:
            self._conn.close()
        self._proc.join()
        self.drain_s = time.perf_counter() - started
        if status == "done":
            self.sent, self.cpu_s = int(value[0]), float(value[1])
            return
        message = f"OpenTelemetry export failed: {value}"
        if exc is None:
            raise BatonError(message)
        log.error("%s", message)
