"""``pytest evals/``: the golden set as test items, and quality gates that decide the exit status.

A test asks for the ``baton_case`` fixture and is parametrized with one case per
(task, system, vendor) of the run matrix, with ids like
``test_golden_set[billing/refund-late-fee-5120|multi_agent@sim-frontier]``::

    def test_golden_set(baton_case):
        baton_case.check()

How a session goes:

* Collection builds the matrix from ``--baton-*`` options, ini keys and ``[tool.baton.run]``
  (:mod:`baton.plugin_options`, :func:`baton.matrix.plan_run`); ``-k`` and other deselection
  apply as usual.
* The first case that needs its result runs the *selected* cases, once, concurrently, through
  :func:`baton.engine.run_matrix` into a run directory like ``baton run`` writes. Under
  pytest-xdist the controller names the run directory and every worker holds a file lock on it
  while calling the engine: the first one runs the matrix, the others find every key stored
  (resume) and only read it, so results equal a serial run's.
* A case passes when every trial succeeded. A failed task is reported as ``xfail`` with what went
  wrong (failure category, first divergent hop, failed checks); ``--baton-strict`` makes it a
  failure. A case whose trials hit only infrastructure errors is skipped.
* At the end (on the xdist controller) the report card is built, reports are written into the run
  directory (``report.md``, ``report.html``, tables, plus ``gates.json`` and ``summary.md``), the
  gates are evaluated, and the session exits non-zero when any gate fails. The terminal summary
  prints the compact card and every failed gate with its measured value and threshold.

Without ``baton_case`` tests the plugin does nothing: no matrix, no files, no output.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from baton.errors import BatonError
from baton.plugin_options import GateOptions, add_options, resolve_options

__all__ = ["CaseId", "TrialOutcome", "CaseOutcome", "GateSession", "FIXTURE"]

FIXTURE = "baton_case"
SUMMARY_MD = "summary.md"
GATES_JSON = "gates.json"
_RUN_DIR_KEY = "baton_run_dir"
_TOKEN_KEY = "baton_token"
_SUMMARY_KEY = "baton_summary"


class CaseId(NamedTuple):
    """One test item: a task on a system and vendor."""

    task_id: str
    system: str
    vendor: str

    @property
    def test_id(self) -> str:
        return f"{self.task_id}|{self.system}@{self.vendor}"


@dataclass(frozen=True, slots=True)
class TrialOutcome:
    """What a case needs from one stored run (no trace)."""

    trial: int
    status: str
    failure_category: str | None = None
    first_divergent_hop: str | None = None
    failed_checks: tuple[tuple[str, str], ...] = ()
    infra_error: str | None = None
    cost_usd: float = 0.0
    latency_s: float = 0.0

    def explain(self) -> str:
        if self.status == "error":
            return f"trial {self.trial}: infrastructure error: {self.infra_error or 'unknown'}"
        parts = [f"trial {self.trial}: {self.failure_category or 'failed'}"]
        if self.first_divergent_hop:
            parts.append(f"first divergent hop: {self.first_divergent_hop}")
        if self.failed_checks:
            checks = "; ".join(f"{name} ({detail})" if detail else name for name, detail in self.failed_checks)
            parts.append(f"failed checks: {checks}")
        return ", ".join(parts)


@dataclass(frozen=True)
class CaseOutcome:
    """The ``baton_case`` fixture's value: one case's trials, and how to report them."""

    case: CaseId
    trials: tuple[TrialOutcome, ...]
    run_dir: Path
    strict: bool = False

    @property
    def successes(self) -> int:
        return sum(t.status == "passed" for t in self.trials)

    @property
    def failures(self) -> list[TrialOutcome]:
        return [t for t in self.trials if t.status == "failed"]

    @property
    def errors(self) -> list[TrialOutcome]:
        return [t for t in self.trials if t.status == "error"]

    @property
    def passed(self) -> bool:
        return bool(self.trials) and self.successes == len(self.trials)

    @property
    def cost_usd(self) -> float:
        return sum(t.cost_usd for t in self.trials)

    def explain(self) -> str:
        """Why the case did not pass, one line per failed or errored trial."""
        bad = [t for t in self.trials if t.status != "passed"]
        head = (f"{self.case.task_id} on {self.case.system}@{self.case.vendor}: "
                f"{self.successes}/{len(self.trials)} trials passed")
        return "\n".join([head, *(f"  {t.explain()}" for t in bad)])

    def check(self) -> None:
        """Pass, or report the failure: xfail (fail with ``strict``), skip on infrastructure errors only."""
        __tracebackhide__ = True
        if not self.trials:
            pytest.fail(f"no stored result for {self.case.test_id} in {self.run_dir}", pytrace=False)
        if self.failures:
            if self.strict:
                pytest.fail(self.explain(), pytrace=False)
            pytest.xfail(self.explain())
        if self.errors:
            pytest.skip(self.explain())


def _trial(result: Any) -> TrialOutcome:
    grade = result.grade
    return TrialOutcome(trial=result.key.trial, status=result.status, failure_category=grade.failure_category,
                        first_divergent_hop=grade.first_divergent_hop,
                        failed_checks=tuple((c.name, c.detail) for c in grade.checks if not c.passed),
                        infra_error=result.trace.infra_error, cost_usd=result.usage.cost_usd,
                        latency_s=result.latency_s)


def read_cases(run_dir: Path, cases: Iterable[CaseId]) -> dict[CaseId, tuple[TrialOutcome, ...]]:
    """System-mode trials of ``cases`` stored in ``run_dir``, by case, in trial order."""
    from baton.store import iter_results

    wanted = set(cases)
    found: dict[CaseId, list[TrialOutcome]] = {case: [] for case in wanted}
    for result in iter_results(run_dir):
        case = CaseId(result.key.task_id, result.key.system, result.key.vendor)
        if result.key.mode == "system" and case in wanted:
            found[case].append(_trial(result))
    return {case: tuple(sorted(trials, key=lambda t: t.trial)) for case, trials in found.items()}


def _timestamp_token() -> str:
    return f"{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-pytest{os.getpid()}"


def _call_sync(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a function that starts its own event loop, from inside a running loop if need be."""
    import asyncio
    import concurrent.futures

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


