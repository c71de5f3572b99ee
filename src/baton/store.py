"""The results store: one run directory, one append-only JSONL file of :class:`RunResult`.

Layout of a run directory::

    manifest.json    what the results were produced from (see baton.manifest)
    results.jsonl    one RunResult per line, trace inline, in completion order
    .lock            held (flock) by the process appending to results.jsonl

**Why JSONL and not SQLite (WAL).** Each record is written once, never updated, and read back
in full and in bulk (reports, the pytest gate, pandas), which is exactly what an append-only
text file does best: appends are one ``write`` per batch, a record is one line that ``jq``,
``grep``, ``pandas.read_json(lines=True)`` and ``datasets`` read directly, and a run directory
can be copied, diffed, attached to a CI job or committed as a baseline without a database
driver. SQLite would add a schema for what is one JSON document per run (the trace), and its
crash safety buys nothing here that a line-oriented format cannot give: the only damage a crash
can leave in an append-only file is a partial last line, which is detected, dropped with a
warning and truncated before the next append. Queries over runs go through pandas anyway.

**Durability guarantee.** The engine hands finished results to :meth:`ResultStore.append` in
batches; ``append`` writes the batch, flushes it and ``fsync``\\ s the file before returning,
and only then does the engine count those runs as done (progress, summary). So every result
the engine has acknowledged survives ``kill -9`` and power loss; a crash can lose only runs
that were still running or whose batch was not yet fsynced, and those are redone by resume.
Resume skips every key already in the file (:meth:`finished_keys`) — except, by default, runs
whose record is an infrastructure error (a vendor that was down): those are run again and their
new record is *appended*. The file is never rewritten, so the kill-safety above holds for retries
too, and the rule for readers is: **the latest record of a key wins** (:func:`iter_results`,
:func:`scan_results`); earlier records of that key are history, never counted. ``--keep-errors``
(``retry_errors=False``) keeps the error records as the runs' outcome.

**Compressed results.** Large runs (``total_runs >= COMPRESS_FROM``, or ``compress=True``) are
stored as ``results.jsonl.zst`` instead: the same JSON lines, each appended batch one
independent zstd frame (``zstdcat results.jsonl.zst | jq`` reads it). Appends stay one write
and one ``fsync``; a crash can leave only a partial last *frame*, which is detected, dropped
and truncated exactly like a partial last line. A simulated trace compresses about 10x, so a
100,000-run directory stays well under 1 GB (bench/README.md). Readers (:func:`iter_results`,
:func:`scan_results`) accept either file; a directory holds one or the other.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pydantic import ValidationError

from baton.errors import BatonError
from baton.redact import redact_bytes
from baton.manifest import (
    MANIFEST_FILE,
    Manifest,
    config_differences,
    environment_differences,
    read_manifest,
    write_manifest,
)
from baton.result import RunKey, RunResult

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["COMPRESS_FROM", "COMPRESSED_RESULTS_FILE", "LOCK_FILE", "RESULTS_FILE", "ResultStore", "StoreScan",
           "check_same_config", "iter_records", "iter_results", "results_path", "scan_results"]

log = logging.getLogger("baton.store")

RESULTS_FILE = "results.jsonl"
COMPRESSED_RESULTS_FILE = "results.jsonl.zst"
LOCK_FILE = ".lock"
COMPRESS_FROM = 2000
"""Runs from which a new run directory stores its results compressed (``results.jsonl.zst``)."""
_ZSTD_LEVEL = 3
_READ_CHUNK = 1 << 20
# model_dump_json writes fields in declaration order: version, then key. A fast path for
# reading a line's key without parsing its trace; anything else falls back to a full parse.
_KEY_PREFIX = re.compile(rb'^\{"version":\d+,"key":(\{[^{}]*\})')


@dataclass
class StoreScan:
    """What a results file holds: the latest record of each key, as running totals, without
    keeping records. ``lines`` counts every valid line, superseded records included."""

    latest: dict[str, tuple[str, float, int, int]] = field(default_factory=dict)
    valid_bytes: int = 0
    lines: int = 0
    dropped_tail: bytes = b""

    @property
    def keys(self) -> set[str]:
        return set(self.latest)

    @property
    def count(self) -> int:
        return len(self.latest)

    @property
    def statuses(self) -> Counter[str]:
        return Counter(status for status, _, _, _ in self.latest.values())

    @property
    def cost_usd(self) -> float:
        return sum(cost for _, cost, _, _ in self.latest.values())

    @property
    def calls(self) -> int:
        return sum(calls for _, _, calls, _ in self.latest.values())

    @property
    def cached_calls(self) -> int:
        return sum(cached for _, _, _, cached in self.latest.values())

    @property
    def error_keys(self) -> set[str]:
        """Keys whose latest record is an infrastructure error."""
        return {key for key, (status, _, _, _) in self.latest.items() if status == "error"}

    def without(self, keys: set[str]) -> StoreScan:
        """This scan with ``keys`` left out (runs to be redone)."""
        return StoreScan({k: v for k, v in self.latest.items() if k not in keys}, self.valid_bytes,
                         self.lines, self.dropped_tail)


def _key_str(key: dict) -> str:
    return RunKey.model_validate(key).as_str()


def _line_key(line: bytes) -> str:
    match = _KEY_PREFIX.match(line)
    if match:
        return _key_str(json.loads(match.group(1)))
    return _key_str(json.loads(line)["key"])


def results_path(run_dir: Path | str) -> Path:
    """The results file of a run directory: ``results.jsonl.zst`` if present, else ``results.jsonl``."""
    compressed = Path(run_dir) / COMPRESSED_RESULTS_FILE
    return compressed if compressed.exists() else Path(run_dir) / RESULTS_FILE


def _is_compressed(path: Path) -> bool:
    return path.name.endswith(".zst")


def _units(path: Path) -> Iterator[tuple[int, int, list[bytes] | None]]:
    """The file's append units in order, as (start offset, end offset, lines or None if damaged).

    A unit is one line of a plain file, or one zstd frame (an appended batch) of a compressed one;
    a unit is damaged when it is partial (a crash mid-write) or does not hold complete lines."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        if not _is_compressed(path):
            offset = 0
            for line in fh:
                yield offset, offset + len(line), [line] if line.endswith(b"\n") else None
                offset += len(line)
            return
        yield from _zstd_units(fh)


