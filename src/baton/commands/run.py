"""``baton run``: run tasks × systems × vendors × trials into a run directory.

Defaults come from ``[tool.baton.run]`` in the project's pyproject.toml (see ``baton.matrix``);
flags override them. ``--resume RUN_DIR`` rebuilds the matrix from the run's manifest (flags
given again must agree with it) and completes only the runs that are missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from baton.errors import BatonError, ConfigError
from baton.run_options import add_to_argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run the golden set on systems and vendors",
        description="Run every task on every system and vendor, for a number of trials, and write a "
                    "run directory (manifest.json, results.jsonl). Defaults come from [tool.baton.run] "
                    "in pyproject.toml; the default vendor is the simulated sim-frontier.")
    parser.add_argument("--project", type=Path, default=None,
                        help="project directory (default: the nearest folder with a pyproject.toml)")
    add_to_argparse(parser, ("tasks", "task-filter", "systems", "vendors", "vendors-file", "trials", "seed"))
    parser.add_argument("--modes", default=None, metavar="M,N",
                        help="'system' and/or isolated-component modes 'isolated:<hop>' "
                             "(route|retrieve|draft|act|verify) (default: system)")
    add_to_argparse(parser, ("concurrency",))
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="run directory to create (default: reports/<UTC timestamp>)")
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="complete an interrupted run: its missing runs, and the runs that ended in "
                             "infrastructure errors, are run (the new record of a run supersedes the old)")
    parser.add_argument("--keep-errors", action="store_true",
                        help="with --resume: keep runs that ended in infrastructure errors instead of retrying them")
    parser.add_argument("--shard", default=None, metavar="i/N",
                        help="run only shard i of N (1-based): a stable split by unit id, so N machines "
                             "(a CI matrix, a Kubernetes indexed job) share a run with no coordinator; "
                             "combine the shard directories with 'baton merge'")
    parser.add_argument("--backend", choices=("local", "ray"), default=None,
                        help="where units run: 'local' (this process, default) or 'ray' (Ray tasks across a "
                             "cluster, one vendor limiter for the whole cluster; pip install 'baton-evals[ray]')")
    parser.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="--backend ray: the cluster to join, e.g. 10.0.0.5:6379 (default: RAY_ADDRESS, "
                             "else a local Ray started for this run)")
    parser.add_argument("--budget-usd", type=float, default=None, metavar="USD",
                        help="--backend ray: submit no more runs once the run's cost reaches this; runs in "
                             "flight finish and are stored; resume later with a higher budget")
    add_execution_options(parser)
    parser.set_defaults(func=run)


def add_execution_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``baton run`` and ``baton compare``: cache and LLM judge."""
    add_to_argparse(parser, ("no-cache",))
    parser.add_argument("--judge", default=None, metavar="VENDOR",
                        help="also rate every answer with an LLM judge on this vendor profile; the verdict, "
                             "model and prompt are stored with the run's grade (off by default)")
    parser.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                        help="response cache directory (default: .baton-cache in the project)")
    parser.add_argument("--max-error-rate", type=_rate, default=None, metavar="RATE",
                        help="exit 1 when a configuration's share of runs ending in infrastructure errors "
                             "is above RATE (0..1); default: only when all of its runs errored")
    from baton.commands.otel import add_otel_options

    add_otel_options(parser)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def report_infra_errors(run_dir: Path, max_error_rate: float | None, command: str) -> bool:
    """Print the infrastructure errors of a run (per vendor, the most common cause) to stderr;
    True when a configuration's error rate sinks the run (see ``baton.run_health``)."""
    from baton.run_health import error_report

    report = error_report(run_dir)
    if not report.errors:
        return False
    failing = report.failing(max_error_rate)
    prefix = f"baton {command}: error: " if failing else f"baton {command}: warning: "
    print(prefix + f"{report.errors} runs ended in infrastructure errors (not counted as failures)\n"
          + report.describe(max_error_rate), file=sys.stderr)
    if failing:
        print(f"baton {command}: fix the cause, then retry just those runs with: baton run --resume {run_dir}",
              file=sys.stderr)
    return bool(failing)


