"""The run manifest: what a run directory's results were produced from.

``manifest.json`` holds three parts:

* ``config``: what the results *mean* (tasks with versions and content hashes, the fixture-set
  hash, systems, vendor profiles, trials, seed, modes). Its hash is the ``run_key``; resuming a
  run whose configuration changed is refused, with the differences spelled out.
* ``environment``: what produced them (Baton and Python versions, platform, dependency
  versions, git commit and dirty flag). Differences on resume are warned about, not refused.
* ``invocation``: how the matrix was selected (tasks path, filter, names), so
  ``baton run --resume RUN_DIR`` can rebuild it without repeating the flags.

Vendor fields that only change *how fast* a run goes (``max_concurrency``, ``timeout_s``,
``retries``) and system descriptions are stored but left out of the run key. Profiles hold the *name* of the variable
with the API key, never a key; user info in a ``base_url`` is redacted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from baton import __version__
from baton.errors import BatonError
from baton.redact import redact
from baton.systems import SystemConfig
from baton.task import GoldenTask
from baton.vendors import VendorProfile

__all__ = [
    "MANIFEST_FILE",
    "MANIFEST_VERSION",
    "Environment",
    "Manifest",
    "RunConfig",
    "TaskRef",
    "build_config",
    "build_manifest",
    "config_differences",
    "environment_differences",
    "environment_info",
    "fixture_set_hash",
    "read_manifest",
    "task_hash",
    "with_measurement",
    "write_manifest",
]

MANIFEST_VERSION = 1
MANIFEST_FILE = "manifest.json"
_OPERATIONAL_FIELDS = frozenset({"max_concurrency", "timeout_s", "retries"})
_DISTRIBUTION = "baton-evals"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TaskRef(_Strict):
    """A task of the matrix: id, version and a hash of its resolved content."""

    id: str
    version: int
    hash: str


class RunConfig(_Strict):
    """Everything that determines what the results mean. Its hash is the run key."""

    tasks: list[TaskRef]
    fixture_set_hash: str
    systems: list[SystemConfig]
    vendors: list[VendorProfile]
    trials: int
    seed: int
    modes: list[str]
    vendor_limits: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="vendor -> {tasks, trials}: vendors restricted to fewer runs")
    cache: bool = Field(default=True, description="whether model calls may be answered from the response "
                        "cache (changes measured cost and latency)")
    judge: str | None = Field(default=None, description="vendor profile of the LLM judge, if any")

    def key(self) -> str:
        return _hash_json(self._keyed())

    def _keyed(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        for name, default in _MEASUREMENT_DEFAULTS.items():  # absent when default: older run keys stay valid
            if data.get(name) == default:
                data.pop(name, None)
        data["vendors"] = [{k: v for k, v in vendor.items() if k not in _OPERATIONAL_FIELDS}
                           for vendor in data["vendors"]]
        for system in data["systems"]:
            system.pop("description", None)
        return data


_MEASUREMENT_DEFAULTS: dict[str, Any] = {"cache": True, "judge": None}


class Environment(_Strict):
    """What produced the results."""

    baton_version: str
    python: str
    implementation: str
    platform: str
    packages: dict[str, str] = Field(default_factory=dict)
    git_commit: str | None = None
    git_dirty: bool | None = None


class Manifest(_Strict):
    """The contents of ``manifest.json``."""

    version: int = MANIFEST_VERSION
    run_key: str
    created_at: str
    total_runs: int
    config: RunConfig
    environment: Environment
    invocation: dict[str, Any] = Field(default_factory=dict)


def _hash_json(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_LOCATION_FIELDS: dict[str, Any] = {"source": True, "documents": {"__all__": {"path"}}}
"""Where a task and its documents were read from: display paths, relative to the working
directory. Never part of a task's identity."""


def task_hash(task: GoldenTask) -> str:
    """Hash of a task's resolved content: documents by id and content, never by path, so the
    same fixtures give the same hash from any working directory and after moving a folder.

    Field order is the model's declaration order and dict order is the file's, so equal files
    give equal hashes."""
    return hashlib.sha256(task.model_dump_json(exclude=_LOCATION_FIELDS).encode("utf-8")).hexdigest()


def fixture_set_hash(refs: Iterable[TaskRef]) -> str:
    """Hash of a set of tasks, independent of their order."""
    return _hash_json(sorted((ref.id, ref.version, ref.hash) for ref in refs))


