"""Whole-process start-up and overhead of the ``baton`` command: ``python bench/startup.py``.

Every figure is the wall time of a fresh process, as a user sees it (interpreter start-up and
imports included), the median of ``--repeat`` runs:

* ``baton run --help``;
* a one-task ``baton run`` of ``naive`` against a loopback endpoint: the simulated vendor served
  by ``baton sim serve`` in its own process (started once, before the timings), reached through
  a plain OpenAI-compatible profile (``base_url`` on 127.0.0.1), response cache off;
* with ``--overhead``: the overhead workload of ``bench/overhead.py`` (N single-call tasks at a
  fixed latency, concurrency C) as two whole processes, ``baton run`` of ``naive`` against a
  bare ``openai`` script making the same calls; their ratio (target <= 1.15x). The tasks share
  one domain's documents, tools and routes, as a domain folder's tasks do; ``--distinct-sources``
  gives every task its own (the worst case for loading the tasks and grading the runs).

Targets: ``--help`` < 0.5 s, the one-task run < 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASE_TASK = REPO / "fixtures" / "billing" / "tasks" / "refund-unauthorized-4471.yaml"
BATON = [sys.executable, "-m", "baton.cli"]
SRC: Path | None = None  # --src: time another checkout's src/ (for example the code before a change)

BARE_SCRIPT = '''
import asyncio, json, sys
import openai

async def main(spec):
    client = openai.AsyncOpenAI(base_url=spec["base_url"], api_key="bench", max_retries=0)
    sem = asyncio.Semaphore(spec["concurrency"])

    async def one(call):
        async with sem:
            completion = await client.chat.completions.create(
                model=spec["model"], messages=call["messages"], temperature=0.0, seed=call["seed"],
                extra_headers=call["headers"])
            return completion.choices[0].message.content or ""

    try:
        answers = await asyncio.gather(*(one(c) for c in spec["calls"]))
        assert all(answers)
    finally:
        await client.close()

with open(sys.argv[1]) as fh:
    asyncio.run(main(json.load(fh)))
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("the simulated vendor did not start")
        time.sleep(0.05)


@contextlib.contextmanager
def served(code: str) -> Iterator[str]:
    """A simulated vendor in a child process started by ``code`` (``PORT`` filled in); its /v1 URL."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", code.replace("PORT", str(port))], cwd=REPO / "bench")
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(10)