@dataclass
class _Plan:
    """What collection decided: the matrix to choose cases from, and where results go."""

    plan: Any  # baton.matrix.RunPlan
    cases: list[CaseId]
    run_dir: Path
    concurrency: int
    use_cache: bool
    cache_dir: Path


@dataclass
class GateSession:
    """Per-process state of the plugin, kept in ``config.stash``."""

    config: pytest.Config
    options: GateOptions
    token: str
    is_worker: bool
    selected: list[CaseId] = field(default_factory=list)
    run_dir: Path | None = None
    run_line: str | None = None
    runs_completed: int = -1
    verdicts: list[Any] = field(default_factory=list)
    card: Any = None
    written: dict[str, Path] = field(default_factory=dict)
    finish_error: str | None = None
    _plan: _Plan | None = None
    _plan_error: str | None = None
    _cases: dict[CaseId, tuple[TrialOutcome, ...]] | None = None
    _run_error: str | None = None

    # ------------------------------------------------------------------ collection

    @property
    def project_dir(self) -> Path:
        from baton.project import find_project_dir

        return find_project_dir(Path(self.config.rootpath))

    def plan(self) -> _Plan:
        """The matrix of this session, built once; a collection error on bad configuration."""
        __tracebackhide__ = True
        if self._plan is None and self._plan_error is None:
            try:
                self._plan = self._build_plan()
            except BatonError as exc:
                self._plan_error = str(exc)
        if self._plan_error is not None:
            pytest.fail(f"baton: {self._plan_error}", pytrace=False)
        assert self._plan is not None
        return self._plan

    def _build_plan(self) -> _Plan:
        from baton.gates import check_gate_names, load_config_gates
        from baton.plan import plan_run
        from baton.run_settings import load_settings
        from baton.system_config import load_systems

        opts = self.options
        project_dir = self.project_dir
        settings = load_settings(project_dir)
        plan = plan_run(project_dir, settings=settings, tasks=opts.tasks, task_filter=opts.task_filter,
                        systems=opts.systems, vendors=opts.vendors, trials=opts.trials, seed=opts.seed,
                        vendors_file=opts.vendors_file)
        gates = [*load_config_gates(project_dir), *opts.gates]
        check_gate_names(gates, load_systems(project_dir), plan.profiles)
        _require_baseline(gates, opts)
        matrix = plan.matrix
        cases = [CaseId(task.id, system.name, vendor)
                 for task in matrix.tasks for system in matrix.systems for vendor in matrix.vendors]
        if opts.run_dir is not None:
            run_dir = opts.run_dir
        else:
            run_dir = (opts.out or (project_dir / settings.out).resolve()) / self.token
        execution = settings.execution(concurrency=opts.concurrency, no_cache=opts.no_cache)
        return _Plan(plan=plan, cases=cases, run_dir=run_dir,
                     concurrency=execution.concurrency, use_cache=execution.use_cache,
                     cache_dir=execution.cache_dir)

    # ------------------------------------------------------------------ running

    def outcome(self, case: CaseId) -> CaseOutcome:
        """The stored trials of ``case``, running the selected matrix first if needed."""
        __tracebackhide__ = True
        cases = self._results()
        plan = self.plan()
        return CaseOutcome(case, cases.get(case, ()), plan.run_dir, strict=self.options.strict)

    def _results(self) -> dict[CaseId, tuple[TrialOutcome, ...]]:
        __tracebackhide__ = True
        if self._cases is None and self._run_error is None:
            try:
                self._cases = self._run()
            except BatonError as exc:
                self._run_error = str(exc)
        if self._run_error is not None:
            pytest.fail(f"baton: {self._run_error}", pytrace=False)
        assert self._cases is not None
        return self._cases

    def _run(self) -> dict[CaseId, tuple[TrialOutcome, ...]]:
        from filelock import FileLock

        from baton.engine import prepare_manifest, run_matrix_sync

        plan = self.plan()
        selected = self.selected or plan.cases
        matrix = _selected_matrix(plan.plan.matrix, selected)
        run_dir = plan.run_dir
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BatonError(f"{run_dir}: cannot create the run directory: {exc.strerror}") from None
        manifest = prepare_manifest(matrix, plan.plan.profiles, project_dir=plan.plan.project_dir,
                                    invocation={**plan.plan.invocation, "source": "pytest"})
        # Workers of one xdist session share the run directory: the first runs the matrix, the
        # others wait here and then find every key already stored.
        with FileLock(str(run_dir / ".pytest.lock")):
            # Infrastructure errors of an earlier session are retried, once: the other workers
            # of this session (the marker) keep what the first one stored.
            marker = run_dir / f".pytest-{self.token}"
            summary = _call_sync(run_matrix_sync, matrix, profiles=plan.plan.profiles, run_dir=run_dir,
                                 concurrency=plan.concurrency, use_cache=plan.use_cache,
                                 cache_dir=plan.cache_dir, manifest=manifest, retry_errors=not marker.exists())
            marker.touch()
        if summary.cancelled:
            raise KeyboardInterrupt  # finished runs are stored; pytest reports the interruption
        self.run_dir = run_dir
        self.run_line = summary.line()
        self.runs_completed = summary.completed
        return read_cases(run_dir, selected)

    # ------------------------------------------------------------------ the end of the session

    def finish(self, run_dir: Path) -> None:
        """Build the card, write the reports, evaluate the gates (controller only)."""
        from baton.gates import (DEFAULT_ALPHA, evaluate_gates, load_baseline, load_config_gates, save_baseline,
                                 verdicts_json)
        from baton.reports.diff import outcome_frame
        from baton.reports.write import load_card, write_reports
        from baton.store import iter_results

        opts = self.options
        gates = [*load_config_gates(self.project_dir), *opts.gates]
        _require_baseline(gates, opts)
        self.card = load_card(run_dir)
        baseline = load_baseline(opts.baseline) if opts.baseline is not None and gates else None
        outcomes = outcome_frame(iter_results(run_dir)) if baseline is not None else None
        self.verdicts = evaluate_gates(gates, self.card, outcomes=outcomes, baseline=baseline,
                                       default_alpha=opts.alpha or DEFAULT_ALPHA)
        self.written = write_reports(run_dir)
        gates_json = run_dir / GATES_JSON
        gates_json.write_text(verdicts_json(self.verdicts), encoding="utf-8")
        self.written["gates"] = gates_json
        summary = run_dir / SUMMARY_MD
        report_md = self.written["md"].read_text(encoding="utf-8")
        summary.write_text(gates_markdown(self.verdicts) + "\n" + report_md, encoding="utf-8")
        self.written["summary"] = summary
        if opts.save_baseline is not None:
            self.written["baseline"] = save_baseline(run_dir, opts.save_baseline)

    @property
    def failed(self) -> bool:
        return self.finish_error is not None or any(v.evaluated and not v.passed for v in self.verdicts)


