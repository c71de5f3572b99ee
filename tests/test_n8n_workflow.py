"""n8n for real: the example workflow served by a real n8n (the ``n8n`` npm package that
``scripts/bootstrap --n8n`` installs in ``.n8n/``), started on loopback by this module, evaluated
through its webhook with the ``http`` adapter against the simulated vendor.

The workflow's model calls go to Baton's model gateway (``params.gateway = true``) and its tool
calls to the run's world over MCP; the golden set then runs on it next to ``multi_agent`` and
both land in one report.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from baton.fixtures import load_tasks
from baton.runners import run_task
from baton.systems import SystemConfig

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "n8n"
WORKFLOW = EXAMPLE / "support_agent.workflow.json"
INSTALL = ROOT / ".n8n"
N8N_MAIN = INSTALL / "node_modules" / "n8n" / "bin" / "n8n"
READY_LINE = "Editor is now accessible via"
START_TIMEOUT_S = 240


def test_the_workflow_carries_the_readable_agent_code() -> None:
    """examples/n8n/agent.js is the workflow's Code node, verbatim (one is edited, both are)."""
    workflow = json.loads(WORKFLOW.read_text())
    nodes = {node["name"]: node for node in workflow["nodes"]}
    assert nodes["Agent"]["parameters"]["jsCode"] == (EXAMPLE / "agent.js").read_text()
    assert nodes["Webhook"]["parameters"]["responseMode"] == "responseNode"
    assert workflow["connections"]["Webhook"]["main"][0][0]["node"] == "Agent"


def _node() -> str:
    """The Node.js that runs n8n: bootstrap's pinned one when it installed one, else the system's."""
    local = INSTALL / "node" / "bin" / "node"
    if local.exists():
        return str(local)
    found = shutil.which("node")
    if found is None:
        pytest.fail("Node.js is not installed; run: bash scripts/bootstrap --n8n")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _n8n_env(home: Path, port: int) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TZ", "TMPDIR")}
    return {**keep, "HOME": str(home), "N8N_USER_FOLDER": str(home), "N8N_PORT": str(port),
            "N8N_LISTEN_ADDRESS": "127.0.0.1", "N8N_HOST": "127.0.0.1", "N8N_PROTOCOL": "http",
            "WEBHOOK_URL": f"http://127.0.0.1:{port}/", "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false", "N8N_TEMPLATES_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false", "N8N_HIRING_BANNER_ENABLED": "false",
            "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false", "N8N_SECURE_COOKIE": "false",
            "N8N_LOG_LEVEL": "info", "DB_TYPE": "sqlite", "EXECUTIONS_DATA_SAVE_ON_SUCCESS": "none",
            "N8N_ENCRYPTION_KEY": "baton-test-only-not-a-secret"}


