"""``baton compare``: run the golden set on several vendors and systems, then write the report.

With no arguments it compares the embedded offline vendors — the real local model
(``local-smollm2``) and the simulated profiles — on the three reference architectures. A local
model on a laptop is slow, so vendors of kind ``local`` run a small subset of the tasks, one trial,
in system mode only (``--local-tasks``, ``--local-trials``); the simulated vendors run the whole
golden set with several trials and the isolated-component modes that the coordination gap needs.

Defaults can be set in ``[tool.baton.compare]`` (same keys as the flags, with underscores)::

    [tool.baton.compare]
    vendors = ["local-smollm2", "sim-frontier", "sim-small", "sim-flaky"]
    systems = ["naive", "rag", "multi_agent"]
    trials = 3
    modes = ["system", "isolated:route", "isolated:act"]
    local_tasks = "billing/refund-late-fee-5120,billing/invoice-due-date"
    local_trials = 1
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from baton.commands.run import add_execution_options, report_infra_errors
from baton.errors import BatonError, ConfigError

DEFAULT_VENDORS = ("local-smollm2", "sim-frontier", "sim-small", "sim-flaky")
DEFAULT_SYSTEMS = ("naive", "rag", "multi_agent")
DEFAULT_TRIALS = 3
DEFAULT_LOCAL_TASK_COUNT = 2


def default_modes() -> list[str]:
    """'system' and every isolated mode a registered architecture declares."""
    from baton.runners.registry import isolated_modes

    return ["system", *isolated_modes()]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare", help="run vendors × systems on the golden set and write the report (the main job)",
        description="Run the golden set on several vendors and systems, then write report.html, "
                    "report.md, CSV and JSON. With no arguments: the embedded offline vendors (the real "
                    "local model on a few tasks, the simulated profiles on all of them) × naive, rag, "
                    "multi_agent. Defaults come from [tool.baton.compare] in pyproject.toml.")
    parser.add_argument("--project", type=Path, default=None,
                        help="project directory (default: the nearest folder with a pyproject.toml)")
    parser.add_argument("--tasks", type=Path, default=None, metavar="PATH",
                        help="golden set (default: [tool.baton.run] tasks, else fixtures/)")
    parser.add_argument("--task-filter", default=None, metavar="GLOB", help="only tasks matching these globs")
    parser.add_argument("--vendors", default=None, metavar="X,Y",
                        help=f"vendor profiles (default: {','.join(DEFAULT_VENDORS)})")
    parser.add_argument("--vendors-file", type=Path, default=None, metavar="PATH",
                        help="an extra vendor profile file (TOML, one table per profile)")
    parser.add_argument("--systems", default=None, metavar="A,B",
                        help=f"systems (default: {','.join(DEFAULT_SYSTEMS)})")
    parser.add_argument("--trials", type=int, default=None, metavar="N",
                        help=f"trials per task (default: {DEFAULT_TRIALS}); pass^k uses k = trials")
    parser.add_argument("--modes", default=None, metavar="M,N",
                        help="system and isolated-component modes (default: system and every isolated hop)")
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="matrix seed (default: 0)")
    parser.add_argument("--local-tasks", default=None, metavar="GLOB",
                        help="tasks for local-model vendors (default: one action task and one question "
                             f"task, {DEFAULT_LOCAL_TASK_COUNT} in all)")
    parser.add_argument("--local-trials", type=int, default=None, metavar="N",
                        help="trials for local-model vendors (default: 1)")
    parser.add_argument("--no-local", action="store_true", help="leave out local-model vendors")
    parser.add_argument("--concurrency", type=int, default=None, metavar="N", help="runs in flight (default: 32)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="run directory (default: reports/<UTC timestamp>-compare)")
    add_execution_options(parser)
    parser.set_defaults(func=compare)


def compare(args: argparse.Namespace) -> int:
    from baton.engine import prepare_manifest, run_matrix_sync
    from baton.plan import plan_run
    from baton.project import find_project_dir
    from baton.run_settings import load_compare_table, load_settings, parse_modes, parse_names
    from baton.progress import default_progress
    from baton.commands.otel import exporting, otel_settings
    from baton.commands.run import timestamped_run_dir
    from baton.reports import write_reports

    for flag in ("trials", "local_trials", "concurrency"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ConfigError(f"--{flag.replace('_', '-')}: expected an integer >= 1, got {value}")
    project_dir = (args.project or find_project_dir()).resolve()
    if not project_dir.is_dir():
        raise ConfigError(f"--project: {project_dir} is not a directory")
    settings = load_settings(project_dir)
    otel = otel_settings(args, project_dir)
    config, source = load_compare_table(project_dir)

    def choose(flag: Any, key: str, default: Any) -> Any:
        return flag if flag is not None else config.get(key, default)

    vendors = list(parse_names(choose(args.vendors, "vendors", list(DEFAULT_VENDORS)), f"{source}: vendors"))
    systems = list(parse_names(choose(args.systems, "systems", list(DEFAULT_SYSTEMS)), f"{source}: systems"))
    modes = list(parse_modes(choose(args.modes, "modes", default_modes()), f"{source}: modes"))
    trials = _positive(choose(args.trials, "trials", DEFAULT_TRIALS), f"{source}: trials")
    local_trials = _positive(choose(args.local_trials, "local_trials", 1), f"{source}: local_trials")
    seed = choose(args.seed, "seed", settings.seed)

    # Resolve profiles once to know which vendors are local models.
    probe = plan_run(project_dir, settings=settings, tasks=args.tasks,
                     task_filter=choose(args.task_filter, "task_filter", None),
                     systems=systems, vendors=vendors, trials=trials, seed=seed, modes=["system"],
                     vendors_file=args.vendors_file)
    local = [v for v in vendors if probe.profiles[v].kind == "local"]
    if args.no_local:
        vendors = [v for v in vendors if v not in local]
        local = []
        if not vendors:
            raise ConfigError("--no-local leaves no vendor to compare")
    local_filter = choose(args.local_tasks, "local_tasks", None)
    if local and local_filter is None:
        local_filter = ",".join(_representative_tasks(probe.matrix.tasks, DEFAULT_LOCAL_TASK_COUNT))
    limits = {v: {"task_filter": local_filter, "trials": local_trials, "modes": ["system"]} for v in local}

    plan = plan_run(project_dir, settings=settings, tasks=args.tasks,
                    task_filter=choose(args.task_filter, "task_filter", None), systems=systems,
                    vendors=vendors, trials=trials, seed=seed, modes=modes, vendors_file=args.vendors_file,
                    vendor_limits=limits)
    run_dir = args.out or timestamped_run_dir(project_dir / settings.out, "-compare")
    if (run_dir / "manifest.json").exists():
        raise BatonError(f"--out: {run_dir} already holds a run; use `baton run --resume {run_dir}` to "
                         f"complete it and `baton report {run_dir}` to report it, or choose another directory")
    matrix = plan.matrix
    invocation = {**plan.invocation, "judge": args.judge} if args.judge else plan.invocation
    execution = settings.execution(concurrency=args.concurrency, no_cache=args.no_cache, cache_dir=args.cache_dir)
    manifest = prepare_manifest(matrix, plan.profiles, project_dir=project_dir, invocation=invocation,
                                use_cache=execution.use_cache, judge=args.judge)
    simulated = [v for v in vendors if plan.profiles[v].simulated]
    print(f"baton compare: {len(matrix)} runs — {len(matrix.tasks)} tasks × {', '.join(systems)} × "
          f"{', '.join(vendors)}; {trials} trial(s)"
          + (f"; local model(s) {', '.join(local)} on {len(_local_tasks(matrix, local))} task(s), "
             f"{min(local_trials, trials)} trial(s)" if local else "")
          + (f"; simulated: {', '.join(simulated)}" if simulated else ""),
          file=sys.stderr, flush=True)
    with exporting(otel, run_dir):
        summary = run_matrix_sync(matrix, profiles=plan.profiles, run_dir=run_dir,
                                  concurrency=execution.concurrency, use_cache=execution.use_cache,
                                  cache_dir=execution.cache_dir,
                                  progress=default_progress(), manifest=manifest, judge=args.judge)
    print(summary.line(), file=sys.stderr)
    if summary.cancelled:
        print(f"interrupted: finished runs are kept; complete them with `baton run --resume {run_dir}`",
              file=sys.stderr)
    paths = write_reports(run_dir)
    markdown = paths.get("md")
    if markdown is not None and markdown.exists():
        print(markdown.read_text(encoding="utf-8"))
    for kind, path in paths.items():
        print(f"{kind}: {path}", file=sys.stderr)
    if summary.cancelled:
        return 130
    if summary.errors and report_infra_errors(run_dir, args.max_error_rate, "compare"):
        return 1
    return 0


def _positive(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected an integer >= 1, got {value!r}")
    return value


def _representative_tasks(tasks: Sequence[Any], count: int) -> list[str]:
    """A few tasks that show the architectures apart: an action task first, then a question."""
    chosen: list[str] = []
    for outcome in ("act", "answer", "refuse", "ask", "escalate"):
        for task in sorted(tasks, key=lambda t: t.id):
            if task.gold.outcome == outcome:
                chosen.append(task.id)
                break
        if len(chosen) >= count:
            break
    return chosen or [sorted(t.id for t in tasks)[0]]


def _local_tasks(matrix: Any, local: Sequence[str]) -> set[str]:
    ids: set[str] = set()
    for vendor in local:
        limit = matrix.limits.get(vendor)
        ids |= set(limit.tasks) if limit is not None and limit.tasks is not None else {t.id for t in matrix.tasks}
    return ids
