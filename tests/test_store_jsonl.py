"""The append-only results store: damaged tails, duplicates, manifests and locking."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from baton.errors import BatonError
from baton.fixtures import load_tasks
from baton.manifest import build_config, build_manifest, read_manifest
from baton.result import RunGrade, RunKey, RunResult
from baton.store import RESULTS_FILE, ResultStore, iter_results, scan_results
from baton.systems import BUILTIN_SYSTEMS
from baton.trace import Trace, Usage
from baton.vendors import VendorProfile

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "billing"


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(FIXTURES)


def manifest(tasks, trials=1, vendor_price=1.0):
    vendor = VendorProfile(name="v1", kind="sim", model="m", price_input_per_mtok=vendor_price)
    config = build_config(tasks, [BUILTIN_SYSTEMS["naive"]], [vendor], trials=trials, seed=0, modes=["system"])
    return build_manifest(config, total_runs=len(tasks) * trials)


def result(task_id: str, trial: int = 0, status: str = "passed", answer: str = "ok") -> RunResult:
    key = RunKey(task_id=task_id, task_version=1, system="naive", vendor="v1", trial=trial)
    trace = Trace(task_id=task_id, task_version=1, system="naive", architecture="naive", trial=trial,
                  answer=answer, usage=Usage(cost_usd=0.5, calls=1))
    return RunResult(key=key, seed=1, status=status, simulated=True, grade=RunGrade(status=status),
                     trace=trace, usage=trace.usage, latency_s=0.1, finished_at="2026-01-01T00:00:00+00:00")


def line(r: RunResult) -> bytes:
    return r.model_dump_json().encode() + b"\n"


def test_appended_results_stream_back(tasks, tmp_path):
    with ResultStore.open(tmp_path, manifest(tasks)) as store:
        store.append(line(result("a/x")) + line(result("a/y", status="failed")))
        store.append(line(result("a/z", status="error")))
    got = list(iter_results(tmp_path))
    assert [r.key.task_id for r in got] == ["a/x", "a/y", "a/z"]
    scan = scan_results(tmp_path / RESULTS_FILE)
    assert scan.statuses == {"passed": 1, "failed": 1, "error": 1}
    assert scan.cost_usd == pytest.approx(1.5) and scan.calls == 3


def test_a_truncated_last_line_is_dropped_with_a_warning_and_truncated(tasks, tmp_path, caplog):
    path = tmp_path / RESULTS_FILE
    with ResultStore.open(tmp_path, manifest(tasks)) as store:
        store.append(line(result("a/x")) + line(result("a/y")))
    whole = path.read_bytes()
    half = line(result("a/z"))[:57]
    path.write_bytes(whole + half)
    with caplog.at_level(logging.WARNING, logger="baton.store"):
        assert [r.key.task_id for r in iter_results(tmp_path)] == ["a/x", "a/y"]
    assert "damaged tail" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="baton.store"):
        store = ResultStore.open(tmp_path, manifest(tasks))
    assert "dropped a damaged tail (57 bytes, 1 partial or invalid line)" in caplog.text
    assert path.read_bytes() == whole  # truncated before anything is appended
    assert store.finished_keys() == {result("a/x").key.as_str(), result("a/y").key.as_str()}
    store.append(line(result("a/z")))
    store.close()
    assert [r.key.task_id for r in iter_results(tmp_path)] == ["a/x", "a/y", "a/z"]


def test_a_complete_but_invalid_last_line_is_also_a_damaged_tail(tasks, tmp_path):
    path = tmp_path / RESULTS_FILE
    with ResultStore.open(tmp_path, manifest(tasks)) as store:
        store.append(line(result("a/x")))
    path.write_bytes(path.read_bytes() + b"\x00\x00\x00\n")
    with ResultStore.open(tmp_path, manifest(tasks)) as store:
        assert len(store.finished_keys()) == 1
    assert path.read_bytes().count(b"\n") == 1


def test_a_damaged_line_in_the_middle_is_an_error_naming_it(tasks, tmp_path):
    path = tmp_path / RESULTS_FILE
    with ResultStore.open(tmp_path, manifest(tasks)) as store:
        store.append(line(result("a/x")))
    path.write_bytes(path.read_bytes() + b'{"version": 1, "ke\n' + line(result("a/y")))
    with pytest.raises(BatonError, match="line 2 is not a valid result but later lines are"):
        ResultStore.open(tmp_path, manifest(tasks))
    with pytest.raises(BatonError, match="line 2 is not a valid result"):
        list(iter_results(tmp_path))


def test_duplicate_keys_keep_the_last_record(tasks, tmp_path):
    with ResultStore.open(tmp_path, manifest(tasks)) as store:
        store.append(line(result("a/x", answer="first")) + line(result("a/y")) + line(result("a/x", answer="second")))
    got = list(iter_results(tmp_path))
    assert [(r.key.task_id, r.trace.answer) for r in got] == [("a/y", "ok"), ("a/x", "second")]


def test_a_changed_configuration_is_refused_and_says_what_changed(tasks, tmp_path):
    ResultStore.open(tmp_path, manifest(tasks[:2])).close()
    with pytest.raises(BatonError) as err:
        ResultStore.open(tmp_path, manifest(tasks[:3], trials=2, vendor_price=3.0))
    message = str(err.value)
    assert f"tasks added: {tasks[2].id}" in message
    assert "trials: 1 -> 2" in message
    assert "vendor 'v1' changed (price_input_per_mtok: 1.0 -> 3.0)" in message
    # Speed settings are not part of the configuration.
    fast = manifest(tasks[:2])
    vendor = fast.config.vendors[0].model_copy(update={"max_concurrency": 99, "retries": 9})
    fast = fast.model_copy(update={"config": fast.config.model_copy(update={"vendors": [vendor]})})
    ResultStore.open(tmp_path, fast).close()


def test_a_changed_task_file_is_refused(tasks, tmp_path):
    ResultStore.open(tmp_path, manifest(tasks[:2])).close()
    edited = tasks[1].model_copy(update={"request": tasks[1].request + " Thanks!"})
    with pytest.raises(BatonError, match=rf"task '{tasks[1].id}' content changed \(same version 1\)"):
        ResultStore.open(tmp_path, manifest([tasks[0], edited]))


def test_results_without_a_manifest_are_refused(tasks, tmp_path):
    (tmp_path / RESULTS_FILE).write_bytes(line(result("a/x")))
    with pytest.raises(BatonError, match="no manifest.json"):
        ResultStore.open(tmp_path, manifest(tasks))


def test_one_writer_per_run_directory(tasks, tmp_path):
    with ResultStore.open(tmp_path, manifest(tasks)), \
            pytest.raises(BatonError, match="another baton process is writing"):
        ResultStore.open(tmp_path, manifest(tasks))
    ResultStore.open(tmp_path, manifest(tasks)).close()


def test_manifest_records_environment_and_no_secrets(tasks, tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY_VAR", "sk-planted-secret-value")
    vendor = VendorProfile(name="hosted", model="m", base_url="https://user:pw@example.com/v1",
                           api_key_env="SECRET_KEY_VAR")
    config = build_config(tasks, [BUILTIN_SYSTEMS["naive"]], [vendor], trials=1, seed=0, modes=["system"])
    ResultStore.open(tmp_path, build_manifest(config, total_runs=1, project_dir=FIXTURES.parent.parent)).close()
    text = (tmp_path / "manifest.json").read_text()
    assert "sk-planted-secret-value" not in text and "user:pw" not in text
    stored = read_manifest(tmp_path)
    assert stored.config.vendors[0].base_url == "https://***@example.com/v1"
    assert stored.environment.packages["pydantic"]
    assert stored.environment.git_commit is None or len(stored.environment.git_commit) == 40
    assert stored.config.fixture_set_hash and stored.run_key == stored.config.key()


def test_not_a_run_directory(tmp_path):
    with pytest.raises(BatonError, match="not a Baton run directory"):
        list(iter_results(tmp_path))
    with pytest.raises(BatonError, match="manifest.json: not found"):
        read_manifest(tmp_path)


def test_compressed_store_round_trips_and_repairs_a_partial_last_frame(tasks, tmp_path, caplog):
    from baton.store import COMPRESSED_RESULTS_FILE

    path = tmp_path / COMPRESSED_RESULTS_FILE
    with ResultStore.open(tmp_path, manifest(tasks), compress=True) as store:
        assert store.path == path
        store.append(line(result("a/x")) + line(result("a/y", status="failed")))
        store.append(line(result("a/z")))
    whole = path.read_bytes()
    assert not (tmp_path / RESULTS_FILE).exists() and b"a/x" not in whole  # stored compressed
    assert [r.key.task_id for r in iter_results(tmp_path)] == ["a/x", "a/y", "a/z"]
    scan = scan_results(path)
    assert scan.statuses == {"passed": 2, "failed": 1} and scan.valid_bytes == len(whole)
    import zstandard

    partial = zstandard.ZstdCompressor().compress(line(result("a/w")))[:-5]
    path.write_bytes(whole + partial)
    with caplog.at_level(logging.WARNING, logger="baton.store"):
        assert [r.key.task_id for r in iter_results(tmp_path)] == ["a/x", "a/y", "a/z"]
        store = ResultStore.open(tmp_path, manifest(tasks))  # the existing format is kept
    assert "partial or invalid frame" in caplog.text
    assert path.read_bytes() == whole
    store.append(line(result("a/w")))
    store.close()
    assert [r.key.task_id for r in iter_results(tmp_path)] == ["a/x", "a/y", "a/z", "a/w"]


def test_a_damaged_frame_in_the_middle_is_an_error(tasks, tmp_path):
    import zstandard

    from baton.store import COMPRESSED_RESULTS_FILE

    path = tmp_path / COMPRESSED_RESULTS_FILE
    with ResultStore.open(tmp_path, manifest(tasks), compress=True) as store:
        store.append(line(result("a/x")))
    good = zstandard.ZstdCompressor().compress(line(result("a/y")))
    path.write_bytes(path.read_bytes() + zstandard.ZstdCompressor().compress(b'{"version": 1, "ke\n') + good)
    with pytest.raises(BatonError, match="frame 2 is not a valid result but later frames are"):
        ResultStore.open(tmp_path, manifest(tasks))
    with pytest.raises(BatonError, match="frame 2 is not a valid result"):
        list(iter_results(tmp_path))


def test_large_runs_are_compressed_by_default(tasks, tmp_path):
    from baton.store import COMPRESS_FROM, COMPRESSED_RESULTS_FILE

    big = manifest(tasks).model_copy(update={"total_runs": COMPRESS_FROM})
    with ResultStore.open(tmp_path / "big", big) as store:
        store.append(line(result("a/x")))
    assert (tmp_path / "big" / COMPRESSED_RESULTS_FILE).exists()
    with ResultStore.open(tmp_path / "small", manifest(tasks)) as store:
        store.append(line(result("a/x")))
    assert (tmp_path / "small" / RESULTS_FILE).exists()
