"""What-if runs: set each hop's reliability, run a system, compare predicted with measured success.

A reliability is the probability that one decision of that hop is right:

==================== ==================================================================
``route``            the router picks the gold label (``wrong_label = 1 - route``)
``act``              a side-effecting call is made as gold says (``wrong_argument = 1 - act``)
``answer``           a reply states every fact it can see (``dropped_fact = 1 - answer``)
``verify_catch``     the verifier rejects a reply or actions that miss gold (``verify_miss = 1 - c``)
``verify_false_alarm`` the verifier rejects a good reply (rate)
==================== ==================================================================

The prediction for one task multiplies the reliabilities of the decisions a zero-error run of the
same system made on it (route decisions, side-effecting calls, and the reply when the task has
facts), with the verify loop's recovery of the reply: ``q(1-f) + q f q + (1-q) c q`` for a reply
right with probability ``q``, one revision, catch rate ``c`` and false-alarm rate ``f``. A task the
zero-error run fails (say its retriever missed the evidence) is predicted to fail. Runs use the
simulated vendor in process (:mod:`baton.sim.inprocess`): simulated numbers, labelled so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baton.errors import ConfigError
from baton.graders import grade_run
from baton.sim.inprocess import InProcessPool
from baton.sim.knobs import SimKnobs
from baton.stats import wilson_interval
from baton.systems import SystemConfig
from baton.task import GoldenTask
from baton.trace import Trace
from baton.vendors import VendorProfile

HOPS = {"route": "wrong_label", "act": "wrong_argument", "answer": "dropped_fact", "verify_catch": "verify_miss",
        "verify_false_alarm": "verify_false_alarm"}
WHATIF_VENDOR = "sim-whatif"


def parse_reliabilities(text: str, where: str = "--what-if") -> dict[str, float]:
    """``route=0.97,act=0.95,verify_catch=0.8`` -> {hop: reliability}; a clear error otherwise."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        hop, sep, value = part.partition("=")
        hop = hop.strip()
        if not sep or hop not in HOPS:
            raise ConfigError(f"{where}: expected HOP=VALUE pairs with HOP one of {', '.join(HOPS)}; got {part!r}")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{where}: {hop}: expected a number between 0 and 1, got {value!r}") from None
        if not 0 <= number <= 1 or math.isnan(number):
            raise ConfigError(f"{where}: {hop}: expected a number between 0 and 1, got {value!r}")
        out[hop] = number
    return out


def knobs_for(reliabilities: Mapping[str, float], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``[NAME.sim]`` table of a profile whose hops have ``reliabilities`` (other rates from ``base``)."""
    table = dict(base or {})
    for hop, value in reliabilities.items():
        table[HOPS[hop]] = value if hop == "verify_false_alarm" else round(1 - value, 12)
    SimKnobs.model_validate(table)
    return table


def reliabilities_of(knobs: SimKnobs) -> dict[str, float]:
    return {hop: (getattr(knobs, rate) if hop == "verify_false_alarm" else 1 - getattr(knobs, rate))
            for hop, rate in HOPS.items()}


@dataclass(frozen=True, slots=True)
class Decisions:
    """What a zero-error run of a task decided: the counts a prediction raises reliabilities to."""

    passed: bool
    routes: int
    writes: int
    reply: bool
    verified: bool

    @classmethod
    def of(cls, task: GoldenTask, trace: Trace, passed: bool) -> Decisions:
        writes = sum(1 for h in trace.hops if h.kind == "tool" and h.error is None and h.output.get("side_effect"))
        return cls(passed, sum(1 for h in trace.hops if h.kind == "route"), writes, bool(task.gold.facts),
                   any(h.kind == "verify" for h in trace.hops))

    def predict(self, r: Mapping[str, float]) -> float:
        if not self.passed:
            return 0.0
        p = r["route"] ** self.routes * r["act"] ** self.writes
        if self.reply:
            q, c, f = r["answer"], r["verify_catch"], r["verify_false_alarm"]
            p *= q * (1 - f) + q * f * q + (1 - q) * c * q if self.verified else q
        return p


@dataclass(slots=True)
class WhatIfResult:
    """Predicted and measured system success of one system at one set of reliabilities."""

    system: str
    reliabilities: dict[str, float]
    predicted: float
    successes: int
    runs: int
    per_task: dict[str, tuple[float, float]] = field(default_factory=dict)  # task -> (predicted, measured)

    @property
    def measured(self) -> float:
        return self.successes / self.runs if self.runs else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.runs)

    def as_dict(self) -> dict[str, Any]:
        low, high = self.interval
        return {"system": self.system, "reliabilities": self.reliabilities, "predicted": self.predicted,
                "measured": self.measured, "low": low, "high": high, "runs": self.runs, "simulated": True}


def _profile(table: Mapping[str, Any]) -> dict[str, VendorProfile]:
    return {WHATIF_VENDOR: VendorProfile(name=WHATIF_VENDOR, kind="sim", model=WHATIF_VENDOR, sim=dict(table))}


async def _run(tasks: Sequence[GoldenTask], system: SystemConfig, table: Mapping[str, Any], trials: int,
               seed: int, tick: Callable[[], None]) -> dict[str, tuple[int, Trace]]:
    from baton.runners import run_task

    pool = InProcessPool(_profile(table), tasks)
    out: dict[str, tuple[int, Trace]] = {}
    for task in tasks:
        wins, last = 0, None
        for trial in range(trials):
            last = await run_task(task, system, WHATIF_VENDOR, clients=pool, trial=trial, seed=seed)
            wins += grade_run(task, last).status == "passed"
            tick()
        assert last is not None
        out[task.id] = (wins, last)
    return out


async def baseline(tasks: Sequence[GoldenTask], system: SystemConfig, tick: Callable[[], None] = lambda: None
                   ) -> dict[str, Decisions]:
    """Each task's decisions in a zero-error run of ``system``."""
    runs = await _run(tasks, system, {}, 1, 0, tick)
    revises = system.params.get("max_revisions", 1) != 0
    out = {}
    for task in tasks:
        found = Decisions.of(task, runs[task.id][1], runs[task.id][0] == 1)
        out[task.id] = Decisions(found.passed, found.routes, found.writes, found.reply, found.verified and revises)
    return out


async def what_if(tasks: Sequence[GoldenTask], system: SystemConfig, table: Mapping[str, Any], *, trials: int,
                  seed: int = 0, decisions: Mapping[str, Decisions] | None = None,
                  tick: Callable[[], None] = lambda: None) -> WhatIfResult:
    """Run ``system`` on ``tasks`` with the rates of ``table``; predicted and measured success."""
    if trials < 1:
        raise ConfigError(f"--trials: expected at least 1, got {trials}")
    if not tasks:
        raise ConfigError("no tasks to run")
    decisions = decisions if decisions is not None else await baseline(tasks, system, tick)
    reliabilities = reliabilities_of(SimKnobs.model_validate(table))
    runs = await _run(tasks, system, table, trials, seed, tick)
    result = WhatIfResult(system.name, reliabilities, 0.0, 0, 0)
    for task in tasks:
        wins = runs[task.id][0]
        predicted = decisions[task.id].predict(reliabilities)
        result.per_task[task.id] = (predicted, wins / trials)
        result.successes += wins
        result.runs += trials
    result.predicted = sum(p for p, _ in result.per_task.values()) / len(tasks)
    return result


def without_verify(system: SystemConfig) -> SystemConfig:
    """``system`` with its verify loop unable to change anything (no revision rounds)."""
    return system.model_copy(update={"name": f"{system.name} (no verify)",
                                     "params": {**system.params, "max_revisions": 0}})
