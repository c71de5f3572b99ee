"""A domain's tools.py: schemas from type hints, calls, errors at call time and at load time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from baton.dataset import export_tasks, read_tasks_file
from baton.fixtures import load_golden_set, load_tasks
from baton.runners import ToolSession, world_server
from baton.runners.gold import replay_gold_calls
from baton.validate import validate_path
from baton.world import ToolError, World

DOMAIN_YAML = """\
domain: bank
title: Bank
routes: [{label: money, description: Transfers and balances.}]
world:
  today: 2026-03-01
  collections:
    accounts:
      A1: {owner: Kim, balance: 100.0, history: []}
      A2: {owner: Lee, balance: 5.0, history: []}
"""

TOOLS_PY = '''\
from typing import Annotated, Literal

from pydantic import Field

from baton.tools import ToolError, tool


@tool(writes=False)
def get_balance(db, account_id: str) -> dict:
    """The balance of an account.

    Args:
        account_id: The account id, e.g. 'A1'.
    """
    account = db["accounts"].get(account_id)
    if account is None:
        raise ToolError(f"no account {account_id}")
    return {"account_id": account_id, "balance": account["balance"]}


@tool(writes=True)
def transfer(db, source: str, target: str, amount: Annotated[float, Field(gt=0)],
             speed: Literal["instant", "standard"] = "standard", *, today) -> dict:
    """Move money between two accounts.

    Args:
        source: Account to debit.
        target: Account to credit.
        amount: How much, in dollars.
    """
    accounts = db["accounts"]
    accounts[source]["balance"] = round(accounts[source]["balance"] - amount, 2)
    accounts[source]["history"].append({"out": amount, "date": today.isoformat()})
    if accounts[source]["balance"] < 0:
        raise ToolError("insufficient funds")
    accounts[target]["balance"] = round(accounts[target]["balance"] + amount, 2)
    return {"ok": True, "speed": speed}


@tool(writes=True)
def crash(db, account_id: str) -> dict:
    """A tool with a bug."""
    db["accounts"][account_id]["balance"] = 0
    return {"value": 1 / 0}


@tool(writes=False)
def sneaky_read(db, account_id: str) -> dict:
    """Declared read-only, but writes."""
    db["accounts"][account_id]["flag"] = True
    return {}


def helper_not_a_tool(db):
    return None
'''

TASK = """\
id: bank/move-money
version: 1
title: Move $30 from A1 to A2
request: Please move $30 from A1 to A2.
gold:
  route: money
  outcome: act
  tool_calls:
    - {name: get_balance, arguments: {account_id: A1}}
    - {name: transfer, arguments: {source: A2, target: A1, amount: 50}, expect_error: true}
    - {name: transfer, arguments: {source: A1, target: A2, amount: 30}}
  final_state:
    accounts:
      A1: {balance: 70.0, history: [{out: 30, date: "2026-03-01"}]}
      A2: {balance: 35.0, history: []}
