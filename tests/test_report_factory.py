"""Synthetic RunResults for the report and diff tests (loaded by path from the other test modules,
since tests are not a package).

``make_result`` builds one run; ``synthetic_results`` a whole matrix: three vendors (two of them
simulated), three systems, several tasks and trials, isolated runs, infrastructure errors and
failures starting at different hops.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from baton.manifest import Environment, Manifest, RunConfig, TaskRef, write_manifest
from baton.result import Check, ComponentScore, HopReliability, RunGrade, RunKey, RunResult
from baton.systems import SystemConfig
from baton.trace import Hop, Trace, Usage
from baton.vendors import VendorProfile

VENDORS = {"sim-frontier": True, "sim-small": True, "acme-large": False}
SYSTEMS = ("naive", "rag", "multi_agent")
TASKS = ("billing/refund-4471", "billing/invoice-copy", "billing/ask-missing-id", "shop/return-late")
TRIALS = 3

HOP_PLANS: dict[str, list[tuple[str, str]]] = {
    "naive": [("generate", "answer")],
    "rag": [("retrieve", "retrieve"), ("generate", "answer")],
    "multi_agent": [("route", "route"), ("retrieve", "retrieve"), ("generate", "draft"),
                    ("tool", "get_invoice"), ("tool", "refund_invoice"), ("verify", "verify")],
}
COMPONENTS = {"naive": ["answer"], "rag": ["retrieval", "answer"],
              "multi_agent": ["route", "retrieval", "tool", "answer", "verifier"]}
COMPONENT_HOP = {"route": "route", "retrieval": "retrieve", "tool": "act", "answer": "draft", "verifier": "verify"}
HOP_TO_COMPONENT = {"route": "route", "retrieve": "retrieval", "generate": "answer", "tool": "tool",
                    "verify": "verifier"}


def make_result(task_id: str, system: str, vendor: str, *, trial: int = 0, mode: str = "system",
                status: str = "passed", first_hop: str | None = None, category: str | None = None,
                components: dict[str, float | None] | None = None, answer: str = "Refunded $49.",
                simulated: bool | None = None, cost: float = 0.002, latency: float = 1.5,
                hop_output: Any = None, architecture: str | None = None,
                reliability: dict[str, bool | None] | None = None, choices: dict[str, str] | None = None,
                extra_metrics: dict[str, dict[str, float]] | None = None) -> RunResult:
    """One run. ``components`` maps component -> score (None: no score); default from the plan.
    ``reliability`` maps hop -> did it do its job (None: not applicable); default: each
    component's hop, right when its score is >= 0.5."""
    architecture = architecture or (system if system in HOP_PLANS else "naive")
    simulated = VENDORS.get(vendor, False) if simulated is None else simulated
    plan = HOP_PLANS[architecture]
    hops = []
    for i, (kind, name) in enumerate(plan):
        failing = status == "failed" and kind == first_hop
        output: dict[str, Any] = {"text": answer} if kind == "generate" else {"step": name}
        if hop_output is not None:
            output["payload"] = hop_output
        hops.append(Hop(kind=kind, name=name, vendor=vendor, model=f"{vendor}-model",
                        input={"messages": [{"role": "user", "content": f"request for {task_id}"}]},
                        output=output, latency_s=latency / len(plan) * (1 + 0.1 * i),
                        usage=Usage(input_tokens=100, output_tokens=20, cost_usd=cost / len(plan), calls=1),
                        error="wrong arguments" if failing and kind == "tool" else None,
                        isolated=mode != "system" and i == 0))
    infra = "vendor returned 503 after 3 retries" if status == "error" else None
    if status == "error":
        hops[-1] = hops[-1].model_copy(update={"error": infra, "infra_error": True})
    if components is None:
        components = {c: 1.0 for c in COMPONENTS[architecture]}
        if status == "failed" and first_hop in HOP_TO_COMPONENT:
            components[HOP_TO_COMPONENT[first_hop]] = 0.0
    scores = {c: ComponentScore(component=c, score=v, passed=None if v is None else v >= 0.5,
                                metrics={**_metrics(c, v), **(extra_metrics or {}).get(c, {})})
              for c, v in components.items()}
    if reliability is None:
        reliability = {COMPONENT_HOP[c]: None if v is None else v >= 0.5 for c, v in components.items()}
    verdicts = {h: HopReliability(hop=h, ok=ok) for h, ok in reliability.items()}
    checks = [Check(name="state", passed=status != "failed" or first_hop != "tool", detail="invoice 4471"),
              Check(name="facts", passed=status != "failed", detail="missing: refund_reference")]
    grade = RunGrade(status=status, checks=checks if status != "error" else [], components=scores,
                     hops=verdicts if status != "error" else {}, choices=choices or {},
                     failure_category=category if status == "failed" else None,
                     first_divergent_hop=first_hop if status == "failed" else None)
    usage = Usage(input_tokens=100 * len(plan), output_tokens=20 * len(plan), cost_usd=cost, calls=len(plan))
    trace = Trace(task_id=task_id, task_version=1, system=f"{system}@{vendor}", architecture=architecture,
                  vendors={"answerer": vendor}, simulated=simulated, trial=trial, seed=trial, mode=mode,
                  hops=hops, answer=answer, final_state={"invoices": {"4471": {"status": "paid"}}},
                  infra_error=infra, latency_s=latency, usage=usage)
    return RunResult(key=RunKey(task_id=task_id, task_version=1, system=system, vendor=vendor,
                                trial=trial, mode=mode),
                     seed=trial, status=status, simulated=simulated, grade=grade, trace=trace,
                     usage=usage, latency_s=latency, finished_at="2026-11-24T07:00:00Z")


