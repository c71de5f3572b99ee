"""``baton load``: Poisson arrivals, CPU attribution, saturation, the page, and the command end to end
against the simulated vendor (in its own process, over loopback HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from baton.cli import main
from baton.load.cpu import RunCpu
from baton.load.driver import attribute_cpu, poisson_offsets
from baton.load.page import render_page
from baton.load.stats import HopStats, Percentiles, StepStats, keep_up_ratio, percentiles, saturation
from baton.trace import Hop, Trace

REPO = Path(__file__).resolve().parent.parent


def test_poisson_arrivals_have_the_offered_rate_and_exponential_gaps() -> None:
    offsets = poisson_offsets(50.0, 200.0, np.random.default_rng(1))
    assert offsets.min() >= 0 and offsets.max() < 200.0 and np.all(np.diff(offsets) > 0)
    # 10,000 expected arrivals: the count is within 4 standard deviations (100) of it
    assert abs(len(offsets) - 10_000) < 400
    gaps = np.diff(offsets)
    assert gaps.mean() == pytest.approx(1 / 50, rel=0.05)
    assert gaps.std() == pytest.approx(gaps.mean(), rel=0.05)  # exponential: sd == mean (a fixed pace has sd 0)
    assert np.array_equal(offsets, poisson_offsets(50.0, 200.0, np.random.default_rng(1)))


def test_cpu_goes_to_the_declared_hop_else_to_the_hop_whose_window_holds_the_step() -> None:
    trace = Trace(task_id="d/t", task_version=1, system="s", architecture="multi_agent",
                  hops=[Hop(kind="route", name="route", latency_s=1.0), Hop(kind="generate", name="draft", latency_s=2.0),
                        Hop(kind="verify", name="verify", latency_s=1.0)])
    run = RunCpu(steps=[(100.5, 0.010, None), (102.9, 0.020, None), (103.5, 0.004, None), (100.2, 0.001, "verify"),
                        (109.0, 0.003, None)])
    per_hop, between = attribute_cpu(trace, run, started=100.0)
    assert per_hop == pytest.approx([0.010, 0.020, 0.004 + 0.001])
    assert between == pytest.approx(0.003)


def _step(rate: float, arrivals: int, completed: int, elapsed: float, p95: float, errors: int = 0) -> StepStats:
    return StepStats(offered_rate=rate, duration_s=10.0, arrivals=arrivals, completed=completed, errors=errors,
                     shed=0, timed_out=0, elapsed_s=elapsed, throughput=completed / elapsed,
                     end_to_end=Percentiles(completed, p95 / 2, p95, p95 * 1.2), hops=[], cpu_ms_per_run=1.0,
                     cpu_ms_between_hops=0.1, loop_cpu_utilisation=0.5)


def test_saturation_rules() -> None:
    base = Percentiles(100, 0.5, 0.8, 1.0)
    ok = _step(10, 100, 100, 10.9, 0.8)
    assert keep_up_ratio(ok, 1.0) == pytest.approx(1.0)
    assert saturation(ok, base) == (False, "")
    backlog = _step(40, 400, 400, 25.0, 2.0)  # took 25 s to finish what arrived in 10 s
    saturated, reason = saturation(backlog, base)
    assert saturated and "fell behind" in reason
    slow = _step(20, 200, 200, 11.0, 3.0)
    assert saturation(slow, base) == (True, "p95 3000 ms > 3x the lowest rate's 800 ms")
    failing = _step(20, 200, 180, 11.0, 0.8, errors=20)
    assert "error rate 10.0%" in saturation(failing, base)[1]


def test_percentiles_are_exact_over_the_samples() -> None:
    p = percentiles([i / 1000 for i in range(1, 1001)])
    assert (p.n, p.p50, p.p95, p.p99) == (1000, pytest.approx(0.5005), pytest.approx(0.95005), pytest.approx(0.99001))
    assert percentiles([]) == Percentiles(0, None, None, None)


def test_the_page_is_self_contained_and_escapes_hop_names() -> None:
    hop = HopStats("<script>alert(1)</script>", Percentiles(3, 0.1, 0.2, 0.3), 1.5, 0)
    steps = [_step(2, 20, 20, 10.5, 0.4), _step(4, 40, 40, 10.5, 0.5)]
    steps = [StepStats(**{**s.__dict__, "hops": [hop]}) for s in steps]
    page = render_page(steps, title="t <b>", description="d & e", machine="m")
    assert "<script>" not in page and "&lt;script&gt;" in page and "t &lt;b&gt;" in page
    assert page.count("<svg") == 2  # end to end, and the one hop
    assert "http" not in page.replace("http-equiv", "")  # nothing loaded from elsewhere


@pytest.mark.e2e
def test_baton_load_end_to_end_finds_saturation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rate 4/s keeps up; at 300/s with at most 6 runs in flight (each run makes several 30 ms
    calls) most arrivals are shed, on any machine: the step is saturated and the test stops there."""
    out = tmp_path / "load"
    code = main(["load", "--project", str(REPO), "--system", "multi_agent", "--task-filter", "billing/*",
                 "--sim-latency-ms", "30", "--rates", "4,300,600", "--step-s", "2", "--warmup-s", "0.5",
                 "--max-in-flight", "6", "--vendor-concurrency", "64", "--out", str(out)])
    assert code == 0
    data = json.loads((out / "load.json").read_text())
    steps = data["steps"]
    assert [s["offered_rate"] for s in steps] == [4.0, 300.0]  # stopped after the saturated step
    low, high = steps
    assert not low["saturated"] and low["completed"] == low["arrivals"] > 0 and low["errors"] == 0
    assert high["saturated"] and high["shed"] > 0 and "error rate" in high["reason"]
    assert data["saturated_at"] == 300.0 and data["highest_sustained"] == 4.0 and data["simulated"]
    assert low["vendor_cpu_utilisation"] is not None and low["vendor_cpu_utilisation"] >= 0
    hops = {h["hop"] for h in low["hops"]}
    assert {"route", "draft"} <= hops
    assert all(h["p95_s"] > 0 and h["cpu_ms_per_call"] >= 0 for h in low["hops"])
    assert low["end_to_end"]["p95_s"] >= 0.03  # at least one simulated call per run
    page = (out / "load.html").read_text()
    assert "hop: route" in page and "Saturated at 300 runs/s" in page
    assert "saturation: at 300 runs/s offered" in capsys.readouterr().out


