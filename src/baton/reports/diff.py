"""Comparing two runs: what got better or worse, per configuration and per task.

Only ``system``-mode runs count, and infrastructure errors are left out, as in the report card.

* Per configuration (vendor x system): the per-task success rates of both runs on the tasks both
  ran, compared with :func:`baton.stats.paired_test` (exact McNemar when every task has one
  trial, Wilcoxon signed-rank on per-task rates otherwise).
* Per task: the outcomes of the trials both runs have (paired by trial number, same seeds),
  compared with the same test.

A change is "better" or "worse" when the test's two-sided p-value is below ``alpha``, else
"no significant change". Configurations or tasks present in one run only are "added"/"removed".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from baton.errors import BatonError
from baton.manifest import Manifest
from baton.reports.flatten import SYSTEM_MODE, config_label
from baton.reports.rundir import check_run_dir, optional_manifest
from baton.result import RunResult
from baton.stats import paired_test
from baton.store import iter_results

Flag = Literal["better", "worse", "no significant change", "added", "removed"]
BETTER: Flag = "better"
WORSE: Flag = "worse"
SAME: Flag = "no significant change"


@dataclass(frozen=True, slots=True)
class Change:
    """Success of one configuration (``task_id`` None) or one task on it, baseline vs candidate."""

    config: str
    task_id: str | None
    simulated: bool
    baseline: float | None
    candidate: float | None
    baseline_n: int
    candidate_n: int
    paired_n: int
    p_value: float | None
    method: str | None
    flag: Flag

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate - self.baseline


@dataclass(frozen=True, slots=True)
class RunDiff:
    baseline: Path
    candidate: Path
    alpha: float
    configs: list[Change]
    tasks: list[Change]
    fixtures_differ: bool

    @property
    def regressions(self) -> list[Change]:
        """Configurations whose success dropped significantly."""
        return [c for c in self.configs if c.flag == WORSE]

    @property
    def improvements(self) -> list[Change]:
        return [c for c in self.configs if c.flag == BETTER]

    def changed_tasks(self) -> list[Change]:
        """Tasks whose success moved (or that one run lacks): significant first, then by size."""
        moved = [t for t in self.tasks if t.delta is None or t.delta != 0]
        return sorted(moved, key=lambda t: (t.flag not in (BETTER, WORSE), -abs(t.delta or 1.0),
                                            t.config, t.task_id or ""))


def outcome_frame(results: Iterable[RunResult]) -> pd.DataFrame:
    """One row per counted system run: configuration, task, trial, success."""
    rows = [{"config": config_label(r.key.system, r.key.vendor), "task_id": r.key.task_id,
             "trial": r.key.trial, "simulated": r.simulated, "success": r.status == "passed"}
            for r in results if r.key.mode == SYSTEM_MODE and r.status != "error"]
    return pd.DataFrame(rows, columns=["config", "task_id", "trial", "simulated", "success"])


def _fixture_hash(manifest: Manifest | None) -> str | None:
    return manifest.config.fixture_set_hash if manifest is not None else None


def diff_runs(baseline: Path, candidate: Path, *, alpha: float = 0.05,
              allow_different_fixtures: bool = False) -> RunDiff:
    """Compare two run directories. Refuses runs on different fixture sets unless allowed."""
    if not 0.0 < alpha < 1.0:
        raise BatonError(f"--alpha: expected a number strictly between 0 and 1, got {alpha}")
    base_dir, cand_dir = check_run_dir(Path(baseline)), check_run_dir(Path(candidate))
    base_hash = _fixture_hash(optional_manifest(base_dir))
    cand_hash = _fixture_hash(optional_manifest(cand_dir))
    differ = base_hash != cand_hash or base_hash is None
    if differ and not allow_different_fixtures:
        if base_hash is None or cand_hash is None:
            missing = base_dir if base_hash is None else cand_dir
            raise BatonError(f"{missing}: no manifest.json, so its fixture set is unknown; "
                             "pass --allow-different-fixtures to compare anyway")
        raise BatonError(f"the runs used different fixture sets (baseline {base_hash[:12]}, candidate "
                         f"{cand_hash[:12]}): their tasks or expectations differ, so success rates are "
                         "not comparable; pass --allow-different-fixtures to compare anyway")
    return compare_frames(outcome_frame(iter_results(base_dir)), outcome_frame(iter_results(cand_dir)),
                          baseline=base_dir, candidate=cand_dir, alpha=alpha, fixtures_differ=differ)


def compare_frames(base: pd.DataFrame, cand: pd.DataFrame, *, baseline: Path, candidate: Path,
                   alpha: float, fixtures_differ: bool = False) -> RunDiff:
    configs: list[Change] = []
    tasks: list[Change] = []
    for label in sorted(set(base["config"]) | set(cand["config"])):
        b, c = base[base["config"] == label], cand[cand["config"] == label]
        simulated = bool(b["simulated"].any() or c["simulated"].any())
        configs.append(_config_change(label, simulated, b, c, alpha))
        for task_id in sorted(set(b["task_id"]) | set(c["task_id"])):
            tasks.append(_task_change(label, simulated, task_id, b[b["task_id"] == task_id],
                                      c[c["task_id"] == task_id], alpha))
    return RunDiff(Path(baseline), Path(candidate), alpha, configs, tasks, fixtures_differ)


def _rate(frame: pd.DataFrame) -> float | None:
    return float(frame["success"].mean()) if len(frame) else None


def _flag(p_value: float, direction: str, alpha: float) -> Flag:
    if p_value < alpha and direction in (BETTER, WORSE):
        return BETTER if direction == BETTER else WORSE
    return SAME


def _presence(b: pd.DataFrame, c: pd.DataFrame) -> Flag | None:
    if b.empty and not c.empty:
        return "added"
    if c.empty and not b.empty:
        return "removed"
    return None


def _config_change(label: str, simulated: bool, b: pd.DataFrame, c: pd.DataFrame, alpha: float) -> Change:
    presence = _presence(b, c)
    base_rates = b.groupby("task_id")["success"].mean()
    cand_rates = c.groupby("task_id")["success"].mean()
    common = sorted(set(base_rates.index) & set(cand_rates.index))
    p_value = method = None
    flag: Flag = presence or SAME
    if presence is None and common:
        test = paired_test([float(base_rates[t]) for t in common], [float(cand_rates[t]) for t in common])
        p_value, method = test.p_value, test.method
        flag = _flag(test.p_value, test.direction, alpha)
    return Change(label, None, simulated, _rate(b), _rate(c), len(b), len(c), len(common), p_value,
                  method, flag)


def _task_change(label: str, simulated: bool, task_id: str, b: pd.DataFrame, c: pd.DataFrame,
                 alpha: float) -> Change:
    presence = _presence(b, c)
    paired = b[["trial", "success"]].merge(c[["trial", "success"]], on="trial", suffixes=("_b", "_c"))
    p_value = method = None
    flag: Flag = presence or SAME
    if presence is None and len(paired):
        test = paired_test([float(v) for v in paired["success_b"]], [float(v) for v in paired["success_c"]])
        p_value, method = test.p_value, test.method
        flag = _flag(test.p_value, test.direction, alpha)
    return Change(label, task_id, simulated, _rate(b), _rate(c), len(b), len(c), len(paired), p_value,
                  method, flag)
