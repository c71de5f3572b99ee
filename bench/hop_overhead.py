"""Orchestration CPU per hop: multi_agent on real golden tasks against an instant in-process stub.

Every hop is real apart from the model: prompts, BM25 retrieval, record lookups and tool calls
through an in-process MCP session over the run's World, trace building. The stub model answers
instantly (:mod:`baton.runners.stub`); its own CPU is measured and reported apart.

    python bench/hop_overhead.py [FIXTURES] [--rounds N]

Prints the machine, then process CPU time / hops (target: under 1 ms per hop, MCP included).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Sequence
from typing import Any

from baton.fixtures import load_tasks
from baton.model import Message, ModelClient, ScriptedClient
from baton.runners import run_task
from baton.runners.stub import stub_script
from baton.systems import BUILTIN_SYSTEMS


class TimedStub:
    """Stub clients that add up the CPU their own answers take."""

    def __init__(self) -> None:
        self.cpu_s = 0.0

    def client(self, vendor: str) -> ModelClient:
        def script(messages: Sequence[Message], options: dict[str, Any]) -> Any:
            started = time.process_time()
            try:
                return stub_script(messages, options)
            finally:
                self.cpu_s += time.process_time() - started

        return ScriptedClient(script, vendor=vendor, model="stub")


async def bench(path: str, rounds: int) -> None:
    tasks = load_tasks(path)
    system = BUILTIN_SYSTEMS["multi_agent"]
    stub = TimedStub()
    for task in tasks:  # warm-up: imports, BM25 indexes, JSON-schema validators
        await run_task(task, system, "stub", clients=stub)
    stub.cpu_s = 0.0
    hops = tools = runs = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for trial in range(rounds):
        for task in tasks:
            trace = await run_task(task, system, "stub", clients=stub, trial=trial)
            hops += len(trace.hops)
            tools += len(trace.tool_calls())
            runs += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | "
          f"{os.cpu_count()} CPUs | Python {sys.version.split()[0]}")
    print(f"runs: {runs} ({len(tasks)} tasks x {rounds} rounds), hops: {hops} ({tools} tool hops via MCP), "
          f"wall: {wall:.2f} s")
    print(f"process CPU per hop: {cpu / hops * 1000:.3f} ms "
          f"(orchestration {(cpu - stub.cpu_s) / hops * 1000:.3f} ms + stub model {stub.cpu_s / hops * 1000:.3f} ms)"
          f"; per run: {cpu / runs * 1000:.2f} ms")
    verdict = "PASS" if (cpu - stub.cpu_s) / hops < 0.001 else "FAIL"
    print(f"target < 1 ms per hop: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixtures", nargs="?", default="fixtures")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(bench(args.fixtures, args.rounds))


if __name__ == "__main__":
    main()
