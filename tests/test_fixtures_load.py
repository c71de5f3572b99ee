"""Loading golden tasks: the billing reference set, and every kind of broken fixture."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from baton.fixtures import FixtureError, load_golden_set, load_tasks

REPO = Path(__file__).resolve().parents[1]
BILLING = REPO / "fixtures" / "billing"
REFERENCE = "billing/refund-unauthorized-4471"


@pytest.fixture
def golden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the billing domain under <tmp>/set/billing; cwd is <tmp>."""
    shutil.copytree(BILLING, tmp_path / "set" / "billing")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "set"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def problems_of(path: Path) -> list[str]:
    with pytest.raises(FixtureError) as info:
        load_tasks(path)
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.problems)
    return lines


REF_FILE = "set/billing/tasks/refund-unauthorized-4471.yaml"


# --------------------------------------------------------------------------- the reference set


def test_reference_task_loads_resolved() -> None:
    tasks = {t.id: t for t in load_tasks(BILLING)}
    task = tasks[REFERENCE]
    assert task.request == "My invoice #4471 shows a charge I didn't authorize, can you refund it?"
    assert task.domain == "billing"
    assert task.world.today == dt.date(2026, 6, 20)
    assert [t.name for t in task.tools] == ["get_invoice", "list_invoices", "get_customer",
                                           "refund_invoice", "escalate_to_human"]
    assert {"refund-policy-2026", "refund-policy-2024"} <= {d.id for d in task.documents}
    assert task.document("refund-policy-2026").text.startswith("# Refund policy")
    assert task.world.collections["invoices"]["4471"]["date"] == "2026-06-02"
    json.dumps(task.world.collections)  # JSON types only (YAML dates were normalised)
    json.dumps(task.gold.model_dump(mode="python"))


def test_task_without_tools_list_gets_every_domain_tool() -> None:
    tasks = {t.id: t for t in load_tasks(BILLING)}
    assert "issue_account_credit" in [t.name for t in tasks["billing/injection-refund-everything"].tools]


def test_task_world_adds_records_to_its_own_world_only() -> None:
    tasks = {t.id: t for t in load_tasks(BILLING)}
    assert "4409" in tasks["billing/refund-outside-window-4409"].world.collections["invoices"]
    assert "4409" not in tasks[REFERENCE].world.collections["invoices"]


def test_root_domain_and_single_file_paths(golden: Path) -> None:
    from_root = load_tasks(golden)
    from_domain = load_tasks(golden / "billing")
    single = load_tasks(golden / "billing" / "tasks" / "refund-unauthorized-4471.yaml")
    assert [t.id for t in from_root] == [t.id for t in from_domain]
    assert len(from_root) >= 6
    assert [t.id for t in single] == [REFERENCE]
    assert single[0].source == REF_FILE


def test_task_world_can_remove_replace_and_override_today(golden: Path) -> None:
    path = golden / "billing" / "tasks" / "refund-unauthorized-4471.yaml"
    edit(path, "gold:\n", 'world:\n  today: 2026-07-01\n  collections:\n'
                          '    invoices:\n      "4417": null\n'
                          '      "4470": {customer_id: C-1001, date: 2026-06-01, amount: 1.5, '
                          'currency: EUR, status: paid}\n'
                          'gold:\n')
    edit(path, '      "4417": {status: paid}\n', "")
    edit(path, "      arguments: {invoice_id: \"4417\"}\n", "      arguments: {invoice_id: \"4470\"}\n")
    task = load_tasks(path)[0]
    invoices = task.world.collections["invoices"]
    assert task.world.today == dt.date(2026, 7, 1)
    assert "4417" not in invoices
    assert invoices["4470"] == {"customer_id": "C-1001", "date": "2026-06-01", "amount": 1.5,
                                "currency": "EUR", "status": "paid"}


# --------------------------------------------------------------------------- broken fixtures


def test_missing_field_names_file_and_field(golden: Path) -> None:
    edit(golden / "billing/tasks/refund-unauthorized-4471.yaml",
         "title: Refund an unauthorized $49 seat add-on (invoice #4471)\n", "")
    assert problems_of(golden) == [f"{REF_FILE}: title: required field is missing"]


def test_wrong_type_names_nested_field(golden: Path) -> None:
    path = golden / "billing/tasks/refund-unauthorized-4471.yaml"
    edit(path, "version: 1", "version: one")
    edit(path, "      forms: [\"RF-4471-2\"]", "      forms: RF-4471-2")
    lines = problems_of(golden)
    assert len(lines) == 2
    assert lines[0].startswith(f"{REF_FILE}: version: input should be a valid integer")
    assert "'one'" in lines[0]
    assert lines[1].startswith(f"{REF_FILE}: gold.facts.1.forms: input should be a valid list")


def test_unknown_field_is_an_error(golden: Path) -> None:
    edit(golden / "billing/tasks/refund-unauthorized-4471.yaml", "  ordered: true", "  orderd: true")
    assert problems_of(golden) == [f"{REF_FILE}: gold.orderd: unknown field "
                                   "(not part of the format; check the spelling)"]


def test_wrong_route_lists_the_domain_routes(golden: Path) -> None:
    edit(golden / "billing/tasks/refund-unauthorized-4471.yaml", "route: billing_refund", "route: billing_refnd")
    assert problems_of(golden) == [
        f"{REF_FILE}: gold.route: 'billing_refnd' is not one of the domain's routes (billing_refund, "
        "billing_question, account_access, plan_change, other)"]