def _zstd_units(fh: Any) -> Iterator[tuple[int, int, list[bytes] | None]]:
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    start = pos = 0
    obj = dctx.decompressobj()
    out: list[bytes] = []
    while chunk := fh.read(_READ_CHUNK):
        data = chunk
        while data:
            try:
                out.append(obj.decompress(data))
            except zstandard.ZstdError:
                fh.seek(0, os.SEEK_END)
                yield start, fh.tell(), None
                return
            if not obj.eof:
                pos += len(data)
                break
            end = pos + len(data) - len(obj.unused_data)
            data = obj.unused_data
            block = b"".join(out)
            lines = block.splitlines(keepends=True)
            yield start, end, lines if lines and block.endswith(b"\n") else None
            start = pos = end
            obj, out = dctx.decompressobj(), []
    if pos > start or out:
        yield start, pos, None


def scan_results(path: Path) -> StoreScan:
    """Read a results file (plain or compressed) unit by unit. A key stored more than once (a run
    redone on resume) counts with its latest record. A damaged *tail* (a partial or
    invalid last run of lines or frames) is reported in ``dropped_tail`` and excluded from
    ``valid_bytes``; a damaged unit followed by valid ones is a :class:`BatonError` naming it."""
    scan = StoreScan()
    bad_at: tuple[int, int] | None = None  # (unit number, byte offset) of the first bad unit
    end = 0
    for number, (start, end, lines) in enumerate(_units(path), start=1):
        records = [_parse(line) for line in lines] if lines is not None else [None]
        if any(record is None for record in records):
            if bad_at is None:
                bad_at = (number, start)
            continue
        if bad_at is not None:
            raise BatonError(f"{path}: {_unit_name(path)} {bad_at[0]} is not a valid result but later "
                             f"{_unit_name(path)}s are; the file was edited or written by two processes. Remove that "
                             f"{_unit_name(path)} (or start a new run directory) and resume.")
        for record in records:
            assert record is not None
            key, status, usage = record
            scan.latest.pop(key, None)  # re-insert: the latest record's position counts
            scan.latest[key] = (status, float(usage.get("cost_usd", 0.0)), int(usage.get("calls", 0)),
                                int(usage.get("cached_calls", 0)))
            scan.lines += 1
    if bad_at is not None:
        scan.valid_bytes = bad_at[1]
        with path.open("rb") as fh:
            fh.seek(bad_at[1])
            scan.dropped_tail = fh.read()
    else:
        scan.valid_bytes = end
    return scan