def _require_baseline(gates: Sequence[Any], opts: GateOptions) -> None:
    """A no_regression gate needs a baseline that exists (checked before anything runs)."""
    needing = [declared for declared in gates if declared.gate.no_regression]
    if needing and opts.baseline is None:
        raise BatonError(f"{needing[0].source}: no_regression needs a baseline: pass --baton-baseline "
                         f"PATH or set the ini key baton_baseline (a run directory or a baseline file)")
    if needing and opts.baseline is not None and not opts.baseline.exists():
        raise BatonError(f"baseline {opts.baseline} does not exist (expected a run directory or a file "
                         f"written by --baton-save-baseline)")


def _selected_matrix(matrix: Any, selected: Sequence[CaseId]) -> Any:
    """The smallest matrix covering ``selected``; limited to exactly those cases when they do not
    fill it (e.g. ``-k`` chose a task on one system only)."""
    from baton.matrix import Matrix

    tasks = [t for t in matrix.tasks if any(c.task_id == t.id for c in selected)]
    systems = [s for s in matrix.systems if any(c.system == s.name for c in selected)]
    vendors = [v for v in matrix.vendors if any(c.vendor == v for c in selected)]
    kwargs = dict(tasks=tasks, systems=systems, vendors=vendors, trials=matrix.trials, seed=matrix.seed,
                  modes=matrix.modes, supports=matrix.supports)
    if len(set(selected)) == len(tasks) * len(systems) * len(vendors):
        return Matrix(**kwargs)
    return _selected_matrix_type()(**kwargs, selected=frozenset(selected))