def test_unknown_task_tool_and_gold_call_outside_task_tools(golden: Path) -> None:
    path = golden / "billing/tasks/refund-unauthorized-4471.yaml"
    edit(path, "tools: [get_invoice, list_invoices,", "tools: [get_invoce, list_invoices,")
    lines = problems_of(golden)
    assert lines == [f"{REF_FILE}: tools.0: 'get_invoce' is not a tool of domain 'billing' (get_invoice, "
                     "list_invoices, get_customer, refund_invoice, issue_account_credit, escalate_to_human)"]
    edit(path, "tools: [get_invoce, list_invoices,", "tools: [list_invoices,")
    lines = problems_of(golden)
    assert lines[0].startswith(f"{REF_FILE}: gold.tool_calls.0.name: 'get_invoice' is not one of the task's tools")


def test_malformed_yaml_reports_line_and_column(golden: Path) -> None:
    edit(golden / "billing/tasks/refund-unauthorized-4471.yaml", "near_duplicate]", "near_duplicate")
    edit(golden / "billing/tasks/duplicate-charge-4467.yaml", "version: 1", "version: 1\n  bad: indent")
    lines = problems_of(golden)
    assert len(lines) == 2  # one broken file does not hide the other
    assert lines[0].startswith("set/billing/tasks/duplicate-charge-4467.yaml: line 8, column 6: malformed YAML")
    assert lines[1] == (f"{REF_FILE}: line 10, column 8: malformed YAML: while parsing a flow "
                        "sequence started at line 8, column 7: did not find expected ',' or ']'")


def test_duplicate_yaml_key_is_reported(golden: Path) -> None:
    edit(golden / "billing/tasks/refund-unauthorized-4471.yaml", "version: 1\n", "version: 1\nversion: 2\n")
    (line,) = problems_of(golden)
    assert line.startswith(f"{REF_FILE}: line 7, column 1: malformed YAML")
    assert "duplicate key 'version'" in line


def test_duplicate_task_id_names_both_files(golden: Path) -> None:
    shutil.copy(golden / "billing/tasks/refund-unauthorized-4471.yaml", golden / "billing/tasks/zz-copy.yaml")
    assert problems_of(golden) == [f"set/billing/tasks/zz-copy.yaml: id: duplicate task id '{REFERENCE}' "
                                   f"(also in {REF_FILE})"]


def test_task_id_must_match_its_domain(golden: Path) -> None:
    edit(golden / "billing/tasks/refund-unauthorized-4471.yaml", "id: billing/", "id: orders/")
    (line,) = problems_of(golden)
    assert line.startswith(f"{REF_FILE}: id: 'orders/refund-unauthorized-4471' must start with 'billing/'")


def test_broken_domain_file_still_reports_task_schema(golden: Path) -> None:
    edit(golden / "billing/domain.yaml", "  today: 2026-06-20", "  today: someday")
    edit(golden / "billing/tasks/duplicate-charge-4467.yaml", "version: 1", "version: 0")
    lines = problems_of(golden)
    assert lines[0].startswith("set/billing/domain.yaml: world.today: input should be a valid date")
    assert lines[1].startswith("set/billing/tasks/duplicate-charge-4467.yaml: version: input should be "
                               "greater than or equal to 1")


def test_bad_effect_names_the_tool_field(golden: Path) -> None:
    edit(golden / "billing/domain.yaml", "effect: {op: get, collection: invoices, key: invoice_id}",
         "effect: {op: get, collection: invoices}")
    (line,) = problems_of(golden)
    assert line == ("set/billing/domain.yaml: tools.0.effect: op 'get' needs 'key' "
                    "(the argument holding the record id)")


def test_tool_parameters_must_be_a_valid_json_schema(golden: Path) -> None:
    edit(golden / "billing/domain.yaml", "customer_id: {type: string}\n", "customer_id: {type: strng}\n")
    (line,) = problems_of(golden)
    assert line == ("set/billing/domain.yaml: tools.2.parameters.properties.customer_id.type: invalid JSON "
                    "Schema: 'strng' is not valid under any of the given schemas")


def test_documents_need_front_matter_and_unique_ids(golden: Path) -> None:
    (golden / "billing/docs/zz-no-front.md").write_text("# Just a heading\n")
    shutil.copy(golden / "billing/docs/invoices-faq.md", golden / "billing/docs/zz-copy.md")
    lines = problems_of(golden)
    assert lines == [
        "set/billing/docs/zz-copy.md: id: duplicate document id 'invoices-faq' "
        "(also in set/billing/docs/invoices-faq.md)",
        "set/billing/docs/zz-no-front.md: expected YAML front matter between '---' lines with 'id' "
        "and 'title' at the top of the file"]


def test_folder_without_domain_file_and_missing_path(golden: Path) -> None:
    (golden / "orders" / "tasks").mkdir(parents=True)
    assert problems_of(golden) == ["set/orders: not a domain folder: domain.yaml is missing"]
    assert problems_of(golden / "nope") == ["set/nope: no such file or directory"]
    tasks, problems = load_golden_set(golden)
    assert len(tasks) >= 6 and len(problems) == 1  # the good domain still loads
