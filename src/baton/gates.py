"""Quality gates: thresholds a configuration (system x vendor) must meet for CI to pass.

Gates are declared in the project's ``pyproject.toml`` and on the command line
(``--baton-gate``, see :mod:`baton.plugin_options`)::

    [[tool.baton.gates]]
    system = "multi_agent"            # required
    vendor = "sim-frontier"           # optional: every vendor the system ran on
    min_success = 0.80                # measured system success (passed / counted runs)
    min_success_lower_bound = 0.60    # lower end of its 95% Wilson interval
    max_cost_per_task = 0.01          # USD per system run (infrastructure errors included)
    max_p95_latency_s = 5.0           # end-to-end p95 of counted runs
    max_error_rate = 0.05             # infrastructure errors / system runs (default 0.5, always checked)
    max_gap = 0.10                    # coordination gap = predicted - measured success
    no_regression = true              # no task flipped (deterministic) / no significant drop (stochastic)
    alpha = 0.05                      # significance level of that test

Measurements come from the report card (:mod:`baton.reports.aggregate`), so a gate and the card
never disagree. Every gate also checks the infrastructure-error rate: with no ``max_error_rate``
of its own, :data:`DEFAULT_MAX_ERROR_RATE` applies, so a configuration whose runs mostly errored
(its success rate resting on a few counted runs) never passes a gate.

"No regression" pairs the tasks the baseline and this run share (same id, version and content
hash). On a *deterministic* configuration (every system run served by a simulated vendor or
entirely from the response cache) the same task and trial give the same outcome, so any
(task, trial) that passed in the baseline and fails now fails the gate, naming the tasks. On a
stochastic one it applies :func:`baton.stats.paired_test` through
:func:`baton.reports.diff.compare_frames` (exact McNemar with one trial per task, Wilcoxon
signed-rank on per-task success rates otherwise), and its message lists the tasks that flipped
either way. A configuration the baseline lacks is reported as not compared and does not fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from baton.errors import ConfigError

if TYPE_CHECKING:  # pandas, scipy and the reports load only when gates are evaluated
    import pandas as pd

    from baton.manifest import Manifest
    from baton.reports.aggregate import ConfigCard, ReportCard

__all__ = ["Gate", "DeclaredGate", "GateCheck", "GateVerdict", "Baseline", "BASELINE_FORMAT",
           "DEFAULT_ALPHA", "load_config_gates", "parse_gate_spec", "check_gate_names",
           "evaluate_gates", "verdicts_json", "load_baseline", "baseline_from_run", "save_baseline"]

DEFAULT_ALPHA = 0.05
DEFAULT_MAX_ERROR_RATE = 0.5
MAX_NAMED_TASKS = 10
BASELINE_FORMAT = "baton-baseline/1"
THRESHOLDS = ("min_success", "min_success_lower_bound", "max_cost_per_task", "max_p95_latency_s",
              "max_error_rate", "max_gap", "no_regression")


class Gate(BaseModel):
    """One gate: a configuration and the thresholds it must meet (any subset, at least one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str = Field(min_length=1)
    vendor: str | None = Field(default=None, min_length=1)
    min_success: float | None = Field(default=None, ge=0, le=1)
    min_success_lower_bound: float | None = Field(default=None, ge=0, le=1)
    max_cost_per_task: float | None = Field(default=None, ge=0)
    max_p95_latency_s: float | None = Field(default=None, gt=0)
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    max_gap: float | None = Field(default=None, ge=-1, le=1)
    no_regression: bool = False
    alpha: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _has_threshold(self) -> Gate:
        if not self.no_regression and all(getattr(self, name) is None for name in THRESHOLDS[:-1]):
            raise ValueError(f"a gate needs at least one of {', '.join(THRESHOLDS)}")
        return self

    @property
    def target(self) -> str:
        return f"{self.system}@{self.vendor or '*'}"


@dataclass(frozen=True, slots=True)
class DeclaredGate:
    """A gate and where it was declared (for messages)."""

    gate: Gate
    source: str


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One threshold of a gate, measured on one configuration."""

    name: str
    passed: bool
    measured: str
    threshold: str
    note: str = ""

    def line(self) -> str:
        verb = "ok" if self.passed else "FAILED"
        note = f" ({self.note})" if self.note else ""
        return f"{self.name}: {verb}: measured {self.measured}, threshold {self.threshold}{note}"


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """A gate applied to one configuration of the run (or to none, when it did not run)."""

    declared: DeclaredGate
    config: str | None
    checks: tuple[GateCheck, ...]

    @property
    def evaluated(self) -> bool:
        return self.config is not None

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[GateCheck]:
        return [check for check in self.checks if not check.passed]

    @property
    def title(self) -> str:
        where = self.config if self.config is not None else self.declared.gate.target
        return f"gate {where} ({self.declared.source})"


# --------------------------------------------------------------------------- declaring gates


def _errors(exc: ValidationError) -> str:
    from baton.problems import describe_validation

    return describe_validation(exc)


def _gate(data: Mapping[str, Any], source: str) -> DeclaredGate:
    try:
        return DeclaredGate(Gate.model_validate(dict(data)), source)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_errors(exc)}") from None


def load_config_gates(project_dir: Path) -> list[DeclaredGate]:
    """The ``[[tool.baton.gates]]`` of ``project_dir/pyproject.toml`` (none without the file)."""
    pyproject = Path(project_dir) / "pyproject.toml"
    if not pyproject.is_file():
        return []
    from baton.project import read_toml

    baton = read_toml(pyproject).get("tool", {}).get("baton", {})
    gates = baton.get("gates", []) if isinstance(baton, dict) else []
    if not isinstance(gates, list) or not all(isinstance(g, dict) for g in gates):
        raise ConfigError(f"{pyproject}: tool.baton.gates: expected an array of tables ([[tool.baton.gates]])")
    return [_gate(table, f"{pyproject.name} [[tool.baton.gates]] #{i}") for i, table in enumerate(gates, 1)]


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    try:
        return float(text)
    except ValueError:
        return text


def parse_gate_spec(spec: str, source: str) -> DeclaredGate:
    """``SYSTEM[@VENDOR]:KEY=VALUE,...`` (a bare ``no_regression`` means true), e.g.
    ``multi_agent@sim-frontier:min_success=0.8,max_p95_latency_s=3,no_regression``."""
    target, sep, body = spec.partition(":")
    system, _, vendor = target.strip().partition("@")
    if not sep or not system.strip() or not body.strip():
        raise ConfigError(f"{source}: '{spec}': expected SYSTEM[@VENDOR]:KEY=VALUE[,KEY=VALUE...], "
                          f"e.g. multi_agent@sim-frontier:min_success=0.8")
    data: dict[str, Any] = {"system": system.strip()}
    if vendor.strip():
        data["vendor"] = vendor.strip()
    for part in (p.strip() for p in body.split(",")):
        if not part:
            continue
        key, eq, raw = part.partition("=")
        key = key.strip()
        if key in data:
            raise ConfigError(f"{source}: '{spec}': {key} given twice")
        data[key] = _value(raw.strip()) if eq else True
    return _gate(data, f"{source} '{spec}'")


def check_gate_names(gates: Iterable[DeclaredGate], systems: Iterable[str], vendors: Iterable[str]) -> None:
    """A :class:`ConfigError` for a gate naming a system or vendor profile that does not exist."""
    systems, vendors = set(systems), set(vendors)
    for declared in gates:
        gate = declared.gate
        if gate.system not in systems:
            raise ConfigError(f"{declared.source}: system: unknown system '{gate.system}'; known systems: "
                              f"{', '.join(sorted(systems))}")
        if gate.vendor is not None and gate.vendor not in vendors:
            raise ConfigError(f"{declared.source}: vendor: unknown vendor profile '{gate.vendor}'; known "
                              f"profiles: {', '.join(sorted(vendors))}")


# --------------------------------------------------------------------------- baselines


class _Outcome(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: str
    task_id: str
    trial: int
    simulated: bool
    success: bool


class _BaselineFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str
    source: str
    run_key: str | None = None
    fixture_set_hash: str | None = None
    task_hashes: dict[str, str] | None = None
    outcomes: list[_Outcome]


@dataclass(frozen=True)
class Baseline:
    """Per-run outcomes to compare against, and the content hashes of the tasks they ran."""

    source: Path
    outcomes: pd.DataFrame
    task_hashes: Mapping[str, str] | None

    def frame_for(self, config: str) -> pd.DataFrame:
        return self.outcomes[self.outcomes["config"] == config]


def _task_hashes(manifest: Manifest | None) -> dict[str, str] | None:
    if manifest is None:
        return None
    return {t.id: f"v{t.version}:{t.hash}" for t in manifest.config.tasks}


def baseline_from_run(run_dir: Path) -> Baseline:
    """A baseline read from a run directory."""
    from baton.reports.diff import outcome_frame
    from baton.reports.rundir import check_run_dir, optional_manifest
    from baton.store import iter_results

    run_dir = check_run_dir(Path(run_dir))
    return Baseline(run_dir, outcome_frame(iter_results(run_dir)), _task_hashes(optional_manifest(run_dir)))


def load_baseline(path: Path) -> Baseline:
    """A run directory, or a baseline file written by :func:`save_baseline`."""
    path = Path(path)
    if path.is_dir():
        return baseline_from_run(path)
    try:
        data = _BaselineFile.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: baseline not found (expected a run directory or a baseline file)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the baseline: {exc.strerror}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: not a Baton baseline file: {_errors(exc)}") from None
    if data.format != BASELINE_FORMAT:
        raise ConfigError(f"{path}: format: expected '{BASELINE_FORMAT}', got '{data.format}'")
    import pandas as pd

    frame = pd.DataFrame([o.model_dump() for o in data.outcomes],
                         columns=["config", "task_id", "trial", "simulated", "success"])
    return Baseline(path, frame, data.task_hashes)


def save_baseline(run_dir: Path, path: Path) -> Path:
    """Write a compact baseline (per-run outcomes + task hashes, no traces) of a run directory."""
    from baton.reports.diff import outcome_frame
    from baton.reports.rundir import check_run_dir, optional_manifest
    from baton.store import iter_results

    run_dir = check_run_dir(Path(run_dir))
    manifest = optional_manifest(run_dir)
    frame = outcome_frame(iter_results(run_dir))
    data = _BaselineFile(format=BASELINE_FORMAT, source=str(run_dir),
                         run_key=manifest.run_key if manifest else None,
                         fixture_set_hash=manifest.config.fixture_set_hash if manifest else None,
                         task_hashes=_task_hashes(manifest),
                         outcomes=[_Outcome(**row) for row in frame.to_dict("records")])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data.model_dump_json(indent=1) + "\n", encoding="utf-8")
    return path


def _shared_tasks(baseline: Baseline, candidate_hashes: Mapping[str, str] | None,
                  base: pd.DataFrame, cand: pd.DataFrame) -> set[str]:
    """Tasks both ran, with equal id, version and content where both runs record them."""
    shared = set(base["task_id"]) & set(cand["task_id"])
    if baseline.task_hashes is not None and candidate_hashes is not None:
        shared = {t for t in shared if baseline.task_hashes.get(t) == candidate_hashes.get(t)}
    return shared


# --------------------------------------------------------------------------- evaluation


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _cache_note(runs: pd.DataFrame, label: str) -> str:
    """A warning when cached calls (free and instant) make cost and latency look better."""
    if runs.empty:
        return ""
    mine = runs[(runs["config"] == label) & (runs["mode"] == "system")]
    calls, cached = int(mine["calls"].sum()), int(mine["cached_calls"].sum())
    if not cached:
        return ""
    return f"{cached} of {calls} calls came from the response cache at no cost or latency; use --baton-no-cache"


def _check_config(gate: Gate, card: ConfigCard, *, default_alpha: float, baseline: Baseline | None,
                  outcomes: pd.DataFrame | None, candidate_hashes: Mapping[str, str] | None,
                  cache_note: str, deterministic: bool = False) -> list[GateCheck]:
    checks: list[GateCheck] = []
    counted = f"{card.successes}/{card.counted} counted runs"
    if gate.min_success is not None:
        rate = card.rate
        checks.append(GateCheck("min_success", rate is not None and rate >= gate.min_success,
                                _pct(rate) if rate is not None else "no counted runs",
                                f">= {_pct(gate.min_success)}", counted))
    if gate.min_success_lower_bound is not None:
        low = card.ci_low if card.counted else None
        checks.append(GateCheck("min_success_lower_bound", low is not None and low >= gate.min_success_lower_bound,
                                _pct(low) if low is not None else "no counted runs",
                                f">= {_pct(gate.min_success_lower_bound)}",
                                f"95% Wilson interval [{_pct(card.ci_low)}, {_pct(card.ci_high)}], {counted}"))
    if gate.max_cost_per_task is not None:
        cost = card.cost_per_task
        checks.append(GateCheck("max_cost_per_task", cost is not None and cost <= gate.max_cost_per_task,
                                f"${cost:.6f}" if cost is not None else "no runs",
                                f"<= ${gate.max_cost_per_task:.6f}",
                                "; ".join(filter(None, [f"{card.runs} runs", cache_note]))))
    if gate.max_p95_latency_s is not None:
        p95 = card.latency.p95 if card.latency is not None else None
        checks.append(GateCheck("max_p95_latency_s", p95 is not None and p95 <= gate.max_p95_latency_s,
                                f"{p95:.3f} s" if p95 is not None else "no counted runs",
                                f"<= {gate.max_p95_latency_s:.3f} s", cache_note))
    error_limit = gate.max_error_rate if gate.max_error_rate is not None else DEFAULT_MAX_ERROR_RATE
    rate = card.infra_errors / card.runs if card.runs else None
    default_note = "" if gate.max_error_rate is not None else "; default limit, set max_error_rate to change it"
    checks.append(GateCheck("max_error_rate", rate is not None and rate <= error_limit,
                            _pct(rate) if rate is not None else "no runs", f"<= {_pct(error_limit)}",
                            f"{card.infra_errors}/{card.runs} runs were infrastructure errors{default_note}"))
    if gate.max_gap is not None:
        gap = card.gap
        rel = card.reliability
        interval = (f"95% interval [{rel.gap_low * 100:+.1f}, {rel.gap_high * 100:+.1f}] pts; "
                    if rel.gap_low is not None and rel.gap_high is not None else "")
        checks.append(GateCheck(
            "max_gap", gap is not None and gap <= gap_limit(gate.max_gap),
            f"{gap * 100:+.1f} pts" if gap is not None else "no predicted success (no hop reliability)",
            f"<= {gate.max_gap * 100:+.1f} pts",
            f"{interval}predicted {_pct(card.predicted) if card.predicted is not None else '-'} - measured "
            f"{_pct(card.rate) if card.rate is not None else '-'}"))
    if gate.no_regression:
        checks.append(_regression_check(card.label, gate.alpha or default_alpha, baseline, outcomes,
                                        candidate_hashes, deterministic))
    return checks


def gap_limit(value: float) -> float:
    """The max_gap threshold, with a tolerance for float rounding."""
    return value + 1e-12


def _deterministic(runs: pd.DataFrame, label: str) -> bool:
    """Every counted system run was served by a simulated vendor or wholly from the cache."""
    if runs.empty:
        return False
    mine = runs[(runs["config"] == label) & (runs["mode"] == "system") & ~runs["infra_error"]]
    if mine.empty:
        return False
    cached = (mine["calls"] > 0) & (mine["cached_calls"] >= mine["calls"])
    return bool((mine["simulated"].astype(bool) | cached).all())


def _named(tasks: list[str]) -> str:
    shown = ", ".join(tasks[:MAX_NAMED_TASKS])
    return shown + (f" and {len(tasks) - MAX_NAMED_TASKS} more" if len(tasks) > MAX_NAMED_TASKS else "")


def _flips(base: pd.DataFrame, cand: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(task[#trial]s that passed in the baseline and fail now, those that failed and pass now),
    pairing runs by task and trial."""
    merged = base.merge(cand, on=["task_id", "trial"], suffixes=("_base", "_cand"))
    several = merged.groupby("task_id")["trial"].nunique().max() > 1 if not merged.empty else False

    def names(frame: pd.DataFrame) -> list[str]:
        return [f"{t}#{int(k)}" if several else str(t)
                for t, k in sorted(zip(frame["task_id"], frame["trial"], strict=True))]

    worse = merged[merged["success_base"].astype(bool) & ~merged["success_cand"].astype(bool)]
    better = merged[~merged["success_base"].astype(bool) & merged["success_cand"].astype(bool)]
    return names(worse), names(better)


def _regression_check(label: str, alpha: float, baseline: Baseline | None, outcomes: pd.DataFrame | None,
                      candidate_hashes: Mapping[str, str] | None, deterministic: bool = False) -> GateCheck:
    from baton.reports.diff import WORSE, compare_frames

    if baseline is None or outcomes is None:
        return GateCheck("no_regression", False, "no baseline", "a baseline (--baton-baseline)")
    base = baseline.frame_for(label)
    cand = outcomes[outcomes["config"] == label]
    shared = _shared_tasks(baseline, candidate_hashes, base, cand)
    threshold = f"p >= {alpha:g} or not worse"
    if base.empty or not shared:
        why = "the baseline has no runs of it" if base.empty else "no unchanged task in common"
        return GateCheck("no_regression", True, "not compared", threshold, f"{why}; baseline {baseline.source}")
    base, cand = base[base["task_id"].isin(shared)], cand[cand["task_id"].isin(shared)]
    worse, better = _flips(base, cand)
    flipped = "; ".join(filter(None, [f"passed in the baseline, fail now: {_named(worse)}" if worse else "",
                                      f"failed in the baseline, pass now: {_named(better)}" if better else ""]))
    if deterministic:
        measured = (f"{len(worse)} of {len(shared)} shared tasks flipped from pass to fail"
                    f"{f' ({_named(worse)})' if worse else ''}")
        return GateCheck("no_regression", not worse, measured, "no task that passed in the baseline fails now",
                         "deterministic configuration (simulated or cached): every flip counts"
                         + (f"; {flipped}" if better else ""))
    diff = compare_frames(base, cand, baseline=baseline.source, candidate=Path("."), alpha=alpha)
    change = next(c for c in diff.configs if c.config == label)
    measured = (f"{_pct(change.candidate or 0.0)} vs baseline {_pct(change.baseline or 0.0)} on "
                f"{change.paired_n} shared tasks")
    if change.p_value is not None:
        measured += f", p = {change.p_value:.4f} ({change.method})"
    note = "; ".join(filter(None, ["significant drop" if change.flag == WORSE else "", flipped]))
    return GateCheck("no_regression", change.flag != WORSE, measured, threshold, note)


def evaluate_gates(gates: Sequence[DeclaredGate], card: ReportCard, *, outcomes: pd.DataFrame | None = None,
                   baseline: Baseline | None = None, default_alpha: float = DEFAULT_ALPHA) -> list[GateVerdict]:
    """Apply each gate to every configuration of ``card`` it names.

    ``outcomes`` is :func:`baton.reports.diff.outcome_frame` of the same run (needed with a baseline).
    A gate naming a configuration that did not run gives one verdict with ``config`` None."""
    candidate_hashes = _task_hashes(card.manifest)
    verdicts: list[GateVerdict] = []
    for declared in gates:
        gate = declared.gate
        matching = [c for c in card.configs
                    if c.system == gate.system and (gate.vendor is None or c.vendor == gate.vendor)]
        if not matching:
            verdicts.append(GateVerdict(declared, None, ()))
            continue
        for config in matching:
            checks = _check_config(gate, config, default_alpha=default_alpha, baseline=baseline,
                                   outcomes=outcomes, candidate_hashes=candidate_hashes,
                                   cache_note=_cache_note(card.runs, config.label),
                                   deterministic=_deterministic(card.runs, config.label))
            verdicts.append(GateVerdict(declared, config.label, tuple(checks)))
    return verdicts


def verdicts_json(verdicts: Iterable[GateVerdict]) -> str:
    """Gate verdicts as JSON (``gates.json`` in the run directory)."""
    rows = [{"gate": v.declared.gate.model_dump(exclude_none=True), "source": v.declared.source,
             "configuration": v.config, "evaluated": v.evaluated, "passed": v.passed,
             "checks": [{"name": c.name, "passed": c.passed, "measured": c.measured,
                         "threshold": c.threshold, "note": c.note} for c in v.checks]}
            for v in verdicts]
    return json.dumps(rows, indent=2) + "\n"