@functools.cache
def _selected_matrix_type() -> type:
    """A :class:`baton.matrix.Matrix` limited to some (task, system, vendor) cells (defined on
    first use: this module must not import the engine when pytest loads it)."""
    from baton.matrix import Matrix

    @dataclass(frozen=True)
    class SelectedMatrix(Matrix):
        selected: frozenset[CaseId] = frozenset()

        def items_for(self, vendor: str) -> Iterator[Any]:
            for item in Matrix.items_for(self, vendor):
                if CaseId(item.task.id, item.system.name, vendor) in self.selected:
                    yield item

        def __len__(self) -> int:
            return sum(1 for vendor in self.vendors for _ in self.items_for(vendor))

    return SelectedMatrix


# --------------------------------------------------------------------------- rendering


def gates_markdown(verdicts: Sequence[Any]) -> str:
    """The gate verdicts as a Markdown table (the head of ``summary.md``)."""
    from baton.reports.render import md_escape

    if not verdicts:
        return "## Baton gates\n\nNo gates declared: results are reported, nothing is enforced.\n"
    failed = sum(len(v.failures) for v in verdicts)
    head = f"**{failed} gate check{'s' if failed != 1 else ''} failed**" if failed else "**All gates passed**"
    lines = ["## Baton gates", "", head, "", "| Gate | Configuration | Result | Checks |", "|---|---|---|---|"]
    for v in verdicts:
        result = "not run" if not v.evaluated else ("passed" if v.passed else "**FAILED**")
        checks = "<br>".join(md_escape(c.line()) for c in v.checks) or "—"
        lines.append(f"| {md_escape(v.declared.source)} | {md_escape(v.config or v.declared.gate.target)} "
                     f"| {result} | {checks} |")
    return "\n".join(lines) + "\n"


