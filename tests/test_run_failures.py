"""Runs that cannot measure anything fail loudly, and resume what failed.

* Preflight: a key variable that is not exported, an unreachable ``base_url``, a rejected key —
  one clear error naming the profile and the variable or URL, exit 2, nothing written.
* A run whose configurations all ended in infrastructure errors exits 1 and names the cause.
* ``--resume`` retries infrastructure errors (the new record wins), ``--keep-errors`` keeps them.
* ``--resume`` restores the recorded measurement options (``--no-cache``) and refuses others.

The vendor is a stub OpenAI-compatible endpoint on loopback (tests/stub_vendor.py)."""

from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path

import pytest

from baton.cli import main
from baton.store import iter_results

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


import stub_vendor  # noqa: E402 - tests/ is on sys.path (conftest.py)


def write_project(root: Path, base_url: str, *, key_env: str | None = None, retries: int = 0) -> Path:
    if not (root / "fixtures").exists():
        shutil.copytree(REPO / "fixtures" / "billing", root / "fixtures" / "billing")
    key = f'api_key_env = "{key_env}"\n' if key_env else ""
    (root / "pyproject.toml").write_text(f"""
[tool.baton.vendors.hosted]
base_url = "{base_url}"
model = "stub-model"
{key}retries = {retries}
timeout_s = 5
structured_output = "prompt"

[tool.baton.run]
tasks = "fixtures"
systems = ["naive"]
vendors = ["hosted"]
trials = 1
concurrency = 4
""")
    return root


