"""Reading a run directory for reporting: its manifest (optional) and its streamed results."""

from __future__ import annotations

from pathlib import Path

from baton.errors import BatonError
from baton.manifest import MANIFEST_FILE, Manifest, read_manifest
from baton.store import RESULTS_FILE


def check_run_dir(run_dir: Path) -> Path:
    """The run directory, or a clear error when it is not one."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise BatonError(f"{run_dir}: not a directory (expected a run directory holding {RESULTS_FILE})")
    if not (run_dir / RESULTS_FILE).is_file() and not (run_dir / MANIFEST_FILE).is_file():
        raise BatonError(f"{run_dir}: not a Baton run directory (no {MANIFEST_FILE} or {RESULTS_FILE})")
    return run_dir


def optional_manifest(run_dir: Path) -> Manifest | None:
    """The run's manifest, None when the directory has none (results written by other tools)."""
    if not (Path(run_dir) / MANIFEST_FILE).is_file():
        return None
    return read_manifest(run_dir)


def run_facts(manifest: Manifest | None) -> list[tuple[str, str]]:
    """What a report's header says about the run: when, what, with which versions."""
    if manifest is None:
        return []
    config, env = manifest.config, manifest.environment
    commit = env.git_commit[:12] if env.git_commit else "unknown"
    if env.git_dirty:
        commit += " (uncommitted changes)"
    return [("created", manifest.created_at), ("run key", manifest.run_key[:16]),
            ("fixture set", config.fixture_set_hash[:16]), ("tasks", str(len(config.tasks))),
            ("systems", ", ".join(s.name for s in config.systems)),
            ("vendors", ", ".join(v.name + (" (simulated)" if v.simulated else "") for v in config.vendors)),
            ("trials", str(config.trials)), ("seed", str(config.seed)), ("modes", ", ".join(config.modes)),
            ("planned runs", str(manifest.total_runs)), ("baton", env.baton_version),
            ("python", env.python), ("git commit", commit)]
