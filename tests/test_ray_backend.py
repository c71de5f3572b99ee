"""The Ray backend on a real local cluster: a head node and two worker nodes started by the test
with ``ray start``, real fixtures, runners and graders, and a simulated vendor (served by the test
over loopback HTTP) whose own in-flight counter checks the cluster-wide concurrency limit."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from baton.fixtures import load_tasks
from baton.sim.knobs import SimKnobs
from baton.sim.server import SimServer
from baton.store import iter_results

import stub_vendor  # noqa: E402 - tests/ is on sys.path (conftest.py)

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

REPO = Path(__file__).resolve().parent.parent
RAY = Path(sys.executable).with_name("ray")
LIMIT = 2
PYPROJECT = """
[tool.baton.vendors.sim-shared]
kind = "sim"
model = "sim-shared"
base_url = "{base_url}"
max_concurrency = {limit}
price_input_per_mtok = 100.0
price_output_per_mtok = 100.0

[tool.baton.run]
tasks = "fixtures"
systems = ["naive", "multi_agent"]
vendors = ["sim-shared"]
trials = 2
seed = 21
cache = false
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive_nodes(address: str) -> int:
    done = subprocess.run([str(RAY), "status", f"--address={address}"], capture_output=True, text=True,
                          timeout=60, env=_env())
    if done.returncode != 0:
        return 0
    lines = done.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
    return sum(int(line.split()[0]) for line in lines.splitlines() if "node_" in line)


def _wait_for_nodes(address: str, count: int, procs: list[subprocess.Popen[bytes]], limit_s: float = 180) -> None:
    """Wait until the cluster reports ``count`` live nodes (bounded; fails if a node process died)."""
    deadline = time.monotonic() + limit_s
    while _alive_nodes(address) < count:
        dead = [p.args for p in procs if p.poll() is not None]
        assert not dead, f"a ray node process exited: {dead}"
        assert time.monotonic() < deadline, f"the cluster did not reach {count} nodes in {limit_s:g} s"
        time.sleep(1)


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A head node and two worker nodes, one CPU each, started with ``ray start --block`` (so this
    test owns their processes and stops them by id)."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("ray-logs")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        commands = [[str(RAY), "start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                     "--disable-usage-stats", "--block"]]
        commands += [[str(RAY), "start", f"--address={address}", "--num-cpus=1", "--block"]] * 2
        for index, command in enumerate(commands, start=1):
            log = (logs / f"node{index}.log").open("wb")
            procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=_env(),
                                          start_new_session=True))
            _wait_for_nodes(address, index, procs)  # one at a time: simultaneous joins time out on 2 cores
        yield address
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def vendor() -> Iterator[SimServer]:
    # the simulated vendor answers only the tasks it holds: serve it the golden set the runs use
    with SimServer({"sim-shared": SimKnobs(latency_ms=40)}, tasks=load_tasks(REPO / "fixtures")) as server:
        yield server


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, vendor: SimServer) -> Path:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "fixtures" / "billing", root / "fixtures" / "billing")
    (root / "pyproject.toml").write_text(PYPROJECT.format(base_url=vendor.base_url, limit=LIMIT))
    return root


def baton(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "baton.cli", "run", "--project", str(project), *args],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def outcomes(run_dir: Path) -> dict[str, tuple]:
    return {r.key.as_str(): (r.seed, r.status, r.grade.model_dump_json(), r.trace.answer, r.usage.cost_usd)
            for r in iter_results(run_dir)}


def vendor_stats(server: SimServer) -> dict:
    return httpx.get(server.base_url.removesuffix("/v1") + "/stats", timeout=10).json()


@pytest.fixture(scope="module")
def local_run(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "run"
    code, _, err = finish(baton(project, "--out", str(out)))
    assert code == 0, err
    return out


def test_ray_gives_the_local_results_and_holds_the_vendor_limit_cluster_wide(
        cluster: str, project: Path, local_run: Path, vendor: SimServer, tmp_path: Path) -> None:
    before = vendor_stats(vendor)["max_in_flight"].get("sim-shared", 0)
    assert before <= LIMIT  # the local engine's own limit
    vendor_peak_reset = vendor_stats(vendor)
    out = tmp_path / "ray"
    code, stdout, err = finish(baton(project, "--backend", "ray", "--ray-address", cluster, "--out", str(out)))
    assert code == 0, err
    assert outcomes(out) == outcomes(local_run)
    assert any(o[1] == "passed" for o in outcomes(out).values())  # the vendor answered the runs
    stats = vendor_stats(vendor)
    assert stats["requests"]["sim-shared"] > vendor_peak_reset["requests"]["sim-shared"]
    # three nodes ran batches of units concurrently, each worker with its own client pool: only
    # the one cluster-wide limiter keeps the vendor at LIMIT calls in flight
    assert stats["max_in_flight"]["sim-shared"] == LIMIT
    assert json.loads((out / "manifest.json").read_text())["invocation"]["backend"] == "ray"


def test_resume_after_the_driver_is_killed(cluster: str, project: Path, local_run: Path, vendor: SimServer,
                                          tmp_path: Path) -> None:
    """The vendor is reached through a gate that holds the run's last model call, so the run cannot
    finish before the driver is killed, however fast the machine is."""
    calls = sum(r.usage.calls for r in iter_results(local_run))
    killed = tmp_path / "project"
    shutil.copytree(project, killed, ignore=shutil.ignore_patterns("reports", ".baton-cache"))
    with stub_vendor.StubVendor(upstream=vendor.base_url, admit=calls - 1) as gate:
        (killed / "pyproject.toml").write_text(PYPROJECT.format(base_url=gate.base_url, limit=LIMIT))
        out = tmp_path / "ray-killed"
        proc = baton(killed, "--backend", "ray", "--ray-address", cluster, "--out", str(out), "--concurrency", "4")
        results = out / "results.jsonl"
        assert gate.blocked.wait(300), proc.poll()  # every call but the last went through
        deadline = time.monotonic() + 300  # a hang detector: the other batches are stored at once
        while not (results.exists() and results.read_bytes().count(b"\n") >= 4):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no results stored in 300 s"
            time.sleep(0.2)  # paces the wait on a count; nothing depends on how long it takes
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stored = len(outcomes(out))
        assert 4 <= stored < 24
        gate.open()
        code, stdout, err = finish(baton(killed, "--resume", str(out), "--ray-address", cluster))
    assert code == 0, err
    assert f"{stored} from earlier sessions" in stdout
    assert outcomes(out) == outcomes(local_run)


def test_a_budget_stops_the_run_cleanly(cluster: str, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "ray-budget"
    code, _, err = finish(baton(project, "--backend", "ray", "--ray-address", cluster, "--out", str(out),
                                "--concurrency", "4", "--budget-usd", "0.000001"))
    assert code == 0, err
    assert "budget of $1e-06 reached" in err and "--budget-usd MORE" in err
    assert len(outcomes(out)) == 4  # the one batch in flight when the budget was spent, stored whole