def _project(folder: Path, url: str, model: str, concurrency: int) -> Path:
    """A project whose only setting is one plain OpenAI-compatible profile, ``loop``, at ``url``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(
        f'[tool.baton.vendors.loop]\nbase_url = "{url}"\nmodel = "{model}"\n'
        f'max_concurrency = {concurrency}\nretries = 0\ntimeout_s = 30\n', encoding="utf-8")
    return folder


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall time of ``cmd`` as a fresh process, and its CPU time (user + system, its own children
    included). The environment is the caller's minus ``PYTHONDONTWRITEBYTECODE``, so Baton's
    modules load from bytecode as on a user's machine."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if SRC is not None:
        env["PYTHONPATH"] = str(SRC)
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr}")
    return elapsed, _children_cpu() - cpu


def medians(label: str, samples: list[tuple[float, float]], target: float | None = None) -> tuple[float, float]:
    """Print and return the median wall and CPU time of ``samples``."""
    walls, cpus = [w for w, _ in samples], [c for _, c in samples]
    value, cpu = statistics.median(walls), statistics.median(cpus)
    verdict = "" if target is None else f" ({'meets' if value < target else 'misses'} the < {target:g} s target)"
    print(f"{label}: wall median {value:.3f} s, best {min(walls):.3f} s "
          f"(runs: {', '.join(f'{s:.3f}' for s in walls)}){verdict}; CPU median {cpu:.3f} s", flush=True)
    return value, cpu


def startup(repeat: int, tmp: Path) -> None:
    medians("python -c pass", [wall([sys.executable, "-c", "pass"], REPO) for _ in range(repeat)])
    medians("baton --help", [wall([*BATON, "--help"], REPO) for _ in range(repeat)])
    medians("baton run --help", [wall([*BATON, "run", "--help"], REPO) for _ in range(repeat)], 0.5)
    code = ("from baton.cli import main; main(['sim', 'serve', '--port', 'PORT', "
            f"'--fixtures', {str(REPO / 'fixtures')!r}])")
    with served(code) as url:
        project = _project(tmp / "one-task", url, "sim-frontier", 4)
        runs = []
        for i in range(repeat):
            runs.append(wall([*BATON, "run", "--project", str(project), "--tasks", str(BASE_TASK),
                              "--systems", "naive", "--vendors", "loop", "--no-cache",
                              "--out", str(tmp / f"one-{i}")], project))
        medians("baton run, one naive task, loopback endpoint", runs, 1.0)


def overhead(runs: int, concurrency: int, latency_ms: float, repeat: int, tmp: Path, distinct: bool = False) -> None:
    """``baton run`` against the bare ``openai`` script, both as whole processes, alternating."""
    sys.path.insert(0, str(REPO / "bench"))
    from overhead import VENDOR, variants

    from baton.call_context import HEADER, CallContext
    from baton.dataset import export_tasks
    from baton.runners import prompts
    from baton.runners.context import call_seed

    tasks = variants(runs, distinct)
    tasks_file = export_tasks(tasks, tmp / "tasks.jsonl", "jsonl")
    code = ("from overhead import variants, VENDOR; from baton.sim.knobs import SimKnobs; "
            "from baton.sim.server import serve_forever; "
            f"serve_forever({{VENDOR: SimKnobs(latency_ms={latency_ms!r})}}, '127.0.0.1', PORT, "
            f"variants({runs}, {distinct!r}))")
    with served(code) as url:
        project = _project(tmp / "overhead", url, VENDOR, concurrency)
        spec = {"base_url": url, "model": VENDOR, "concurrency": concurrency,
                "calls": [{"messages": prompts.naive(t), "seed": call_seed(0, 0),
                           "headers": {HEADER: CallContext(t.id, t.version).to_header()}} for t in tasks]}
        (tmp / "bare.json").write_text(json.dumps(spec), encoding="utf-8")
        (tmp / "bare.py").write_text(BARE_SCRIPT, encoding="utf-8")
        bare_cmd = [sys.executable, str(tmp / "bare.py"), str(tmp / "bare.json")]
        baton_cmd = [*BATON, "run", "--project", str(project), "--tasks", str(tasks_file), "--systems", "naive",
                     "--vendors", "loop", "--no-cache", "--concurrency", str(concurrency)]
        wall(bare_cmd, tmp)  # warm the file system cache of both sides
        wall([*baton_cmd, "--out", str(tmp / "warm")], project)
        bare, baton = [], []
        for i in range(repeat):
            bare.append(wall(bare_cmd, tmp))
            baton.append(wall([*baton_cmd, "--out", str(tmp / f"run-{i}")], project))
    sources = "each task its own documents, tools and routes" if distinct else "tasks sharing one domain's sources"
    print(f"overhead workload: {runs} single-call tasks ({sources}), loopback simulated vendor at {latency_ms:g} ms, "
          f"concurrency {concurrency} (latency bound {runs / concurrency * latency_ms / 1000:.2f} s)")
    b, b_cpu = medians("  bare openai script (whole process)", bare)
    t, t_cpu = medians("  baton run (whole process)", baton)
    ratio = t / b
    print(f"  ratio baton/bare: wall {ratio:.3f}x ({'meets' if ratio <= 1.15 else 'misses'} the <= 1.15x target), "
          f"CPU {t_cpu / b_cpu:.3f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure (medians reported)")
    parser.add_argument("--overhead", action="store_true", help="also the whole-process overhead workload")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--distinct-sources", action="store_true",
                        help="overhead workload: every task with its own documents, tools and routes (the worst "
                             "case for loading and grading) instead of one domain's shared ones")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--src", type=Path, default=None,
                        help="time the baton package under this src/ folder instead (PYTHONPATH), e.g. an "
                             "older commit's: git archive COMMIT src | tar -x -C /tmp/old")
    args = parser.parse_args(argv)
    global SRC
    SRC = args.src.resolve() if args.src is not None else None
    sys.path.insert(0, str(REPO / "bench"))
    from overhead import machine_info

    print(machine_info())
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}")
    tmp = Path(tempfile.mkdtemp(prefix="baton-startup-"))
    try:
        if not args.skip_startup:
            startup(args.repeat, tmp)
        if args.overhead:
            overhead(args.runs, args.concurrency, args.latency_ms, args.repeat, tmp, args.distinct_sources)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
