"""``baton load``: drive a system at rising open-loop arrival rates and report latency per hop."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from baton.errors import BatonError, ConfigError

DEFAULT_RATES = "1,2,4,8,16,32,64,128"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "load", help="load-test a system: latency per hop versus offered rate, and the saturation point",
        description="Drive one system (built-in or adapter) with Poisson arrivals at each offered rate in "
                    "turn (an open loop: arrivals do not wait for earlier runs), against a vendor: a "
                    "simulated one at a chosen latency (served from its own process) or a real endpoint. "
                    "Reports per rate: throughput, p50/p95/p99 end to end and per hop, CPU per hop, "
                    "errors, and where the system saturates; writes load.json and load.html.")
    parser.add_argument("--project", type=Path, default=None, help="project directory (default: nearest pyproject.toml)")
    parser.add_argument("--system", default="multi_agent", help="system to drive (default: multi_agent)")
    parser.add_argument("--vendor", default="sim-frontier", help="vendor profile (default: sim-frontier)")
    parser.add_argument("--vendors-file", type=Path, default=None, metavar="PATH", help="an extra vendor profile file")
    parser.add_argument("--sim-latency-ms", type=float, default=None, metavar="MS",
                        help="simulated vendor only: fixed latency per call (default: the profile's)")
    parser.add_argument("--vendor-concurrency", type=int, default=None, metavar="N",
                        help="calls in flight to the vendor at once (default: the profile's max_concurrency)")
    parser.add_argument("--tasks", type=Path, default=None, metavar="PATH", help="golden set (default: fixtures/)")
    parser.add_argument("--task-filter", default=None, metavar="GLOB", help="only tasks matching these globs")
    parser.add_argument("--rates", default=DEFAULT_RATES, metavar="R1,R2",
                        help=f"offered rates in runs per second, in order (default: {DEFAULT_RATES})")
    parser.add_argument("--step-s", type=float, default=10.0, metavar="S", help="seconds of arrivals per rate (default: 10)")
    parser.add_argument("--drain-s", type=float, default=60.0, metavar="S",
                        help="after a step, seconds to wait for its runs before counting them timed out (default: 60)")
    parser.add_argument("--max-in-flight", type=int, default=2000, metavar="N",
                        help="arrivals beyond this many runs in flight are shed and counted as errors (default: 2000)")
    parser.add_argument("--warmup-s", type=float, default=2.0, metavar="S",
                        help="seconds of arrivals at the first rate before measuring, not reported (default: 2)")
    parser.add_argument("--keep-going", action="store_true", help="run every rate, not stopping after saturation")
    parser.add_argument("--seed", type=int, default=0, help="arrival times and task choice (default: 0)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="where to write load.json and load.html (default: reports/<UTC timestamp>-load)")
    parser.set_defaults(func=load)


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--rates: expected comma-separated numbers (runs per second), got {text!r}") from None
    if not rates or any(r <= 0 for r in rates):
        raise ConfigError(f"--rates: expected positive numbers, got {text!r}")
    return rates


def _machine() -> str:
    import os
    import platform

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.node() or 'machine'}: {os.cpu_count()} CPUs, {platform.platform()}, Python "
            f"{platform.python_version()}; load average at start {load:.2f} (other processes share the CPUs)")


def load(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib

    from baton.client import ClientPool
    from baton.commands.run import timestamped_run_dir
    from baton.load.driver import LoadPlan, run_load
    from baton.load.page import render_page
    from baton.load.vendor import sim_process
    from baton.matrix import select_tasks
    from baton.project import find_project_dir
    from baton.run_settings import load_settings
    from baton.system_config import load_systems, resolve_systems
    from baton.fixtures import load_tasks
    from baton.vendor_config import load_profiles

    if args.warmup_s < 0:
        raise ConfigError("--warmup-s: expected a number of seconds >= 0")
    for flag in ("step_s", "drain_s"):
        if getattr(args, flag) <= 0:
            raise ConfigError(f"--{flag.replace('_', '-')}: expected a positive number of seconds")
    for flag in ("vendor_concurrency", "max_in_flight"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ConfigError(f"--{flag.replace('_', '-')}: expected an integer >= 1, got {value}")
    rates = _rates(args.rates)
    project_dir = (args.project or find_project_dir()).resolve()
    settings = load_settings(project_dir)
    profiles = load_profiles(project_dir, args.vendors_file)
    if args.vendor not in profiles:
        raise ConfigError(f"--vendor: unknown vendor profile '{args.vendor}'; known: {', '.join(sorted(profiles))}")
    (system,) = resolve_systems([args.system], load_systems(project_dir))
    tasks_path = args.tasks if args.tasks is not None else project_dir / settings.tasks
    tasks = select_tasks(load_tasks(tasks_path), args.task_filter, str(tasks_path))
    if not tasks:
        raise BatonError(f"--task-filter: no task of {tasks_path} matches {args.task_filter!r}")
    out = args.out or timestamped_run_dir(project_dir / settings.out, "-load")
    plan = LoadPlan(rates=rates, step_s=args.step_s, drain_s=args.drain_s, max_in_flight=args.max_in_flight,
                    seed=args.seed, stop_at_saturation=not args.keep_going, warmup_s=args.warmup_s)
    profile = profiles[args.vendor]
    if args.vendor_concurrency is not None:
        profile = profile.model_copy(update={"max_concurrency": args.vendor_concurrency})
    simulated = profile.kind == "sim"
    machine = _machine()
    print(f"baton load: {system.name} against {profile.name}"
          f"{' (simulated, in its own process)' if simulated else ''}, {len(tasks)} tasks, rates {args.rates} "
          f"runs/s, {args.step_s:g} s each", file=sys.stderr, flush=True)

    def on_step(step) -> None:  # type: ignore[no-untyped-def]
        print(f"  {step.offered_rate:>7g}/s offered: {step.arrivals} arrivals, {step.throughput:.2f}/s done, "
              f"p50 {_ms(step.end_to_end.p50)} p95 {_ms(step.end_to_end.p95)} p99 {_ms(step.end_to_end.p99)} ms, "
              f"{step.errors} errors, loop CPU {step.loop_cpu_utilisation:.0%}"
              f"{_vendor_cpu(step.vendor_cpu_utilisation)}"
              f"{'  SATURATED: ' + step.reason if step.saturated else ''}", file=sys.stderr, flush=True)

    vendor_cpu = None
    with contextlib.ExitStack() as stack:
        if simulated:
            served = stack.enter_context(sim_process(profile, args.sim_latency_ms, tasks))
            profile, vendor_cpu = served.profile, served.cpu_s
        elif args.sim_latency_ms is not None:
            raise ConfigError(f"--sim-latency-ms: vendor '{profile.name}' is not simulated")
        pool_profiles = {**profiles, profile.name: profile}

        async def drive() -> list:  # type: ignore[type-arg]
            async with ClientPool(pool_profiles, cache=None) as pool:
                return await run_load(tasks, system, profile.name, clients=pool, plan=plan, on_step=on_step,
                                      vendor_cpu=vendor_cpu)

        steps = asyncio.run(drive())
    out.mkdir(parents=True, exist_ok=True)
    label = " (simulated vendor)" if simulated else ""
    latency = f", {args.sim_latency_ms:g} ms per call" if args.sim_latency_ms is not None else ""
    description = (f"System {system.name} against vendor {profile.name}{label}{latency}; {len(tasks)} tasks; "
                   f"Poisson arrivals for {args.step_s:g} s per offered rate; seed {args.seed}.")
    summary = {"system": system.name, "vendor": profile.name, "simulated": simulated,
               "sim_latency_ms": args.sim_latency_ms, "tasks": len(tasks), "step_s": args.step_s,
               "machine": machine, "steps": [s.as_json() for s in steps],
               "saturated_at": next((s.offered_rate for s in steps if s.saturated), None),
               "highest_sustained": max((s.offered_rate for s in steps if not s.saturated), default=None)}
    (out / "load.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "load.html").write_text(render_page(steps, title=f"Baton load test: {system.name} @ {profile.name}{label}",
                                               description=description, machine=machine), encoding="utf-8")
    print(out / "load.html")
    print(out / "load.json")
    sat = summary["saturated_at"]
    print(f"saturation: {'at ' + format(sat, 'g') + ' runs/s offered' if sat else 'not reached'}; highest rate "
          f"sustained: {summary['highest_sustained'] if summary['highest_sustained'] is not None else 'none'} runs/s")
    return 0


def _vendor_cpu(value: float | None) -> str:
    return "" if value is None else f", simulated vendor CPU {value:.0%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"
