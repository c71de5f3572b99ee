"""``baton validate``: cross-references, gold replay, and the CLI's output and exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from baton.cli import main
from baton.fixtures import load_tasks
from baton.task import ToolSpec
from baton.validate import forbids, replay_gold, state_mismatches, tool_problems, validate_path

REPO = Path(__file__).resolve().parents[1]
BILLING = REPO / "fixtures" / "billing"
REF_FILE = "set/billing/tasks/refund-unauthorized-4471.yaml"


@pytest.fixture
def golden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the billing domain under <tmp>/set/billing; cwd is <tmp>."""
    shutil.copytree(BILLING, tmp_path / "set" / "billing")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "set"


@pytest.fixture
def ref(golden: Path) -> Path:
    return golden / "billing" / "tasks" / "refund-unauthorized-4471.yaml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def problem_lines(path: Path) -> list[str]:
    report = validate_path(path)
    assert not report.ok
    return [str(p) for p in report.problems]


def test_billing_domain_is_valid() -> None:
    report = validate_path(BILLING)
    assert report.problems == []
    assert report.summary() == f"{len(report.tasks)} tasks in 1 domain"
    assert len(report.tasks) >= 6


def test_unknown_evidence_id(ref: Path, golden: Path) -> None:
    edit(ref, "    - unauthorized-charges\n", "    - unauthorised-charges\n")
    edit(ref, "    - invoices/4471\n", "    - invoices/4472\n")
    assert problem_lines(golden) == [
        f"{REF_FILE}: gold.evidence.1: 'unauthorised-charges' is neither a document id of domain 'billing' "
        "nor a record 'collection/id' of the initial world; did you mean 'unauthorized-charges'?",
        f"{REF_FILE}: gold.evidence.2: 'invoices/4472' is neither a document id of domain 'billing' "
        "nor a record 'collection/id' of the initial world; did you mean 'invoices/4471'?"]


def test_gold_call_the_tool_rejects(ref: Path, golden: Path) -> None:
    edit(ref, 'arguments: {invoice_id: "4471", amount: 49.00, reason: unauthorized}',
         'arguments: {invoice_id: "4471", amount: 94.00, reason: unauthorized}')
    assert problem_lines(golden) == [f"{REF_FILE}: gold.tool_calls.1: the tool rejects the gold call: "
                                     "refund amount 94.0 exceeds the invoice amount 49.0"]


def test_gold_call_against_the_schema(ref: Path, golden: Path) -> None:
    edit(ref, 'arguments: {invoice_id: "4471"}', "arguments: {invoice_id: 4471}")
    assert problem_lines(golden) == [f"{REF_FILE}: gold.tool_calls.0: the tool rejects the gold call: "
                                     "get_invoice: argument 'invoice_id' must be of type string, got 4471"]


def test_gold_state_replay_does_not_reach(ref: Path, golden: Path) -> None:
    edit(ref, '"4471": {status: refunded, refunded_amount: 49.00}', '"4471": {status: refunded, refunded_amount: 4.90}')
    edit(ref, "RF-4471-2: {invoice_id:", "RF-4471-1: {invoice_id:")
    assert problem_lines(golden) == [
        f"{REF_FILE}: gold.final_state.invoices.4471.refunded_amount: replaying the gold tool calls: "
        "expected 4.9, got 49.0",
        f"{REF_FILE}: gold.final_state.refunds.RF-4471-1: replaying the gold tool calls: expected the "
        "record to exist; records in 'refunds': RF-4455-1, RF-4471-2"]


def test_record_that_must_not_exist(ref: Path, golden: Path) -> None:
    edit(ref, '      "4417": {status: paid}', '      "4417": null')
    assert problem_lines(golden) == [f"{REF_FILE}: gold.final_state.invoices.4417: replaying the gold "
                                     "tool calls: expected no such record, but it exists"]


def test_outcome_and_forbidden_action_consistency(ref: Path, golden: Path) -> None:
    edit(ref, "outcome: act", "outcome: refuse")
    edit(ref, 'arguments: {invoice_id: "4417"}', 'arguments: {invoice_id: "#4471"}')
    assert problem_lines(golden) == [
        f"{REF_FILE}: gold.tool_calls.1: the gold call is also forbidden by gold.forbidden_actions.0",
        f"{REF_FILE}: gold.outcome: 'refuse' must not change the world, but the gold tool calls include "
        "refund_invoice"]