def cli(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["run", "--project", str(project), "--cache-dir", str(project / "cache"), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_missing_key_variable_stops_before_anything_runs(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("BATON_T_MISSING_KEY", raising=False)
    with stub_vendor.StubVendor() as stub:
        project = write_project(tmp_path, stub.base_url, key_env="BATON_T_MISSING_KEY")
        code, _, err = cli(project, capsys, "--out", str(tmp_path / "run"))
        assert stub.requests == 0
    assert code == 2
    assert "vendor profile 'hosted'" in err and "BATON_T_MISSING_KEY" in err and "export" in err
    assert "nothing was run" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_unreachable_base_url_is_named(tmp_path: Path, capsys):
    url = f"http://127.0.0.1:{free_port()}/v1"
    project = write_project(tmp_path, url)
    code, _, err = cli(project, capsys, "--out", str(tmp_path / "run"))
    assert code == 2
    assert "vendor profile 'hosted'" in err and f"cannot reach {url}" in err and "check base_url" in err
    assert not (tmp_path / "run").exists()


def test_rejected_key_is_named_with_its_variable(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("BATON_T_KEY", "zq-wrong-key-0123456789")
    with stub_vendor.StubVendor(models_status=401) as stub:
        project = write_project(tmp_path, stub.base_url, key_env="BATON_T_KEY")
        code, _, err = cli(project, capsys, "--out", str(tmp_path / "run"))
        assert stub.authorization[-1] == "Bearer zq-wrong-key-0123456789"  # the key was sent...
    assert code == 2 and "rejected the key in BATON_T_KEY (HTTP 401)" in err
    assert "zq-wrong-key" not in err  # ...and never printed


def test_all_errors_exit_nonzero_with_the_cause_then_resume_retries_them(tmp_path: Path, capsys):
    with stub_vendor.StubVendor(stub_vendor.error_reply(503, "upstream overloaded")) as stub:
        project = write_project(tmp_path, stub.base_url)
        run_dir = tmp_path / "run"
        code, out, err = cli(project, capsys, "--out", str(run_dir))
        assert code == 1, err
        assert "6/6 runs" in out and "6 infra errors" in out
        assert "naive @ hosted: 6/6 runs" in err and "HTTP 503" in err and "upstream overloaded" in err
        assert f"baton run --resume {run_dir}" in err

        # Keeping the errors runs nothing and still fails.
        requests = stub.requests
        code, out, err = cli(project, capsys, "--resume", str(run_dir), "--keep-errors")
        assert code == 1 and stub.requests == requests

        # The vendor is back: resume reruns exactly the errored runs; their new records win.
        stub.reply = stub_vendor.text_reply('{"answer": "done"}')
        code, out, err = cli(project, capsys, "--resume", str(run_dir))
        assert code == 0, err
        assert "6/6 runs" in out and "0 infra errors" in out
        assert stub.requests == requests + 6
    results = list(iter_results(run_dir))
    assert len(results) == 6 and all(r.status != "error" for r in results)
    assert len((run_dir / "results.jsonl").read_text().splitlines()) == 12  # appended, never rewritten


def test_partial_errors_below_the_threshold_warn_and_above_fail(tmp_path: Path, capsys):
    calls = {"n": 0}

    def flaky(body: dict) -> tuple[int, dict]:
        calls["n"] += 1
        if calls["n"] % 2:
            return stub_vendor.error_reply(500, "boom")(body)
        return stub_vendor.text_reply("fine")(body)

    with stub_vendor.StubVendor(flaky) as stub:
        project = write_project(tmp_path, stub.base_url)
        code, out, err = cli(project, capsys, "--out", str(tmp_path / "a"), "--concurrency", "1", "--no-cache")
        assert code == 0 and "3 infra errors" in out
        assert "warning: 3 runs ended in infrastructure errors" in err and "hosted: 3x" in err
        calls["n"] = 0  # the same sequence of answers again
        code, out, err = cli(project, capsys, "--out", str(tmp_path / "b"), "--concurrency", "1", "--no-cache",
                             "--max-error-rate", "0.25")
        assert code == 1 and "naive @ hosted: 3/6 runs" in err, err


def test_resume_restores_no_cache_and_refuses_a_different_cache_setting(tmp_path: Path, capsys):
    shutil.copytree(REPO / "fixtures" / "billing", tmp_path / "fixtures" / "billing")
    (tmp_path / "pyproject.toml").write_text('[tool.baton.run]\nsystems = ["naive"]\nvendors = ["sim-frontier"]\n')
    code, out, _ = cli(tmp_path, capsys, "--out", str(tmp_path / "warm"))  # fills the cache
    assert code == 0 and "0/6 calls cached" in out
    run_dir = tmp_path / "uncached"
    code, out, _ = cli(tmp_path, capsys, "--out", str(run_dir), "--no-cache")
    assert code == 0 and "0/6 calls cached" in out
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["cache"] is False
    results = run_dir / "results.jsonl"
    results.write_bytes(b"".join(results.read_bytes().splitlines(keepends=True)[:2]))
    code, out, err = cli(tmp_path, capsys, "--resume", str(run_dir))
    assert code == 0, err
    assert "0/6 calls cached" in out  # the resumed runs bypassed the (warm) cache too
    code, _, err = cli(tmp_path, capsys, "--resume", str(tmp_path / "warm"), "--no-cache")
    assert code == 2 and "response cache: on -> off (--no-cache)" in err


def test_judge_is_part_of_the_configuration(tmp_path: Path, capsys):
    shutil.copytree(REPO / "fixtures" / "billing", tmp_path / "fixtures" / "billing")
    (tmp_path / "pyproject.toml").write_text('[tool.baton.run]\nsystems = ["naive"]\nvendors = ["sim-frontier"]\n')
    code, _, err = cli(tmp_path, capsys, "--out", str(tmp_path / "run"), "--task-filter", "billing/refund-*")
    assert code == 0, err
    code, _, err = cli(tmp_path, capsys, "--resume", str(tmp_path / "run"), "--judge", "sim-small")
    assert code == 2 and "judge: none -> sim-small" in err


def test_the_gate_retries_an_earlier_sessions_infra_errors(tmp_path: Path):
    import subprocess
    from importlib import metadata

    plugin = [] if metadata.entry_points(group="pytest11", name="baton") else ["-p", "baton.pytest_plugin"]
    with stub_vendor.StubVendor(stub_vendor.error_reply(503, "down for maintenance")) as stub:
        project = write_project(tmp_path, stub.base_url)
        with (project / "pyproject.toml").open("a") as fh:
            fh.write('\n[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\nbaton_systems = "naive"\n'
                     'baton_vendors = "hosted"\nbaton_task_filter = "billing/refund-*"\n')
        (project / "evals").mkdir()
        (project / "evals" / "test_golden.py").write_text("def test_golden_set(baton_case):\n    baton_case.check()\n")
        run_dir = project / "gate-run"

        def gate() -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "pytest", str(project / "evals"), *plugin,
                                   f"--rootdir={project}", f"--baton-run-dir={run_dir}", "--baton-no-cache", "-rs"],
                                  cwd=project, capture_output=True, text=True, timeout=300)

        first = gate()
        assert all(r.status == "error" for r in iter_results(run_dir)), first.stdout
        stub.reply = stub_vendor.text_reply("All sorted.")
        second = gate()
        assert second.returncode == 0, second.stdout + second.stderr
    results = list(iter_results(run_dir))
    assert len(results) == 3 and not any(r.status == "error" for r in results)
