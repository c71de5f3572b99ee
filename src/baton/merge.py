"""Merge run directories (the shards of one run) into one run directory.

Every source must hold a run of the same configuration (same run key: tasks with their content
hashes, fixture set, systems, vendors, trials, seed, modes); anything else is refused with the
differences spelled out. Records are copied as stored (never re-serialized), a unit found in
several sources is kept once (the first source given wins), and merging again into the same
output adds only what it lacks, so a second merge of the same shards changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from baton.errors import BatonError
from baton.manifest import Manifest, config_differences, read_manifest
from baton.store import ResultStore, iter_records

__all__ = ["MergeReport", "SourceReport", "merge_run_dirs", "missing_units"]

_BATCH_BYTES = 8 << 20


@dataclass
class SourceReport:
    """One source directory: its shard (if any), the runs it holds and the runs it should hold."""

    run_dir: Path
    shard: tuple[int, int] | None
    expected: int
    found: int = 0
    added: int = 0
    duplicates: int = 0

    @property
    def incomplete(self) -> bool:
        return self.found < self.expected

    def label(self) -> str:
        return f"shard {self.shard[0]}/{self.shard[1]} ({self.run_dir})" if self.shard else str(self.run_dir)


@dataclass
class MergeReport:
    """What :func:`merge_run_dirs` did and what the merged run still lacks."""

    out: Path
    expected: int
    stored: int
    added: int
    already: int
    sources: list[SourceReport] = field(default_factory=list)
    missing_shards: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return max(self.expected - self.stored, 0)

    def lines(self) -> list[str]:
        """A short human summary, one line each."""
        out = [f"merged {len(self.sources)} run directories into {self.out}: {self.stored}/{self.expected} runs "
               f"({self.added} added, {self.already} already there)"]
        duplicates = sum(s.duplicates for s in self.sources)
        if duplicates:
            out.append(f"{duplicates} runs were in more than one source; each was kept once (from the first source)")
        out += [f"missing: shard {label} (no directory given for it)" for label in self.missing_shards]
        for source in self.sources:
            if source.incomplete:
                out.append(f"incomplete: {source.label()} holds {source.found} of its {source.expected} runs; "
                           f"complete it with: baton run --resume {source.run_dir}")
        if self.missing:
            out.append(f"the merged run lacks {self.missing} of {self.expected} runs")
        return out


def _shard_of(manifest: Manifest) -> tuple[int, int, int] | None:
    shard = manifest.invocation.get("shard")
    if not shard:
        return None
    try:
        return int(shard["index"]), int(shard["count"]), int(shard["matrix_runs"])
    except (KeyError, TypeError, ValueError):
        raise BatonError("manifest.json: invocation.shard: expected {index, count, matrix_runs}") from None


def _check_sources(sources: Sequence[Path], out: Path) -> list[Manifest]:
    if not sources:
        raise BatonError("merge: expected at least one run directory")
    resolved_out = out.resolve()
    seen: set[Path] = set()
    for source in sources:
        if not source.is_dir():
            raise BatonError(f"{source}: not a directory (expected a run directory)")
        if source.resolve() == resolved_out:
            raise BatonError(f"{source}: is the output directory; merge into a new directory")
        if source.resolve() in seen:
            raise BatonError(f"{source}: given twice")
        seen.add(source.resolve())
    manifests = [read_manifest(source) for source in sources]
    first = manifests[0]
    for source, manifest in zip(sources[1:], manifests[1:], strict=True):
        diffs = config_differences(first.config, manifest.config)
        if diffs:
            listing = "\n  - ".join(diffs)
            raise BatonError(f"{source}: not a part of the same run as {sources[0]} (a different configuration "
                             f"or fixture set), so their results cannot be merged:\n  - {listing}")
    counts = {shard[1] for m in manifests if (shard := _shard_of(m))}
    if len(counts) > 1:
        raise BatonError(f"merge: the sources were split into different numbers of shards ({sorted(counts)}); "
                         f"merge shards of one split")
    return manifests


def merge_run_dirs(sources: Sequence[Path | str], out: Path | str) -> MergeReport:
    """Merge ``sources`` into ``out`` (created, or completed if it holds the same run)."""
    source_dirs = [Path(s) for s in sources]
    out = Path(out)
    manifests = _check_sources(source_dirs, out)
    shards = [_shard_of(m) for m in manifests]
    expected = max((s[2] if s else m.total_runs) for s, m in zip(shards, manifests, strict=True))
    invocation = {k: v for k, v in manifests[0].invocation.items() if k != "shard"}
    invocation["merged_from"] = [str(d) for d in source_dirs]
    target = manifests[0].model_copy(update={"total_runs": expected, "invocation": invocation})
    reports = [SourceReport(d, (s[0], s[1]) if s else None, m.total_runs)
               for d, s, m in zip(source_dirs, shards, manifests, strict=True)]
    missing_shards: list[str] = []
    if shards and all(shards):  # an unsharded source holds every unit's place already
        count = next(s[1] for s in shards if s)
        present = {s[0] for s in shards if s}
        missing_shards = [f"{i}/{count}" for i in range(1, count + 1) if i not in present]
    with ResultStore.open(out, target, compress=_any_compressed(source_dirs)) as store:
        before = store.finished_keys()
        already = len(before)
        seen: set[str] = set()
        added = 0
        for report in reports:
            batch: list[bytes] = []
            size = 0
            for key, line in iter_records(report.run_dir):
                report.found += 1
                if key in seen:
                    report.duplicates += 1
                    continue
                seen.add(key)
                if key in before:
                    continue
                batch.append(line)
                size += len(line)
                report.added += 1
                if size >= _BATCH_BYTES:
                    store.append(b"".join(batch))
                    batch, size = [], 0
            if batch:
                store.append(b"".join(batch))
            added += report.added
    return MergeReport(out=out, expected=expected, stored=len(before | seen), added=added, already=already,
                       sources=reports, missing_shards=missing_shards)


def missing_units(run_dir: Path | str, limit: int = 10) -> tuple[int, list[str]] | None:
    """The units a run directory lacks, by key (at most ``limit``) with their count, when its
    matrix can be rebuilt here from the manifest's invocation (same tasks path, same
    configuration); None otherwise."""
    from baton.engine import prepare_manifest
    from baton.matrix import plan_run
    from baton.units import unit_id, unit_index

    manifest = read_manifest(run_dir)
    stored = manifest.invocation
    try:
        plan = plan_run(Path(stored["project_dir"]), tasks=stored.get("tasks"), task_filter=stored.get("task_filter"),
                        systems=stored.get("systems"), vendors=stored.get("vendors"), trials=stored.get("trials"),
                        seed=stored.get("seed"), modes=stored.get("modes"), vendors_file=stored.get("vendors_file"),
                        vendor_limits=stored.get("vendor_limits"))
    except (BatonError, KeyError, TypeError, OSError):
        return None
    rebuilt = prepare_manifest(plan.matrix, plan.profiles, use_cache=manifest.config.cache, judge=manifest.config.judge)
    if rebuilt.run_key != manifest.run_key:
        return None
    have = {key for key, _ in iter_records(run_dir)}
    shard_count = next((int(s["count"]) for d in stored.get("merged_from", [])
                        if (s := _source_shard(Path(d))) is not None), None)
    missing = []
    count = 0
    for item in plan.matrix.items():
        key = item.key().as_str()
        if key in have:
            continue
        count += 1
        if len(missing) < limit:
            where = (f" (shard {unit_index(unit_id(item.key(), item.seed), shard_count) + 1}/{shard_count})"
                     if shard_count else "")
            missing.append(key + where)
    return count, missing


def _source_shard(run_dir: Path) -> dict | None:
    try:
        return read_manifest(run_dir).invocation.get("shard")
    except BatonError:
        return None


def _any_compressed(dirs: Sequence[Path]) -> bool | None:
    from baton.store import COMPRESSED_RESULTS_FILE

    return True if any((d / COMPRESSED_RESULTS_FILE).exists() for d in dirs) else None
