"""``baton whatif``: what does a per-hop reliability give end to end, and which hop is worth improving?

``baton whatif run --what-if route=0.97,act=0.95,verify_catch=0.8`` runs systems on a task set
against the simulated vendor with those reliabilities and prints predicted versus measured system
success. ``baton whatif sweep --hop act --from 0.8 --to 1.0`` varies one hop and writes a chart
(self-contained HTML with an SVG) of system success against it, with and without the verify hop.
``--profile NAME`` starts from a simulated profile's rates instead of a perfect model.
``baton whatif fix-first RUN_DIR`` reruns each simulated configuration of a finished run with one
hop's mistakes removed at a time and adds that ranking to the run's card, beside the one
estimated from the measured runs. Simulated numbers, always labelled so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from baton.errors import ConfigError


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", type=Path, default=Path("fixtures"), metavar="PATH",
                        help="golden-set directory (default: fixtures)")
    parser.add_argument("--task-filter", default=None, metavar="GLOB", help="only tasks whose id matches")
    parser.add_argument("--project", type=Path, default=Path("."), help="project with systems and vendor profiles")
    parser.add_argument("--what-if", default="", metavar="HOP=R,...",
                        help="per-hop reliabilities: route, act, answer, verify_catch, verify_false_alarm")
    parser.add_argument("--profile", default=None, metavar="NAME",
                        help="start from this simulated profile's rates (default: a perfect model)")
    parser.add_argument("--trials", type=int, default=5, metavar="N", help="runs per task (default: 5)")
    parser.add_argument("--seed", type=int, default=0, metavar="S")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("whatif", help="predicted vs measured success at chosen per-hop reliabilities "
                                                  "(simulated)")
    sub = parser.add_subparsers(dest="whatif_command", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run systems at the given reliabilities; print predicted vs measured")
    _common(run)
    run.add_argument("--systems", default="multi_agent", metavar="A,B", help="systems (default: multi_agent)")
    run.add_argument("--json", action="store_true", help="print JSON instead of a table")
    run.set_defaults(func=run_whatif)
    sweep = sub.add_parser("sweep", help="vary one hop's reliability; chart success with and without verify")
    _common(sweep)
    sweep.add_argument("--hop", required=True, help="the hop to vary: route, act, answer, verify_catch")
    sweep.add_argument("--from", dest="start", type=float, default=0.8, metavar="R")
    sweep.add_argument("--to", dest="stop", type=float, default=1.0, metavar="R")
    sweep.add_argument("--steps", type=int, default=5, metavar="N", help="points (default: 5)")
    sweep.add_argument("--system", default="multi_agent", help="system to sweep (default: multi_agent)")
    sweep.add_argument("--out", type=Path, default=Path("whatif-sweep.html"), metavar="FILE")
    sweep.set_defaults(func=run_sweep)
    fix = sub.add_parser("fix-first", help="rank hops by the success a simulated rerun gains with each one "
                                           "perfect; add it to a run's card")
    fix.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a finished run directory")
    fix.add_argument("--tasks", type=Path, default=Path("fixtures"), metavar="PATH",
                     help="the golden-set directory the run used (default: fixtures)")
    fix.add_argument("--project", type=Path, default=Path("."), help="project with systems and vendor profiles")
    fix.add_argument("--trials", type=int, default=5, metavar="N",
                     help="reruns per task and variant (default: 5; more trials, less noise)")
    fix.set_defaults(func=run_fix_first)


def _setup(args: argparse.Namespace) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    from baton.fixtures import load_tasks
    from baton.matrix import select_tasks
    from baton.system_config import load_systems
    from baton.sim.whatif import knobs_for, parse_reliabilities
    from baton.vendor_config import load_profiles, resolve

    if args.trials < 1:
        raise ConfigError(f"--trials: expected at least 1, got {args.trials}")
    base: dict[str, Any] = {}
    if args.profile:
        profile = resolve(load_profiles(args.project), args.profile)
        if profile.kind != "sim":
            raise ConfigError(f"--profile {args.profile}: expected a simulated profile (kind = \"sim\"), "
                              f"got kind '{profile.kind}'")
        base = {k: v for k, v in (profile.sim or {}).items()
                if k not in ("rate_429", "rate_500", "rate_timeout")}
    table = knobs_for(parse_reliabilities(args.what_if), base)
    tasks = select_tasks(load_tasks(args.tasks), args.task_filter, "--task-filter")
    return tasks, table, load_systems(args.project)


class _Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def __call__(self) -> None:
        self.done += 1
        if sys.stderr.isatty():
            print(f"\rbaton whatif: {self.done}/{self.total} runs", end="" if self.done < self.total else "\n",
                  file=sys.stderr, flush=True)
        elif self.done == self.total or self.done % 100 == 0:
            print(f"baton whatif: {self.done}/{self.total} runs", file=sys.stderr, flush=True)

    def finish(self) -> None:
        """End the progress line where the work ended below the announced total."""
        if self.done < self.total:
            end = "\n" if sys.stderr.isatty() else ""
            print(f"{end}baton whatif: {self.done} runs done", file=sys.stderr, flush=True)


def run_whatif(args: argparse.Namespace) -> int:
    from baton.run_settings import parse_names
    from baton.system_config import resolve_systems
    from baton.sim.whatif import what_if

    tasks, table, known = _setup(args)
    systems = resolve_systems(parse_names(args.systems, "--systems"), known)
    progress = _Progress(len(systems) * len(tasks) * (args.trials + 1))
    results = [asyncio.run(what_if(tasks, s, table, trials=args.trials, seed=args.seed, tick=progress))
               for s in systems]
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
        return 0
    print(f"What-if (simulated vendor, {len(tasks)} tasks x {args.trials} trials): "
          + ", ".join(f"{k}={v:g}" for k, v in results[0].reliabilities.items()))
    print(f"{'system':<28} {'predicted':>9} {'measured':>9}  95% interval")
    for r in results:
        low, high = r.interval
        print(f"{r.system:<28} {r.predicted:>9.1%} {r.measured:>9.1%}  [{low:.1%}, {high:.1%}]")
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from baton.system_config import resolve_systems
    from baton.sim.whatif import HOPS, baseline, knobs_for, what_if, without_verify
    from baton.sim.whatif_chart import Series, render_html

    if args.hop not in HOPS or args.hop == "verify_false_alarm":
        raise ConfigError(f"--hop: expected one of route, act, answer, verify_catch; got {args.hop!r}")
    if args.steps < 2 or not 0 <= args.start <= 1 or not 0 <= args.stop <= 1 or args.start >= args.stop:
        raise ConfigError("--from/--to/--steps: expected 0 <= from < to <= 1 and at least 2 steps")
    tasks, table, known = _setup(args)
    system = resolve_systems([args.system], known)[0]
    variants = [system, without_verify(system)] if args.hop != "verify_catch" else [system]
    values = [round(args.start + i * (args.stop - args.start) / (args.steps - 1), 6) for i in range(args.steps)]
    progress = _Progress(len(variants) * len(tasks) * (1 + args.trials * len(values)))

    async def sweep() -> list[Series]:
        series = []
        for variant in variants:
            decisions = await baseline(tasks, variant, progress)
            points = []
            for value in values:
                point = knobs_for({args.hop: value}, table)
                points.append((value, await what_if(tasks, variant, point, trials=args.trials, seed=args.seed,
                                                    decisions=decisions, tick=progress)))
            series.append(Series(variant.name, points))
        return series

    series = asyncio.run(sweep())
    fixed = ", ".join(f"{k}={v:g}" for k, v in series[0].points[0][1].reliabilities.items() if k != args.hop)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_html(args.hop, series, fixed), encoding="utf-8")
    for s in series:
        print(f"{s.label}: " + ", ".join(f"{x:g} -> {r.measured:.1%} (pred. {r.predicted:.1%})" for x, r in s.points))
    print(f"baton whatif: chart written to {args.out} (simulated)")
    return 0


def run_fix_first(args: argparse.Namespace) -> int:
    from baton.fixtures import load_tasks
    from baton.matrix import load_systems
    from baton.reports.rundir import check_run_dir
    from baton.reports.write import write_reports
    from baton.sim.fixfirst import HOP_RATES, can_rerun, hop_tables, simulate_fix_first, write_simulated
    from baton.store import iter_results
    from baton.vendor_config import load_profiles

    if args.trials < 1:
        raise ConfigError(f"--trials: expected at least 1, got {args.trials}")
    run_dir = check_run_dir(args.run_dir)
    configs: dict[tuple[str, str], tuple[set[str], int]] = {}
    for result in iter_results(run_dir):
        if result.key.mode == "system":
            ids, _ = configs.setdefault((result.key.system, result.key.vendor), (set(), result.seed))
            ids.add(result.key.task_id)
    if not configs:
        raise ConfigError(f"{run_dir}: no system-mode runs to rerun")
    profiles, systems = load_profiles(args.project), load_systems(args.project)
    by_id = {t.id: t for t in load_tasks(args.tasks)}
    plans = []
    for (system_name, vendor), (ids, seed) in sorted(configs.items()):
        label = f"{system_name} @ {vendor}"
        profile, system = profiles.get(vendor), systems.get(system_name)
        missing = sorted(ids - set(by_id))
        why = ("its vendor is not simulated" if profile is None or profile.kind != "sim" else
               f"system {system_name!r} is not defined in {args.project}" if system is None else
               "a role runs on another vendor" if not can_rerun(system, vendor) else
               f"{len(missing)} of its tasks are not in {args.tasks} (e.g. {missing[0]})" if missing else "")
        if why:
            print(f"baton whatif fix-first: {label}: skipped, {why}", file=sys.stderr)
            continue
        tasks = [by_id[i] for i in sorted(ids)]
        plans.append((profile, system, tasks, seed, 1 + len(hop_tables(profile.sim or {}))))
    if not plans:
        raise ConfigError(f"{run_dir}: no configuration can be rerun on the simulated vendor (see above)")
    # at most: hops a system does not have are not rerun, so the count may end below it
    progress = _Progress(sum(len(t) * args.trials * variants for _, _, t, _, variants in plans))
    results = [asyncio.run(simulate_fix_first(tasks, system, profile, trials=args.trials, seed=seed, tick=progress))
               for profile, system, tasks, seed, _ in plans]
    progress.finish()
    path = write_simulated(run_dir, results)
    write_reports(run_dir)
    for r in results:
        ranked = ", ".join(f"{g.hop} {g.gain * 100:+.1f} pts -> {g.success_if_perfect:.1%}" for g in r.gains)
        print(f"{r.config} (simulated, {r.runs} runs, {r.baseline:.1%} at the profile's rates): "
              f"{ranked or 'no hop has a mistake rate to remove'}")
    print(f"baton whatif fix-first: written to {path}; the run's reports now show it "
          f"(hops: {', '.join(HOP_RATES)}; retrieve has no simulated model)")
    return 0
