"""``baton diff BASELINE CANDIDATE``: what got better or worse between two runs, and how surely."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from baton.reports.diff import Change, RunDiff


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff", help="compare two runs per system and per task, with paired significance tests",
        description="Compare the success of a candidate run with a baseline run, per configuration "
                    "(vendor x system) and per task, flagging significant changes (paired tests over "
                    "tasks). Exits 0 unless --fail-on-regression is given and a configuration got "
                    "significantly worse (exit 1).")
    parser.add_argument("baseline", metavar="BASELINE", type=Path, help="baseline run directory")
    parser.add_argument("candidate", metavar="CANDIDATE", type=Path, help="candidate run directory")
    parser.add_argument("--format", choices=("markdown", "text"), default="markdown",
                        help="output format (default: markdown)")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="significance level of the paired tests (default: 0.05)")
    parser.add_argument("--fail-on-regression", action="store_true",
                        help="exit 1 when any configuration is significantly worse")
    parser.add_argument("--allow-different-fixtures", action="store_true",
                        help="compare runs whose fixture-set hashes differ")
    parser.add_argument("--out", metavar="FILE", type=Path, default=None,
                        help="also write the output to FILE")
    parser.set_defaults(func=run)


def render_text(diff: RunDiff) -> str:
    """Aligned plain-text tables for a terminal."""
    import pandas as pd

    from baton.reports.render import fmt_num, fmt_pct, fmt_points

    def rows(changes: list[Change], with_task: bool) -> pd.DataFrame:
        return pd.DataFrame([{**({"task": c.task_id} if with_task else {}),
                              "configuration": c.config + (" (simulated)" if c.simulated else ""),
                              "baseline": fmt_pct(c.baseline), "candidate": fmt_pct(c.candidate),
                              "delta": fmt_points(c.delta), "p": fmt_num(c.p_value, 3), "change": c.flag}
                             for c in changes])
    parts = [f"baseline  {diff.baseline}", f"candidate {diff.candidate}"]
    if diff.fixtures_differ:
        parts.append("warning: the runs used different fixture sets")
    parts += ["", rows(diff.configs, False).to_string(index=False)]
    changed = diff.changed_tasks()
    if changed:
        parts += ["", "tasks that changed:", rows(changed, True).to_string(index=False)]
    parts.append(f"\n{len(diff.regressions)} significantly worse, {len(diff.improvements)} significantly "
                 f"better (alpha {diff.alpha})")
    return "\n".join(parts) + "\n"


def run(args: argparse.Namespace) -> int:
    from baton.reports.diff import diff_runs  # pandas and SciPy load only when used
    from baton.reports.render import render_diff_markdown

    diff = diff_runs(args.baseline, args.candidate, alpha=args.alpha,
                     allow_different_fixtures=args.allow_different_fixtures)
    output = render_diff_markdown(diff) if args.format == "markdown" else render_text(diff)
    print(output, end="")
    if args.out is not None:
        args.out.write_text(output, encoding="utf-8")
    return 1 if args.fail_on_regression and diff.regressions else 0