def timestamped_run_dir(base: Path, suffix: str = "") -> Path:
    """A new run directory under ``base`` named by the UTC time (and ``suffix``), never reused."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + suffix
    candidate = base / stamp
    n = 2
    while candidate.exists():
        candidate = base / f"{stamp}-{n}"
        n += 1
    return candidate


def _resume_measurement(args: argparse.Namespace, use_cache: bool) -> tuple[bool, str | None]:
    """The cache and judge options of ``--resume``: the run's recorded ones unless given again
    (a different one is then refused by the configuration check, with the difference named)."""
    from baton.manifest import read_manifest

    manifest = read_manifest(args.resume)
    judge = args.judge if args.judge is not None else (manifest.config.judge or manifest.invocation.get("judge"))
    if args.no_cache:
        return False, judge
    return (manifest.config.cache if use_cache else use_cache), judge


def _resume_choices(args: argparse.Namespace) -> dict[str, Any]:
    """The matrix choices of ``--resume``: the manifest's, overridden by flags given again."""
    from baton.manifest import read_manifest

    if args.out is not None:
        raise ConfigError("--resume RUN_DIR and --out DIR are exclusive (the run directory is RUN_DIR)")
    if not args.resume.is_dir():
        raise BatonError(f"--resume: {args.resume} is not a directory")
    manifest = read_manifest(args.resume)
    stored = manifest.invocation
    if not stored:
        raise BatonError(f"{args.resume}/manifest.json: no invocation recorded; cannot rebuild the run's matrix")
    choices = {"project_dir": Path(stored["project_dir"]) if stored.get("project_dir") else None,
               "tasks": stored.get("tasks"), "task_filter": stored.get("task_filter"),
               "systems": stored.get("systems"), "vendors": stored.get("vendors"),
               "trials": stored.get("trials"), "seed": stored.get("seed"), "modes": stored.get("modes"),
               "vendors_file": stored.get("vendors_file"), "vendor_limits": stored.get("vendor_limits")}
    for name in ("tasks", "task_filter", "systems", "vendors", "trials", "seed", "modes", "vendors_file"):
        value = getattr(args, name)
        if value is not None:
            choices[name] = value
    if args.project is not None:
        choices["project_dir"] = args.project
    return choices


def _check_backend_flags(args: argparse.Namespace) -> None:
    """Flag errors found before anything is loaded or created."""
    if args.shard is not None:
        from baton.units import parse_shard

        parse_shard(args.shard)
    ray_flags = args.budget_usd is not None or args.ray_address is not None
    if ray_flags and args.backend != "ray" and args.resume is None:
        raise ConfigError("--budget-usd and --ray-address apply to --backend ray only")
    if args.budget_usd is not None and args.budget_usd <= 0:
        raise ConfigError(f"--budget-usd: expected a positive amount, got {args.budget_usd:g}")


def _run_on_ray(args: argparse.Namespace, matrix: Any, profiles: Any, run_dir: Path, manifest: Any,
                concurrency: int, judge: str | None) -> Any:
    from baton.backends.ray_backend import run_matrix_ray
    from baton.progress import default_progress

    if judge is not None:
        raise ConfigError("--judge is not supported with --backend ray yet; run the judge with the local backend")
    summary, budget_hit = run_matrix_ray(
        matrix, profiles=profiles, run_dir=run_dir, manifest=manifest, address=args.ray_address,
        concurrency=concurrency, budget_usd=args.budget_usd, progress=default_progress(),
        on_event=lambda line: print(f"baton run: {line}", file=sys.stderr, flush=True))
    if budget_hit:
        print(f"baton run: stopped at the budget; resume with: baton run --resume {run_dir} --budget-usd MORE",
              file=sys.stderr)
    return summary


def _shard_choice(args: argparse.Namespace) -> Any:
    """The shard to run: ``--shard``, or on ``--resume`` the shard the run was started with
    (giving a different one is refused)."""
    from baton.manifest import read_manifest
    from baton.units import Shard, parse_shard

    shard = parse_shard(args.shard) if args.shard is not None else None
    if args.resume is None:
        return shard
    stored = read_manifest(args.resume).invocation.get("shard")
    started = Shard(int(stored["index"]), int(stored["count"])) if stored else None
    if args.shard is not None and shard != started:
        raise ConfigError(f"--shard {shard}: {args.resume} was started as "
                          f"{'shard ' + str(started) if started else 'an unsharded run'}; resume it without "
                          f"--shard or with the same one")
    return started


