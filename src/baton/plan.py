"""A run plan: the matrix a command runs, built from explicit choices (flags) and the project's
settings, with the vendor profiles it resolves against and how it was chosen (stored in the
manifest, so ``--resume`` rebuilds the same matrix)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton.errors import ConfigError
from baton.matrix import Matrix, Supports, resolve_vendor_limits, select_tasks, vendors_used
from baton.run_settings import RunSettings, check_int, load_settings, parse_modes, parse_names
from baton.system_config import load_systems, resolve_systems
from baton.vendors import VendorProfile

__all__ = ["RunPlan", "plan_run"]


@dataclass(frozen=True)
class RunPlan:
    """A matrix ready to run, the vendor profiles it resolves against, and how it was chosen
    (``invocation``, stored in the manifest so ``--resume`` can rebuild it)."""

    matrix: Matrix
    profiles: Mapping[str, VendorProfile]
    project_dir: Path
    invocation: dict[str, Any]


def plan_run(project_dir: Path, *, settings: RunSettings | None = None, tasks: Path | str | None = None,
             task_filter: str | None = None, systems: Sequence[str] | str | None = None,
             vendors: Sequence[str] | str | None = None, trials: int | None = None, seed: int | None = None,
             modes: Sequence[str] | str | None = None, vendors_file: Path | str | None = None,
             supports: Supports | None = None,
             vendor_limits: Mapping[str, Mapping[str, Any]] | None = None) -> RunPlan:
    """Build the matrix from explicit choices, falling back to ``[tool.baton.run]`` settings.

    Explicit paths are taken as given (relative to the working directory); paths from the
    settings are relative to ``project_dir``."""
    from baton.fixtures import load_tasks
    from baton.vendor_config import load_profiles

    project_dir = Path(project_dir).resolve()
    settings = settings or load_settings(project_dir)
    system_names = parse_names(systems, "--systems") if systems is not None else settings.systems
    vendor_names = parse_names(vendors, "--vendors") if vendors is not None else settings.vendors
    trials = trials if trials is not None else settings.trials
    check_int(trials, "trials", 1)
    seed = seed if seed is not None else settings.seed
    modes = parse_modes(modes, "--modes") if modes is not None else settings.modes
    extra = Path(vendors_file).resolve() if vendors_file is not None else None
    profiles = load_profiles(project_dir, extra)
    chosen_systems = resolve_systems(system_names, load_systems(project_dir))
    from baton.preflight import check_systems  # adapter targets import now: one error line, before any run

    if target_problems := check_systems(chosen_systems):
        raise ConfigError("\n".join(target_problems))
    vendors_used(Matrix(tasks=[], systems=chosen_systems, vendors=list(vendor_names), modes=("system",)), profiles)
    tasks_path = Path(tasks).resolve() if tasks is not None else (project_dir / settings.tasks).resolve()
    if not tasks_path.exists():
        raise ConfigError(f"tasks: {tasks_path} does not exist (a golden-set folder, domain folder, "
                          f"task file or exported .jsonl/.parquet)")
    chosen_filter = task_filter if task_filter is not None else settings.task_filter
    golden = select_tasks(load_tasks(tasks_path), chosen_filter, str(tasks_path))
    limits = resolve_vendor_limits(vendor_limits or {}, golden, vendor_names, str(tasks_path))
    matrix = Matrix(tasks=golden, systems=chosen_systems, vendors=list(vendor_names), trials=trials, seed=seed,
                    modes=modes, supports=supports, limits=limits)
    invocation = {"project_dir": str(project_dir), "tasks": str(tasks_path), "task_filter": chosen_filter,
                  "systems": list(system_names), "vendors": list(vendor_names), "trials": trials,
                  "seed": seed, "modes": list(modes), "vendors_file": str(extra) if extra else None}
    if vendor_limits:
        invocation["vendor_limits"] = {v: dict(spec) for v, spec in vendor_limits.items()}
    return RunPlan(matrix=matrix, profiles=profiles, project_dir=project_dir, invocation=invocation)