def test_forbidden_action_argument_must_exist(ref: Path, golden: Path) -> None:
    edit(ref, 'arguments: {invoice_id: "4417"}', 'arguments: {invoice: "4417"}')
    assert problem_lines(golden) == [f"{REF_FILE}: gold.forbidden_actions.0.arguments.invoice: "
                                     "'refund_invoice' has no argument 'invoice' (arguments: invoice_id, "
                                     "amount, reason)"]


def test_blank_fact_form(ref: Path, golden: Path) -> None:
    edit(ref, 'forms: ["RF-4471-2"]', 'forms: ["RF-4471-2", " "]')
    assert problem_lines(golden) == [f"{REF_FILE}: gold.facts.1.forms.1: expected a non-blank form"]


def test_effect_referring_to_an_undeclared_argument(golden: Path) -> None:
    edit(golden / "billing/domain.yaml", "refunded_amount: $amount", "refunded_amount: $amont")
    lines = problem_lines(golden)
    assert lines[0] == ("set/billing/domain.yaml: tools[refund_invoice].effect.set.refunded_amount: refers to "
                        "argument 'amont', which is not in the tool's parameters (invoice_id, amount, reason)")
    assert lines[1:] and all(".refunded_amount: replaying the gold tool calls: expected" in line
                             for line in lines[1:])  # and the replays no longer set the field


def test_tool_problems_for_key_and_templates() -> None:
    spec = ToolSpec.model_validate({
        "name": "t", "description": "d",
        "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
        "effect": {"op": "update", "collection": "c", "key": "x",
                   "require": [{"param": "y", "gt": 0, "error": "bad {z}"}]}})
    assert [(p.field, p.message.split(",")[0]) for p in tool_problems(spec, "d.yaml")] == [
        ("tools[t].effect.require.0.param", "refers to argument 'y'"),
        ("tools[t].effect.require.0.error", "refers to argument 'z'"),
        ("tools[t].effect.key", "argument 'x' holds the record id")]


def test_replay_gold_and_state_mismatches() -> None:
    task = {t.id: t for t in load_tasks(BILLING)}["billing/duplicate-charge-4467"]
    world = replay_gold(task)
    assert [c.name for c in world.calls] == ["list_invoices", "refund_invoice"]
    assert state_mismatches(task.gold.final_state, world.snapshot()) == []
    assert state_mismatches({"invoices": {"4467": {"status": "paid"}}}, world.snapshot()) == [
        ("invoices.4467.status", "expected 'paid', got 'refunded'")]


def test_forbids_matches_given_arguments_only() -> None:
    task = {t.id: t for t in load_tasks(BILLING)}["billing/duplicate-charge-4467"]
    action = task.gold.forbidden_actions[0]
    assert forbids(action, task.gold.tool_calls[1].model_copy(update={"arguments": {
        "invoice_id": "#4466", "amount": 1, "reason": "other"}}))
    assert not forbids(action, task.gold.tool_calls[1])


# --------------------------------------------------------------------------- the CLI


def test_cli_valid(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(golden)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"{len(load_tasks(golden))} tasks in 1 domain"


def test_cli_reports_every_problem_without_traceback(ref: Path, golden: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    edit(ref, "route: billing_refund", "route: refunds")
    edit(golden / "billing/tasks/duplicate-charge-4467.yaml", "version: 1", "version: [1")
    assert main(["validate", str(golden)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("set/billing/tasks/duplicate-charge-4467.yaml: line 8, column 6: malformed YAML")
    assert lines[1].startswith(f"{REF_FILE}: gold.route: 'refunds' is not one of the domain's routes")
    assert lines[2] == f"2 problems in 2 files; {len(load_tasks(BILLING)) - 2} tasks in 1 domain valid"
    assert "Traceback" not in captured.out + captured.err


def test_cli_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing")]) == 1
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'missing'}: no such file or directory")


def test_cli_default_path_is_fixtures(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(golden, golden.parent / "fixtures")
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.endswith("tasks in 1 domain\n")