def run(args: argparse.Namespace) -> int:
    from baton.commands.otel import exporting, otel_settings
    from baton.engine import prepare_manifest, run_matrix_sync
    from baton.manifest import read_manifest
    from baton.plan import plan_run
    from baton.project import find_project_dir
    from baton.run_settings import load_settings
    from baton.progress import default_progress
    from baton.store import check_same_config

    for flag in ("trials", "concurrency"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ConfigError(f"--{flag}: expected an integer >= 1, got {value}")
    _check_backend_flags(args)
    if args.resume is not None:
        choices = _resume_choices(args)
    else:
        choices = {name: getattr(args, name) for name in
                   ("tasks", "task_filter", "systems", "vendors", "trials", "seed", "modes", "vendors_file")}
        choices["project_dir"] = args.project
    project_dir = (choices.pop("project_dir") or find_project_dir()).resolve()
    if not project_dir.is_dir():
        raise ConfigError(f"--project: {project_dir} is not a directory")
    settings = load_settings(project_dir)
    otel = otel_settings(args, project_dir)
    plan = plan_run(project_dir, settings=settings, **choices)

    if args.resume is not None:
        run_dir = args.resume
    elif args.out is not None:
        run_dir = args.out
        if (run_dir / "manifest.json").exists():
            raise BatonError(f"--out: {run_dir} already holds a run; use --resume {run_dir} to complete it, "
                             f"or choose another directory")
    else:
        run_dir = timestamped_run_dir(project_dir / settings.out)
    execution = settings.execution(concurrency=args.concurrency, no_cache=args.no_cache, cache_dir=args.cache_dir)
    concurrency, use_cache, cache_dir = execution.concurrency, execution.use_cache, execution.cache_dir

    matrix = plan.matrix
    shard_note = ""
    shard = _shard_choice(args)
    if shard is not None:
        from baton.units import shard_matrix

        matrix = shard_matrix(matrix, shard)
        plan.invocation["shard"] = {**shard.as_json(), "matrix_runs": matrix.full_len()}
        shard_note = f", shard {shard} of {matrix.full_len()} runs"
    judge = args.judge
    if args.keep_errors and args.resume is None:
        raise ConfigError("--keep-errors: only with --resume RUN_DIR (a new run has no errors to keep)")
    if args.resume is not None:
        use_cache, judge = _resume_measurement(args, use_cache)
    invocation = {**plan.invocation, "judge": judge} if judge else plan.invocation
    if args.backend == "ray":
        invocation = {**invocation, "backend": "ray"}
    manifest = prepare_manifest(matrix, plan.profiles, project_dir=project_dir, invocation=invocation,
                                use_cache=use_cache, judge=judge)
    if args.resume is not None:
        check_same_config(run_dir, read_manifest(run_dir), manifest)
    verb = "resuming" if args.resume is not None else "running"
    print(f"baton run: {verb} {len(matrix)} runs ({len(matrix.tasks)} tasks × {len(matrix.cells)} "
          f"system/mode cells × {len(matrix.vendors)} vendors × {matrix.trials} trials{shard_note}) in {run_dir}",
          file=sys.stderr, flush=True)
    backend = args.backend or (read_manifest(args.resume).invocation.get("backend")
                               if args.resume is not None else None) or "local"
    if backend == "ray":
        with exporting(otel, run_dir):
            summary = _run_on_ray(args, matrix, plan.profiles, run_dir, manifest, concurrency, judge)
    else:
        if args.budget_usd is not None or args.ray_address is not None:
            raise ConfigError("--budget-usd and --ray-address apply to --backend ray only")
        with exporting(otel, run_dir):
            summary = run_matrix_sync(matrix, profiles=plan.profiles, run_dir=run_dir, concurrency=concurrency,
                                      use_cache=use_cache, cache_dir=cache_dir, progress=default_progress(),
                                      manifest=manifest, judge=judge, retry_errors=not args.keep_errors)
    print(f"run directory: {summary.run_dir}")
    print(summary.line())
    if summary.cancelled:
        print(f"baton run: interrupted; finished runs are stored. Complete it with: "
              f"baton run --resume {summary.run_dir}", file=sys.stderr)
        return 130
    if summary.errors and report_infra_errors(summary.run_dir, args.max_error_rate, "run"):
        return 1
    return 0