def _cli(node: str, env: dict[str, str], *args: str) -> None:
    done = subprocess.run([node, str(N8N_MAIN), *args], env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"n8n {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


@pytest.fixture(scope="module")
def webhook_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real n8n on loopback serving the example workflow, active; yields its webhook URL."""
    if not N8N_MAIN.exists():
        message = "n8n is not installed in .n8n/ (scripts/bootstrap --n8n installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing n8n there is a broken set-up, not a skip
        pytest.skip(message)
    node = _node()
    home = tmp_path_factory.mktemp("n8n-home")
    port = _free_port()
    env = _n8n_env(home, port)
    workflow = json.loads(WORKFLOW.read_text())
    _cli(node, env, "import:workflow", f"--input={WORKFLOW}")
    _cli(node, env, "update:workflow", f"--id={workflow['id']}", "--active=true")
    process = subprocess.Popen([node, str(N8N_MAIN), "start"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:  # n8n logs the line (level info) once it listens and active workflows are registered
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if READY_LINE in line:
                ready.set()
        ready.set()  # the process ended: stop waiting

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(START_TIMEOUT_S) or process.poll() is not None:
            pytest.fail(f"n8n did not start within {START_TIMEOUT_S}s:\n{''.join(lines)[-4000:]}")
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        assert health.status_code == 200, health.text
        path = next(n["parameters"]["path"] for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.webhook")
        yield f"http://127.0.0.1:{port}/webhook/{path}"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def n8n_system(url: str) -> SystemConfig:
    return SystemConfig(name="n8n_support", architecture="http",
                        params={"url": url, "gateway": True, "timeout_s": 60})


@pytest.mark.slow
@pytest.mark.e2e
async def test_a_task_through_the_n8n_webhook_reaches_the_world(webhook_url: str) -> None:
    from baton.client import ClientPool
    from baton.vendor_config import builtin_profiles

    task = load_tasks(ROOT / "fixtures/billing/tasks/refund-unauthorized-4471.yaml")[0]
    async with ClientPool(builtin_profiles(), cache=None, tasks=[task]) as pool:  # the sim vendor over HTTP
        trace = await run_task(task, n8n_system(webhook_url), "sim-frontier", clients=pool)
    assert trace.infra_error is None, trace.infra_error
    kinds = [(hop.kind, hop.name) for hop in trace.hops]
    assert kinds[0] == ("retrieve", "retrieve") and kinds[-1] == ("generate", "answer"), kinds
    tools = [hop for hop in trace.hops if hop.kind == "tool"]
    assert tools and all(hop.error is None for hop in tools), kinds
    assert trace.final_state["invoices"]["4471"]["status"] == "refunded"  # the workflow's call changed the world
    assert trace.simulated and trace.usage.calls >= 2 and trace.usage.input_tokens > 0
    assert trace.answer and trace.hops[-1].output["text"] == trace.answer


@pytest.mark.slow
@pytest.mark.e2e
async def test_a_workflow_that_fails_is_the_systems_failure_not_infrastructure(webhook_url: str) -> None:
    """Without ``gateway = true`` the request has no model URL: the workflow's Code node throws,
    n8n answers HTTP 200 with an empty body, and the run is a failed task (counted), said plainly,
    not an infra error."""
    from baton.client import ClientPool
    from baton.vendor_config import builtin_profiles

    task = load_tasks(ROOT / "fixtures/billing/tasks/refund-unauthorized-4471.yaml")[0]
    system = SystemConfig(name="n8n_support", architecture="http", params={"url": webhook_url, "timeout_s": 60})
    async with ClientPool(builtin_profiles(), cache=None, tasks=[task]) as pool:
        trace = await run_task(task, system, "sim-frontier", clients=pool)
    assert trace.infra_error is None and trace.answer == ""
    assert "HTTP 200 with an empty body" in (trace.hops[-1].error or ""), trace.hops[-1].error
    assert trace.final_state["invoices"]["4471"]["status"] != "refunded"


@pytest.mark.slow
@pytest.mark.e2e
def test_the_golden_set_on_n8n_next_to_multi_agent_in_one_report(webhook_url: str, tmp_path: Path) -> None:
    """``baton compare`` as a user runs it: the workflow is a system of the project's configuration."""
    (tmp_path / "pyproject.toml").write_text(
        "[tool.baton.systems.n8n_support]\n"
        'architecture = "http"\n'
        'description = "The example n8n workflow (examples/n8n), served by a real n8n."\n'
        f'params = {{url = "{webhook_url}", gateway = true, timeout_s = 60}}\n')
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "baton.cli", "compare", "--project", str(tmp_path),
                           "--tasks", str(ROOT / "fixtures"), "--systems", "n8n_support,multi_agent",
                           "--vendors", "sim-frontier", "--trials", "1", "--no-local", "--no-cache",
                           "--concurrency", "8",
                           "--out", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    tasks = load_tasks(ROOT / "fixtures")
    by_system: dict[str, list[dict]] = {}
    for record in records:
        by_system.setdefault(record["key"]["system"], []).append(record)
    assert set(by_system) == {"n8n_support", "multi_agent"}
    assert len(by_system["n8n_support"]) == len(tasks)  # adapters have no isolated modes: one run per task
    assert not [r for r in by_system["n8n_support"] if r["trace"].get("infra_error")]
    passed = {system: sum(r["status"] == "passed" and r["key"]["mode"] == "system" for r in runs)
              for system, runs in by_system.items()}
    print(f"passed on sim-frontier (system mode): {passed} of {len(tasks)} tasks each")
    acted = [r for r in by_system["n8n_support"] if any(h["kind"] == "tool" for h in r["trace"]["hops"])]
    assert passed["n8n_support"] > 0 and acted  # the workflow succeeds on some tasks and acts on the world
    report = (out / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and "@ sim-frontier (simulated)" in line]
    assert any(row.startswith(r"| n8n\_support @") for row in rows), report[:2000]  # one table, both systems
    assert any(row.startswith(r"| multi\_agent @") for row in rows), report[:2000]