def _card_lines(card: Any, verdicts: Sequence[Any]) -> list[str]:
    from baton.reports.render import fmt_pct, fmt_secs, fmt_usd

    status: dict[str, str] = {}
    for v in verdicts:
        if v.evaluated:
            status[v.config] = "FAILED" if not v.passed or status.get(v.config) == "FAILED" else "passed"
    rows = [("configuration", "success [95% CI]", "n", "err", "pass^k", "cost/task", "p95", "gate")]
    for c in card.configs:
        label = c.label + (" (sim)" if c.simulated else "")
        rows.append((label, f"{fmt_pct(c.rate, 1)} [{fmt_pct(c.ci_low)}, {fmt_pct(c.ci_high)}]", str(c.counted),
                     str(c.infra_errors), "—" if c.pass_k is None else f"{c.pass_k:.2f}",
                     fmt_usd(c.cost_per_task), fmt_secs(c.latency.p95) if c.latency else "—",
                     status.get(c.label, "—")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


# --------------------------------------------------------------------------- hooks

_SESSION = pytest.StashKey[GateSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    options = resolve_options(config)
    workerinput = getattr(config, "workerinput", None)
    token = workerinput.get(_TOKEN_KEY) if workerinput else None
    config.stash[_SESSION] = GateSession(config=config, options=options, token=token or _timestamp_token(),
                                         is_worker=workerinput is not None)


def _session(config: pytest.Config) -> GateSession:
    return config.stash[_SESSION]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker writes to the run directory this session names."""
    node.workerinput[_TOKEN_KEY] = _session(node.config).token


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: learn the run directory from the workers that ran cases."""
    output = getattr(node, "workeroutput", None) or {}
    state = _session(node.config)
    if not output.get(_RUN_DIR_KEY):
        return
    state.run_dir = Path(output[_RUN_DIR_KEY])
    completed, line = output.get(_SUMMARY_KEY) or (0, None)
    if completed > state.runs_completed:  # the line of the worker that ran the matrix
        state.runs_completed, state.run_line = completed, line


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if FIXTURE not in metafunc.fixturenames:
        return
    plan = _session(metafunc.config).plan()
    metafunc.parametrize(FIXTURE, plan.cases, indirect=True, ids=[c.test_id for c in plan.cases])


def pytest_collection_finish(session: pytest.Session) -> None:
    state = _session(session.config)
    chosen: dict[CaseId, None] = {}
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and isinstance(callspec.params.get(FIXTURE), CaseId):
            chosen[callspec.params[FIXTURE]] = None
    state.selected = list(chosen)


@pytest.fixture
def baton_case(request: pytest.FixtureRequest) -> CaseOutcome:
    """One golden task on one system and vendor: its stored trials (the matrix runs once, first)."""
    __tracebackhide__ = True
    case = getattr(request, "param", None)
    if not isinstance(case, CaseId):
        pytest.fail("baton_case is parametrized by the baton plugin; do not parametrize it yourself",
                    pytrace=False)
    return _session(request.config).outcome(case)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = _session(session.config)
    if state.is_worker:
        if state.run_dir is not None:
            session.config.workeroutput[_RUN_DIR_KEY] = str(state.run_dir)  # type: ignore[attr-defined]
            session.config.workeroutput[_SUMMARY_KEY] = (state.runs_completed, state.run_line)  # type: ignore[attr-defined]
        return
    if state.run_dir is None:
        return
    try:
        state.finish(state.run_dir)
    except BatonError as exc:
        state.finish_error = str(exc)
    if state.failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _session(config)
    if state.is_worker or state.run_dir is None:
        return
    tr = terminalreporter
    tr.write_sep("=", "baton report card")
    tr.write_line(f"run directory: {state.run_dir}")
    if state.run_line:
        tr.write_line(f"runs: {state.run_line}")
    if state.card is not None:
        for line in _card_lines(state.card, state.verdicts):
            tr.write_line(line)
    for kind in ("summary", "html", "baseline"):
        if kind in state.written:
            tr.write_line(f"{kind}: {state.written[kind]}")
    if state.finish_error is not None:
        tr.write_line(f"baton: ERROR: {state.finish_error}", red=True, bold=True)
        return
    if not state.verdicts:
        tr.write_line("no gates declared: results are reported, nothing is enforced")
        return
    failed = [v for v in state.verdicts if v.evaluated and not v.passed]
    for verdict in state.verdicts:
        if not verdict.evaluated:
            tr.write_line(f"NOT RUN {verdict.title}: no runs of this configuration in this session", yellow=True)
    for verdict in failed:
        for check in verdict.failures:
            note = f" ({check.note})" if check.note else ""
            tr.write_line(f"FAILED {verdict.title}: {check.name}: measured {check.measured}, "
                          f"threshold {check.threshold}{note}", red=True, bold=True)
    passed = sum(1 for v in state.verdicts if v.evaluated and v.passed)
    tr.write_line(f"gates: {len(failed)} failed, {passed} passed", red=bool(failed), green=not failed)