"""


def make_domain(root: Path, tools: str = TOOLS_PY, task: str = TASK, name: str = "bank") -> Path:
    folder = root / name
    (folder / "tasks").mkdir(parents=True)
    (folder / "domain.yaml").write_text(DOMAIN_YAML.replace("domain: bank", f"domain: {name}"))
    (folder / "tools.py").write_text(tools)
    (folder / "tasks" / "move.yaml").write_text(task.replace("id: bank/", f"id: {name}/"))
    return folder


@pytest.fixture()
def bank(tmp_path: Path) -> Path:
    return make_domain(tmp_path)


def test_tools_get_schemas_descriptions_and_write_flags_from_the_functions(bank: Path) -> None:
    (task,) = load_tasks(bank)
    specs = {spec.name: spec for spec in task.tools}
    assert list(specs) == ["get_balance", "transfer", "crash", "sneaky_read"]  # helpers are not tools
    transfer = specs["transfer"]
    assert transfer.description == "Move money between two accounts."
    assert transfer.side_effect and not specs["get_balance"].side_effect
    props = transfer.parameters["properties"]
    assert set(props) == {"source", "target", "amount", "speed"}  # the world and 'today' are not arguments
    assert props["amount"] == {"type": "number", "exclusiveMinimum": 0, "description": "How much, in dollars."}
    assert props["speed"]["enum"] == ["instant", "standard"] and props["speed"]["default"] == "standard"
    assert transfer.parameters["required"] == ["source", "target", "amount"]
    assert specs["get_balance"].parameters["properties"]["account_id"]["description"] == "The account id, e.g. 'A1'."
    assert transfer.python is not None and transfer.python.line > 1 and transfer.python.file.endswith("tools.py")


def test_gold_replay_and_validation_work_for_python_tools(bank: Path) -> None:
    report = validate_path(bank)
    assert report.problems == [] and report.summary() == "1 task in 1 domain"
    (task,) = report.tasks
    world = World(task)
    outcomes = replay_gold_calls(task, world)
    assert [(o.name, o.error) for o in outcomes] == [("get_balance", None), ("transfer", "insufficient funds"),
                                                     ("transfer", None)]
    # the failed transfer changed the world before raising: everything it did is undone
    assert world.snapshot()["accounts"]["A2"] == {"owner": "Lee", "balance": 35.0, "history": []}


def test_arguments_are_validated_and_user_exceptions_are_tool_errors(bank: Path) -> None:
    (task,) = load_tasks(bank)
    world = World(task)
    with pytest.raises(ToolError, match="argument 'amount'"):
        world.call("transfer", {"source": "A1", "target": "A2", "amount": -3})
    with pytest.raises(ToolError, match="unknown argument \"extra\""):
        world.call("get_balance", {"account_id": "A1", "extra": 1})
    with pytest.raises(ToolError, match="missing required argument 'account_id'"):
        world.call("get_balance", {})
    with pytest.raises(ToolError, match="no account A9"):
        world.call("get_balance", {"account_id": "A9"})
    with pytest.raises(ToolError, match=r"crash failed: ZeroDivisionError: division by zero"):
        world.call("crash", {"account_id": "A1"})
    assert world.snapshot()["accounts"]["A1"]["balance"] == 100.0  # the crash's write is undone
    assert [c.error is not None for c in world.calls] == [True] * 5
    assert world.calls[-1].side_effect


def test_a_read_only_tool_that_writes_is_a_validation_problem(tmp_path: Path) -> None:
    task = TASK.replace("    - {name: get_balance, arguments: {account_id: A1}}",
                        "    - {name: sneaky_read, arguments: {account_id: A1}}")
    folder = make_domain(tmp_path, task=task)
    (problem,) = validate_path(folder).problems
    assert problem.field == "gold.tool_calls.0"
    assert "declared @tool(writes=False)" in problem.message and "changed the world" in problem.message


def test_an_expect_error_call_that_succeeds_is_a_problem(tmp_path: Path) -> None:
    folder = make_domain(tmp_path, task=TASK.replace("amount: 50}, expect_error", "amount: 1}, expect_error"))
    (problem,) = validate_path(folder).problems
    assert problem.field == "gold.tool_calls.1" and "marked expect_error, but the tool accepted it" in problem.message


@pytest.mark.parametrize(("source", "line", "message"), [
    ("from baton.tools import tool\n\n@tool(writes=True)\ndef f(db, x: int) -> dict:\n    return {\n",
     5, "syntax error"),
    ("from baton.tools import tool\nimport json\nvalue = json.loads('{')\n", 3,
     "error while importing: JSONDecodeError"),
    ("from baton.tools import tool\n\n@tool(writes=True)\ndef f(db, x) -> dict:\n    '''Doc.'''\n", 4,
     "tool 'f': parameter 'x' has no type hint"),
    ("from baton.tools import tool\n\n@tool(writes=True)\ndef f(db, x: int) -> dict:\n    return {}\n", 4,
     "tool 'f' has no docstring"),
    ("from baton.tools import tool\n\n@tool(writes=True)\ndef f(*, x: int) -> dict:\n    '''Doc.'''\n", 4,
     "the first parameter receives the world"),
    ("from baton.tools import tool\n\n@tool(writes=False)\ndef f(db, x: 'Nope') -> dict:\n    '''Doc.'''\n", 4,
     "cannot read its type hints: NameError"),
    ("def f(db):\n    return 1\n", 0, "defines no tool"),
    ("from baton.tools import tool\n\n@tool(writes=True, name='bad name')\ndef f(db) -> dict:\n    '''Doc.'''\n", 4,
     "tool 'bad name': name"),
])
def test_a_broken_tools_py_names_the_file_and_line(tmp_path: Path, source: str, line: int, message: str) -> None:
    folder = make_domain(tmp_path, tools=source)
    tasks, problems = load_golden_set(folder)
    assert tasks == []
    tools_problems = [p for p in problems if p.file.endswith("bank/tools.py")]
    assert tools_problems, problems
    assert tools_problems[0].field == (f"line {line}" if line else "")
    assert message in tools_problems[0].message


def test_the_cli_reports_a_bug_in_tools_py_as_an_error_not_a_traceback(tmp_path: Path) -> None:
    folder = make_domain(tmp_path, tools="from baton.tools import tool\nraise RuntimeError('boom')\n")
    out = subprocess.run([sys.executable, "-m", "baton.cli", "export", str(folder), "-o", str(tmp_path / "x.jsonl")],
                         capture_output=True, text=True, check=False)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "baton: error:" in out.stderr and "bank/tools.py: line 2: error while importing: RuntimeError: boom" in out.stderr


def test_a_tool_name_in_both_yaml_and_tools_py_is_a_problem(tmp_path: Path) -> None:
    folder = make_domain(tmp_path)
    yaml_text = (folder / "domain.yaml").read_text() + textwrap.dedent("""\
        tools:
          - name: transfer
            description: x
            parameters: {type: object, properties: {a: {type: string}}, required: [a]}
            effect: {op: get, collection: accounts, key: a}
        """)
    (folder / "domain.yaml").write_text(yaml_text)
    _, problems = load_golden_set(folder)
    assert any("tool 'transfer' is also defined in" in p.message and p.file.endswith("tools.py") for p in problems)


def test_the_module_gets_a_unique_name_and_two_domains_do_not_collide(tmp_path: Path) -> None:
    one = make_domain(tmp_path, name="bank")
    two = make_domain(tmp_path, name="bank_two", tools=TOOLS_PY.replace('"no account', '"missing account'))
    before = set(sys.modules)
    (task_one,) = load_tasks(one)
    (task_two,) = load_tasks(two)
    added = set(sys.modules) - before
    assert "tools" not in sys.modules
    assert all(name.startswith("_baton_domain_tools_") for name in added if "tools" in name)
    with pytest.raises(ToolError, match="no account"):
        World(task_one).call("get_balance", {"account_id": "Z"})
    with pytest.raises(ToolError, match="missing account"):
        World(task_two).call("get_balance", {"account_id": "Z"})


def test_an_exported_dataset_carries_the_tools_source(bank: Path, tmp_path: Path) -> None:
    tasks = load_tasks(bank)
    out = tmp_path / "golden.jsonl"
    export_tasks(tasks, out, "jsonl")
    (bank / "tools.py").unlink()  # the exported file is self-contained
    loaded, problems = read_tasks_file(out)
    assert problems == []
    world = World(loaded[0])
    assert world.call("transfer", {"source": "A1", "target": "A2", "amount": 1})["ok"] is True


async def test_the_mcp_world_serves_python_tools(bank: Path) -> None:
    (task,) = load_tasks(bank)
    world = World(task)
    async with ToolSession(world_server(world)) as session:
        hints = {t.name: t.annotations.read_only_hint for t in session.tools if t.annotations}
        schema = next(t for t in session.openai_tools() if t["function"]["name"] == "transfer")
        ok = await session.call("transfer", {"source": "A1", "target": "A2", "amount": 10})
        bad = await session.call("transfer", {"source": "A2", "target": "A1", "amount": 90})
    assert hints == {"get_balance": True, "transfer": False, "crash": False, "sneaky_read": True}
    assert schema["function"]["parameters"]["properties"]["amount"]["type"] == "number"
    assert ok.error is None and ok.result == {"ok": True, "speed": "standard"} and ok.side_effect
    assert bad.error == "insufficient funds"
    assert world.snapshot()["accounts"]["A2"]["balance"] == 15.0
