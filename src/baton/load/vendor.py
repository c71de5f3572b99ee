"""The simulated vendor for a load test, in its own process, so its CPU is not the measured one's."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator

import httpx

from baton.errors import BatonError
from baton.task import GoldenTask
from baton.vendors import VendorProfile

__all__ = ["SimProcess", "process_cpu_s", "sim_process"]

_CODE = ("import json, sys; from baton.sim.knobs import SimKnobs; from baton.sim.server import serve_forever; "
         "from baton.task import GoldenTask; "
         "models = {k: SimKnobs.model_validate(v) for k, v in json.loads(sys.argv[1]).items()}; "
         "tasks = [GoldenTask.model_validate_json(line) for line in open(sys.argv[3], 'rb') if line.strip()]; "
         "serve_forever(models, '127.0.0.1', int(sys.argv[2]), tasks)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far; None where /proc is unavailable."""
    try:
        fields = open(f"/proc/{pid}/stat", "rb").read().rsplit(b")", 1)[1].split()  # noqa: SIM115
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class SimProcess:
    """A running simulated vendor: its profile (``base_url`` set) and process id."""

    def __init__(self, profile: VendorProfile, pid: int) -> None:
        self.profile, self.pid = profile, pid

    def cpu_s(self) -> float | None:
        return process_cpu_s(self.pid)


@contextlib.contextmanager
def sim_process(profile: VendorProfile, latency_ms: float | None = None, tasks: Iterable[GoldenTask] = (),
                start_timeout_s: float = 30.0) -> Iterator[VendorProfile]:
    """Serve ``profile`` (a ``kind = "sim"`` profile) from a child process, with its latency set to
    ``latency_ms`` when given, for the task set ``tasks`` (the simulated vendor answers only
    requests of tasks it holds); yields the profile pointing at it (``base_url`` set) and its pid."""
    from baton.sim.server import sim_models

    if profile.kind != "sim":
        raise BatonError(f"--sim-latency-ms: vendor '{profile.name}' is not simulated (kind = '{profile.kind}')")
    knobs = dict(profile.sim)
    if latency_ms is not None:
        for key in ("latency_median_ms", "latency_p95_ms"):
            knobs.pop(key, None)
        knobs["latency_ms"] = latency_ms
    profile = profile.model_copy(update={"sim": knobs})
    models = {name: k.model_dump(mode="json") for name, k in sim_models({profile.name: profile}).items()}
    port = _free_port()
    log = tempfile.TemporaryFile()  # not a pipe: a full pipe would stall the server under load
    task_file = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)  # noqa: SIM115
    with task_file:
        task_file.writelines(task.model_dump_json() + "\n" for task in tasks)
    proc = subprocess.Popen([sys.executable, "-c", _CODE, json.dumps(models), str(port), task_file.name],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")[-400:]
                raise BatonError(f"the simulated vendor exited while starting (code {proc.returncode}): {err}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BatonError(f"the simulated vendor did not answer on port {port} within {start_timeout_s:g} s")
            time.sleep(0.05)
        yield SimProcess(profile.model_copy(update={"base_url": base_url}), proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(task_file.name)