def _redact_url(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def build_config(tasks: Sequence[GoldenTask], systems: Sequence[SystemConfig],
                 vendors: Sequence[VendorProfile], *, trials: int, seed: int,
                 modes: Sequence[str], vendor_limits: dict[str, dict[str, Any]] | None = None,
                 cache: bool = True, judge: str | None = None) -> RunConfig:
    """The run configuration of a matrix. ``vendors`` are every profile the systems may call;
    ``cache`` and ``judge`` are the measurement options (response cache on, LLM judge profile)."""
    refs = [TaskRef(id=t.id, version=t.version, hash=task_hash(t)) for t in tasks]
    clean = [v.model_copy(update={"base_url": _redact_url(v.base_url)}) for v in vendors]
    return RunConfig(tasks=refs, fixture_set_hash=fixture_set_hash(refs), systems=list(systems),
                     vendors=clean, trials=trials, seed=seed, modes=list(modes),
                     vendor_limits=vendor_limits or {}, cache=cache, judge=judge)


def with_measurement(manifest: Manifest, *, cache: bool, judge: str | None) -> Manifest:
    """``manifest`` recording the measurement options a run actually uses (run key recomputed)."""
    if manifest.config.cache == cache and manifest.config.judge == judge:
        return manifest
    config = manifest.config.model_copy(update={"cache": cache, "judge": judge})
    return manifest.model_copy(update={"config": config, "run_key": config.key()})


def _package_versions() -> dict[str, str]:
    names = ["baton-evals"]
    try:
        names += [re.match(r"[A-Za-z0-9._-]+", req).group(0)  # type: ignore[union-attr]
                  for req in metadata.requires(_DISTRIBUTION) or [] if "extra ==" not in req]
    except metadata.PackageNotFoundError:
        pass
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _git(project_dir: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(project_dir), *args], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def environment_info(project_dir: Path | None = None) -> Environment:
    """Versions, platform and git state of this process and project."""
    commit = dirty = None
    if project_dir is not None:
        head = _git(project_dir, "rev-parse", "HEAD")
        if head:
            commit = head.strip()
            status = _git(project_dir, "status", "--porcelain", "--untracked-files=no")
            dirty = bool(status.strip()) if status is not None else None
    return Environment(baton_version=__version__, python=platform.python_version(),
                       implementation=sys.implementation.name, platform=platform.platform(),
                       packages=_package_versions(), git_commit=commit, git_dirty=dirty)


def build_manifest(config: RunConfig, *, total_runs: int, project_dir: Path | None = None,
                   invocation: Mapping[str, Any] | None = None) -> Manifest:
    return Manifest(run_key=config.key(), created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    total_runs=total_runs, config=config, environment=environment_info(project_dir),
                    invocation=dict(invocation or {}))


def _names(items: Iterable[str]) -> str:
    return ", ".join(sorted(items))


def _by_name_diff(what: str, old: Mapping[str, dict[str, Any]], new: Mapping[str, dict[str, Any]]) -> list[str]:
    out = []
    if added := set(new) - set(old):
        out.append(f"{what} added: {_names(added)}")
    if removed := set(old) - set(new):
        out.append(f"{what} removed: {_names(removed)}")
    for name in sorted(set(old) & set(new)):
        fields = sorted(k for k in set(old[name]) | set(new[name]) if old[name].get(k) != new[name].get(k))
        if fields:
            changes = "; ".join(f"{k}: {old[name].get(k)!r} -> {new[name].get(k)!r}" for k in fields)
            out.append(f"{what[:-1]} '{name}' changed ({changes})")
    return out


def config_differences(old: RunConfig, new: RunConfig) -> list[str]:
    """Human-readable differences between two configurations; empty when their keys are equal."""
    if old.key() == new.key():
        return []
    a, b = old._keyed(), new._keyed()
    out: list[str] = []
    old_tasks = {t["id"]: t for t in a["tasks"]}
    new_tasks = {t["id"]: t for t in b["tasks"]}
    if added := set(new_tasks) - set(old_tasks):
        out.append(f"tasks added: {_names(added)}")
    if removed := set(old_tasks) - set(new_tasks):
        out.append(f"tasks removed: {_names(removed)}")
    for tid in sorted(set(old_tasks) & set(new_tasks)):
        before, after = old_tasks[tid], new_tasks[tid]
        if before["version"] != after["version"]:
            out.append(f"task '{tid}' version {before['version']} -> {after['version']}")
        elif before["hash"] != after["hash"]:
            out.append(f"task '{tid}' content changed (same version {after['version']})")
    out += _by_name_diff("systems", {s["name"]: s for s in a["systems"]}, {s["name"]: s for s in b["systems"]})
    out += _by_name_diff("vendors", {v["name"]: v for v in a["vendors"]}, {v["name"]: v for v in b["vendors"]})
    for name in ("trials", "seed", "modes"):
        if a[name] != b[name]:
            out.append(f"{name}: {a[name]!r} -> {b[name]!r}")
    if old.cache != new.cache:
        out.append(f"response cache: {'on' if old.cache else 'off (--no-cache)'} -> "
                   f"{'on' if new.cache else 'off (--no-cache)'}; cached calls cost nothing and take no time, "
                   f"so cost and latency would mix two measurements")
    if old.judge != new.judge:
        out.append(f"judge: {old.judge or 'none'} -> {new.judge or 'none'}")
    return out or ["configuration hash changed"]


def environment_differences(old: Environment, new: Environment) -> list[str]:
    """What differs between the environment a run started in and the current one."""
    out = []
    for name in ("baton_version", "python", "git_commit"):
        if getattr(old, name) != getattr(new, name):
            out.append(f"{name}: {getattr(old, name)} -> {getattr(new, name)}")
    if new.git_dirty and not old.git_dirty:
        out.append("git working tree has uncommitted changes")
    for pkg in sorted(set(old.packages) | set(new.packages)):
        if old.packages.get(pkg) != new.packages.get(pkg):
            out.append(f"{pkg}: {old.packages.get(pkg)} -> {new.packages.get(pkg)}")
    return out


def read_manifest(run_dir: Path | str) -> Manifest:
    """Load ``<run_dir>/manifest.json``; a :class:`BatonError` naming the file if it is missing or invalid."""
    path = Path(run_dir) / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BatonError(f"{path}: not found; is {run_dir} a Baton run directory?") from None
    except OSError as exc:
        raise BatonError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return Manifest.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"]) or "manifest"
        raise BatonError(f"{path}: {loc}: {first['msg']}") from None


def write_manifest(run_dir: Path | str, manifest: Manifest) -> Path:
    """Write ``manifest.json`` atomically (temporary file, fsync, rename)."""
    path = Path(run_dir) / MANIFEST_FILE
    tmp = path.with_suffix(".json.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(redact(manifest.model_dump_json(indent=2)))
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