def _unit_name(path: Path) -> str:
    return "frame" if _is_compressed(path) else "line"


def _parse(line: bytes) -> tuple[str, str, dict] | None:
    try:
        data = json.loads(line)
        return _key_str(data["key"]), str(data["status"]), dict(data.get("usage") or {})
    except (ValueError, KeyError, TypeError, ValidationError):
        return None


def _describe_tail(tail: bytes, path: Path) -> str:
    if _is_compressed(path):
        return f"{len(tail)} bytes of a partial or invalid frame"
    lines = tail.count(b"\n") + (0 if tail.endswith(b"\n") else 1)
    return f"{len(tail)} bytes, {lines} partial or invalid line{'s' if lines != 1 else ''}"


class ResultStore:
    """Appends results to a run directory. Use :meth:`open`; one process at a time per directory."""

    def __init__(self, run_dir: Path, manifest: Manifest, scan: StoreScan, lock_fd: int | None,
                 path: Path | None = None) -> None:
        self.run_dir = run_dir
        self.manifest = manifest
        self.path = path or run_dir / RESULTS_FILE
        self._compressor = None
        if _is_compressed(self.path):
            import zstandard

            self._compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
        self._scan = scan
        self._lock_fd = lock_fd
        created = not self.path.exists()
        self._fh = self.path.open("ab")
        if created:
            _fsync_dir(run_dir)  # the new file's directory entry must be durable too

    @classmethod
    def open(cls, run_dir: Path | str, manifest: Manifest, *, retry_errors: bool = False,
             compress: bool | None = None) -> ResultStore:
        """Open ``run_dir`` for appending: create it with ``manifest``, or check that its existing
        manifest has the same configuration (else a :class:`BatonError` listing what differs);
        repair a damaged tail; read the keys already finished. ``retry_errors``: runs whose latest
        record is an infrastructure error do not count as finished, so they are run again.

        ``compress``: store a new directory's results as ``results.jsonl.zst``; by default when
        the manifest counts at least :data:`COMPRESS_FROM` runs. An existing directory keeps its format."""
        run_dir = Path(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BatonError(f"{run_dir}: cannot create the run directory: {exc.strerror}") from None
        lock_fd = _lock(run_dir)
        try:
            stored = cls._check_manifest(run_dir, manifest)
            path = results_path(run_dir)
            if not path.exists() or path.stat().st_size == 0:
                if compress is None:
                    compress = stored.total_runs >= COMPRESS_FROM
                path = run_dir / (COMPRESSED_RESULTS_FILE if compress else RESULTS_FILE)
            scan = scan_results(path)
            if scan.dropped_tail:
                log.warning("%s: dropped a damaged tail (%s) left by an interrupted run; "
                            "those runs will be redone", path, _describe_tail(scan.dropped_tail, path))
                os.truncate(path, scan.valid_bytes)
            if retry_errors and (errors := scan.error_keys):
                log.info("%s: %d runs ended in infrastructure errors; running them again", run_dir, len(errors))
                scan = scan.without(errors)
            return cls(run_dir, stored, scan, lock_fd, path)
        except BaseException:
            _unlock(lock_fd)
            raise

    @staticmethod
    def _check_manifest(run_dir: Path, manifest: Manifest) -> Manifest:
        if not (run_dir / MANIFEST_FILE).exists():
            results = results_path(run_dir)
            if results.exists() and results.stat().st_size > 0:
                raise BatonError(f"{run_dir}: holds {RESULTS_FILE} but no {MANIFEST_FILE}; "
                                 f"refusing to add results of unknown configuration")
            write_manifest(run_dir, manifest)
            _fsync_dir(run_dir)
            return manifest
        stored = read_manifest(run_dir)
        check_same_config(run_dir, stored, manifest)
        env = environment_differences(stored.environment, manifest.environment)
        if env:
            log.warning("%s: resuming in a different environment (%s)", run_dir, "; ".join(env))
        return stored

    @property
    def scan(self) -> StoreScan:
        """What the file held when opened."""
        return self._scan

    def finished_keys(self) -> set[str]:
        """Keys (``RunKey.as_str()``) of the results the file held when opened."""
        return self._scan.keys

    def append(self, data: bytes) -> None:
        """Append serialized lines (each ending in a newline) and make them durable. Secrets
        (``baton.redact``) are blanked out first: a model reply or error quoting a key is stored
        without it."""
        data = redact_bytes(data)
        if self._compressor is not None:
            data = self._compressor.compress(data)
        self._fh.write(data)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        _unlock(self._lock_fd)
        self._lock_fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def check_same_config(run_dir: Path, stored: Manifest, manifest: Manifest) -> None:
    """A :class:`BatonError` listing the differences when ``manifest`` would change the run's configuration."""
    diffs = config_differences(stored.config, manifest.config)
    if diffs:
        listing = "\n  - ".join(diffs)
        raise BatonError(f"{run_dir}: the configuration differs from the one this run was started "
                         f"with, so its results cannot be mixed:\n  - {listing}\n"
                         f"Resume with the original configuration, or start a new run directory.")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _lock(run_dir: Path) -> int | None:
    if fcntl is None:  # pragma: no cover - Windows
        return None
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise BatonError(f"{run_dir}: another baton process is writing to this run directory") from None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is None or fcntl is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _line_identity(line: bytes) -> bytes | str:
    """A cheap identity of a line's key for de-duplication: the key object's bytes as written
    (one serializer writes them, so equal keys are equal bytes), else the parsed key string."""
    match = _KEY_PREFIX.match(line)
    return match.group(1) if match else _line_key(line)


def iter_records(run_dir: Path | str, *, keys: bool = True) -> Iterator[tuple[str, bytes]]:
    """Stream a run directory's stored records as (key, JSON line), unparsed, with the same rules
    as :func:`iter_results`: a damaged tail is skipped with a warning, a damaged record followed
    by valid ones is a :class:`BatonError`, and of a key stored twice only the last record is
    yielded. Memory holds one unit plus the set of keys. ``keys=False`` yields ``""`` as the key
    (saves parsing it)."""
    path = results_path(run_dir)
    if not path.exists():
        if not (Path(run_dir) / MANIFEST_FILE).exists():
            raise BatonError(f"{run_dir}: not a Baton run directory (no {MANIFEST_FILE} or {RESULTS_FILE})")
        return
    last_index: dict[bytes | str, int] = {}
    duplicates = False
    count = 0
    bad_unit: int | None = None
    index = 0
    for number, (_, _, lines) in enumerate(_units(path), start=1):
        try:
            if lines is None:
                raise ValueError("partial unit")
            ids = [_line_identity(line) for line in lines]
        except (ValueError, KeyError, TypeError, ValidationError):
            if bad_unit is None:
                bad_unit = number
            continue
        if bad_unit is not None:
            raise BatonError(f"{path}: {_unit_name(path)} {bad_unit} is not a valid result but later "
                             f"{_unit_name(path)}s are; the file was edited or written by two processes")
        for ident in ids:
            duplicates = duplicates or ident in last_index
            last_index[ident] = index
            index += 1
        count = number
    if bad_unit is not None:
        log.warning("%s: skipped a damaged tail from %s %d on (a run interrupted mid-write; "
                    "resume it to redo those runs)", path, _unit_name(path), bad_unit)
    if not duplicates:
        last_index.clear()
    index = 0
    for number, (_, _, lines) in enumerate(_units(path), start=1):
        if number > count:
            break
        for line in lines or ():
            index += 1
            if duplicates and last_index.get(_line_identity(line)) != index - 1:
                continue
            yield (_line_key(line) if keys else ""), line


def iter_results(run_dir: Path | str) -> Iterator[RunResult]:
    """Stream the results of a run directory, one :class:`RunResult` at a time.

    A damaged tail (a run killed mid-write) is skipped with a warning. Should a key appear more
    than once, only its last record is yielded. Memory holds one record plus the set of keys."""
    path = results_path(run_dir)
    for number, (_, line) in enumerate(iter_records(run_dir, keys=False), start=1):
        try:
            yield RunResult.model_validate_json(line)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in first["loc"]) or "record"
            raise BatonError(f"{path}: record {number}: {loc}: {first['msg']}") from None