def test_bad_rates_are_clear_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "--project", str(REPO), "--rates", "1,x"]) == 2
    assert "--rates: expected comma-separated numbers" in capsys.readouterr().err
    assert main(["load", "--project", str(REPO), "--rates", "0"]) == 2
    assert main(["load", "--project", str(REPO), "--vendor", "nope"]) == 2
    assert "unknown vendor profile 'nope'" in capsys.readouterr().err


@pytest.mark.e2e
def test_baton_load_drives_an_adapter_system(tmp_path: Path) -> None:
    """The shipped callable example (its own tool loop over MCP) under load, per hop."""
    import shutil

    shutil.copytree(REPO / "fixtures" / "billing", tmp_path / "fixtures" / "billing")
    target = (REPO / "examples" / "callable_agent.py").as_posix()
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.baton.run]\ntasks = "fixtures"\n\n[tool.baton.systems.my_agent]\narchitecture = "callable"\n'
        f'params = {{target = "{target}:answer"}}\n')
    out = tmp_path / "load"
    assert main(["load", "--project", str(tmp_path), "--system", "my_agent", "--sim-latency-ms", "10",
                 "--rates", "3", "--step-s", "2", "--warmup-s", "0", "--out", str(out)]) == 0
    (step,) = json.loads((out / "load.json").read_text())["steps"]
    assert step["arrivals"] > 0 and step["completed"] == step["arrivals"] and step["errors"] == 0
    assert step["hops"] and all(h["n"] > 0 for h in step["hops"])