def _metrics(component: str, value: float | None) -> dict[str, float | None]:
    if value is None:
        return {}
    if component == "retrieval":
        return {"recall": value, "mrr": value / 2}
    if component == "verifier":
        return {"catch_rate": value, "false_alarm_rate": 1 - value}
    return {}


def synthetic_results(*, payload: str | None = None, seed: int = 7) -> list[RunResult]:
    """A full matrix with a deterministic mix of passes, failures, errors and isolated runs.

    ``payload`` is put into every failed run's answer and hop outputs (hostile model output).
    """
    rng = random.Random(seed)
    skill = {"sim-frontier": 0.85, "sim-small": 0.55, "acme-large": 0.7}
    results = []
    for vendor in VENDORS:
        for system in SYSTEMS:
            plan = HOP_PLANS[system]
            for task_id in TASKS:
                for trial in range(TRIALS):
                    roll = rng.random()
                    if roll < 0.05:
                        status, hop, category = "error", None, None
                    elif roll < 0.05 + skill[vendor] * (1.0 - 0.1 * len(plan) / 6):
                        status, hop, category = "passed", None, None
                    else:
                        status = "failed"
                        hop = plan[rng.randrange(len(plan))][0]
                        category = rng.choice(["wrong_state", "missing_facts", "forbidden_action",
                                               "claimed_unperformed"])
                    answer = "Refunded $49, reference RF-4471-2." if status == "passed" else (
                        payload or "I could not find that invoice.")
                    results.append(make_result(task_id, system, vendor, trial=trial, status=status,
                                               first_hop=hop, category=category, answer=answer,
                                               cost=0.001 * len(plan), latency=0.5 * len(plan) + rng.random(),
                                               hop_output=payload if status == "failed" else None))
            if system == "multi_agent":
                for task_id in TASKS:
                    for hop_name, component in (("route", "route"), ("act", "tool")):
                        results.append(make_result(task_id, system, vendor, mode=f"isolated:{hop_name}",
                                                   components={component: 1.0}))
    return results


def make_manifest(results: list[RunResult], *, fixture_hash: str = "f" * 64) -> Manifest:
    """A valid manifest for ``results`` (tasks, systems and vendors as they appear in them)."""
    tasks = sorted({(r.key.task_id, r.key.task_version) for r in results})
    vendors = sorted({(r.key.vendor, r.simulated) for r in results})
    config = RunConfig(
        tasks=[TaskRef(id=t, version=v, hash="0" * 64) for t, v in tasks], fixture_set_hash=fixture_hash,
        systems=[SystemConfig(name=s, architecture=s if s in HOP_PLANS else "naive")
                 for s in sorted({r.key.system for r in results})],
        vendors=[VendorProfile(name=n, kind="sim" if sim else "openai", model=f"{n}-model")
                 for n, sim in vendors],
        trials=max((r.key.trial for r in results), default=0) + 1, seed=0,
        modes=sorted({r.key.mode for r in results}))
    return Manifest(run_key=config.key(), created_at="2026-11-24T07:00:00+00:00", total_runs=len(results),
                    config=config, environment=Environment(baton_version="0.1.0", python="3.11",
                                                           implementation="cpython", platform="linux"))


def write_run(run_dir: Path, results: Iterable[RunResult], *, fixture_hash: str = "f" * 64) -> Path:
    """A run directory: manifest.json and results.jsonl."""
    results = list(results)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(run_dir, make_manifest(results, fixture_hash=fixture_hash))
    with (run_dir / "results.jsonl").open("w", encoding="utf-8") as handle:
        for result in results:
            handle.write(result.model_dump_json() + "\n")
    return run_dir


def test_synthetic_matrix_covers_the_cases_the_reports_need() -> None:
    results = synthetic_results()
    statuses = {r.status for r in results}
    assert statuses == {"passed", "failed", "error"}
    assert {r.key.vendor for r in results} == set(VENDORS)
    assert {r.key.mode for r in results} == {"system", "isolated:route", "isolated:act"}
    assert len({r.grade.first_divergent_hop for r in results if r.status == "failed"}) >= 3
    assert any(r.simulated for r in results) and not all(r.simulated for r in results)
