"""Which hop to fix first, by simulation: rerun a configuration with one hop's mistakes removed.

The card's "fix this first" (:mod:`baton.reports.reliability`) estimates each hop's gain from the
measured runs alone (success among the runs where that hop was right). Where the vendor is
simulated, the simulator can answer the question directly: run the same system on the same tasks,
trials and seeds in process (:mod:`baton.sim.inprocess`), once at the profile's rates and once
per hop with that hop's mistake rates set to zero, and compare. Each hop's rates:

=========== ==========================================================================
``route``   ``wrong_label``
``act``     ``wrong_argument``, ``missing_argument``, ``skipped_call``, ``extra_call``
``draft``   ``dropped_fact``, ``invented_fact``, ``stale_claim``
``verify``  ``verify_miss``, ``verify_false_alarm``
=========== ==========================================================================

``retrieve`` has no model in Baton's simulator (the retriever is real code), so it gets no
simulated estimate; ``malformed_json`` belongs to no one hop and stays at the profile's rate;
transport faults (429, 500, timeouts) are left out as in every what-if run. Only
configurations whose every role is played by the cell's simulated vendor can be rerun.

The result is stored next to the run as ``whatif_fix_first.json`` and shown on the card beside
the measured estimate, labelled *simulated*.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from baton.errors import ConfigError
from baton.sim.knobs import SimKnobs
from baton.systems import SystemConfig
from baton.task import GoldenTask
from baton.vendors import VendorProfile

FILE_NAME = "whatif_fix_first.json"
FORMAT = "baton-whatif-fix-first/1"
HOP_RATES: dict[str, tuple[str, ...]] = {
    "route": ("wrong_label",),
    "act": ("wrong_argument", "missing_argument", "skipped_call", "extra_call"),
    "draft": ("dropped_fact", "invented_fact", "stale_claim"),
    "verify": ("verify_miss", "verify_false_alarm"),
}
FAULTS = ("rate_429", "rate_500", "rate_timeout")
PURPOSE_HOPS = {"intent_route": "route", "act": "act", "draft": "draft", "verify": "verify"}


@dataclass(frozen=True, slots=True)
class SimulatedGain:
    """System success with one hop's mistakes removed, against the same runs at the profile's rates."""

    hop: str
    success_if_perfect: float
    gain: float


@dataclass(slots=True)
class SimulatedFixFirst:
    """One configuration's simulated "fix this first": hops ranked by gain (largest first)."""

    config: str
    system: str
    vendor: str
    runs: int
    baseline: float
    gains: list[SimulatedGain] = field(default_factory=list)
    simulated: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimulatedFixFirst:
        gains = [SimulatedGain(**g) for g in data.get("gains", [])]
        return cls(config=data["config"], system=data["system"], vendor=data["vendor"], runs=int(data["runs"]),
                   baseline=float(data["baseline"]), gains=gains, simulated=True)


def hop_tables(table: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per hop that has a nonzero mistake rate in ``table``: ``table`` with that hop's rates at 0."""
    kept = {k: v for k, v in table.items() if k not in FAULTS}
    knobs = SimKnobs.model_validate(kept)
    return {hop: {**kept, **{rate: 0.0 for rate in rates}}
            for hop, rates in HOP_RATES.items() if any(getattr(knobs, rate) for rate in rates)}


def can_rerun(system: SystemConfig, vendor: str) -> bool:
    """Whether every role of ``system`` in a ``vendor`` cell is played by that vendor."""
    return all(v == vendor for v in system.roles.values())


async def _success(tasks: Sequence[GoldenTask], system: SystemConfig, profile: VendorProfile,
                   table: Mapping[str, Any], trials: int, seed: int, tick: Callable[[], None]
                   ) -> tuple[int, set[str]]:
    """(passed runs, the card hops the system's runs had)."""
    from baton.graders import grade_run
    from baton.graders.purposes import hop_purpose
    from baton.runners import run_task
    from baton.sim.inprocess import InProcessPool

    variant = profile.model_copy(update={"sim": {k: v for k, v in table.items() if k not in FAULTS}})
    pool = InProcessPool({profile.name: variant}, tasks)
    wins, hops = 0, set()
    for task in tasks:
        for trial in range(trials):
            trace = await run_task(task, system, profile.name, clients=pool, trial=trial, seed=seed)
            wins += grade_run(task, trace).status == "passed"
            hops |= {PURPOSE_HOPS[p] for p in map(hop_purpose, trace.hops) if p in PURPOSE_HOPS}
            tick()
    return wins, hops


async def simulate_fix_first(tasks: Sequence[GoldenTask], system: SystemConfig, profile: VendorProfile, *,
                             trials: int = 1, seed: int = 0, tick: Callable[[], None] = lambda: None
                             ) -> SimulatedFixFirst:
    """Rerun ``system`` on ``tasks`` at ``profile``'s rates and with each of its hops perfect in
    turn (hops it has, judged by its runs' hop purposes, whose mistake rates are not already 0)."""
    if profile.kind != "sim":
        raise ConfigError(f"vendor {profile.name!r}: a simulated fix-first needs a simulated profile "
                          f"(kind = \"sim\"), got kind '{profile.kind}'")
    if not can_rerun(system, profile.name):
        raise ConfigError(f"system {system.name!r}: its roles {system.roles} use vendors other than "
                          f"{profile.name!r}; a simulated rerun needs every role on the simulated vendor")
    if trials < 1 or not tasks:
        raise ConfigError("a simulated fix-first needs at least one task and one trial")
    table = dict(profile.sim or {})
    runs = len(tasks) * trials
    wins, present = await _success(tasks, system, profile, table, trials, seed, tick)
    result = SimulatedFixFirst(f"{system.name} @ {profile.name}", system.name, profile.name, runs, wins / runs)
    for hop, perfect in hop_tables(table).items():
        if hop not in present:
            continue  # the system has no such hop: nothing to make perfect
        hop_wins, _ = await _success(tasks, system, profile, perfect, trials, seed, tick)
        result.gains.append(SimulatedGain(hop, hop_wins / runs, (hop_wins - wins) / runs))
    result.gains.sort(key=lambda g: (-g.gain, list(HOP_RATES).index(g.hop)))
    return result


def write_simulated(run_dir: Path, results: Iterable[SimulatedFixFirst]) -> Path:
    """Store ``results`` in the run directory (replacing those of the same configurations)."""
    stored = read_simulated(run_dir)
    stored.update({r.config: r for r in results})
    path = Path(run_dir) / FILE_NAME
    payload = {"format": FORMAT, "simulated": True, "configs": [r.as_dict() for r in stored.values()]}
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def read_simulated(run_dir: Path) -> dict[str, SimulatedFixFirst]:
    """The stored simulated fix-first of a run directory, by configuration label; {} without one."""
    path = Path(run_dir) / FILE_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"expected format {FORMAT!r}, got {data.get('format')!r}")
        return {c["config"]: SimulatedFixFirst.from_dict(c) for c in data["configs"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a simulated fix-first file ({exc}); delete it or rerun "
                          "`baton whatif fix-first`") from None
