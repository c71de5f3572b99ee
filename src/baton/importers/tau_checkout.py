"""Read a local checkout of a tau-bench-style tool-agent benchmark environment.

The format (one environment folder, e.g. ``<repo>/tau_bench/envs/retail``)::

    data/*.json          one table per file: {record id: record}; the file stem names it
    tools/*.py           one class per tool: a static ``invoke(data, **kwargs)`` returning a string
                         (JSON, or text starting with "Error") and a static ``get_info()``
                         returning the OpenAI function schema as a literal dict
    tasks_<split>.py     a list of Task(user_id=..., actions=[Action(name=..., kwargs={...})],
    (or tasks*.json)     instruction=..., outputs=[...]) or of the same as dicts ("arguments" is
                         accepted for "kwargs")
    wiki.md              the agent's policy (optional)
    env.py               optional; ``self.terminate_tools = [...]`` names the hand-off tools

Nothing here executes the checkout's code: tasks are read as literals from the syntax tree.
Every problem names the file and the field (or line).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from baton.errors import BatonError
from baton.fixtures import Problem, display_path, pydantic_problems

__all__ = ["BenchAction", "BenchTask", "Checkout", "ImportProblems", "read_checkout", "RESPOND_ACTION"]

RESPOND_ACTION = "respond"


class ImportProblems(BatonError):
    """The checkout is not in the expected format: one line per problem."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems]
        super().__init__("the checkout cannot be imported:\n  " + "\n  ".join(lines) if len(lines) > 1
                         else f"the checkout cannot be imported: {lines[0]}")


class BenchAction(BaseModel):
    """One gold action of a benchmark task."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _arguments_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "arguments" in data and "kwargs" not in data:
            data = {**data, "kwargs": data["arguments"]}
            del data["arguments"]
        return data


class BenchTask(BaseModel):
    """One benchmark task. Unknown keys (annotator, ...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    user_id: str | None = None
    instruction: str = Field(min_length=1)
    actions: list[BenchAction]
    outputs: list[str] = Field(default_factory=list)


@dataclass(slots=True)
class Checkout:
    """What an environment folder holds, read and checked."""

    root: Path
    data: dict[str, dict[str, dict[str, Any]]]
    tool_files: list[Path]
    tasks: dict[str, list[BenchTask]]  # split -> tasks, in file order
    task_files: dict[str, str] = field(default_factory=dict)  # split -> display path
    policy: str | None = None
    terminate_tools: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- data


def _read_data(folder: Path, problems: list[Problem]) -> dict[str, dict[str, dict[str, Any]]]:
    data: dict[str, dict[str, dict[str, Any]]] = {}
    files = sorted(folder.glob("*.json"))
    if not files:
        problems.append(Problem(display_path(folder), "", "expected one JSON file per table "
                                "(e.g. users.json: {record id: record})"))
    for path in files:
        file = display_path(path)
        try:
            table = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(Problem(file, "", f"cannot read JSON: {exc}"))
            continue
        if not isinstance(table, dict):
            problems.append(Problem(file, "", f"expected an object mapping record ids to records, "
                                              f"got a JSON {type(table).__name__}"))
            continue
        bad = [rid for rid, record in table.items() if not isinstance(record, dict)]
        if bad:
            problems.append(Problem(file, bad[0], "expected a record (a JSON object), got "
                                                  f"{type(table[bad[0]]).__name__}"))
            continue
        data[path.stem] = table
    return data


# --------------------------------------------------------------------------- tasks


class _NotLiteral(Exception):
    def __init__(self, node: ast.AST) -> None:
        super().__init__(ast.unparse(node)[:80])
        self.line = getattr(node, "lineno", 0)


def _literal(node: ast.AST) -> Any:
    """A literal value, where a call ``Name(key=value, ...)`` (Task, Action) reads as a dict."""
    if isinstance(node, ast.Call):  # a model class such as Task(...) or Action(...)
        func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if not func[:1].isupper() or node.args or any(k.arg is None for k in node.keywords):
            raise _NotLiteral(node)
        return {k.arg: _literal(k.value) for k in node.keywords}
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _NotLiteral(node)
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}  # type: ignore[arg-type]
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise _NotLiteral(node) from None


def _task_list(path: Path, problems: list[Problem]) -> tuple[str, list[Any]] | None:
    """(variable name, raw task list) of a tasks file."""
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(file, "", f"cannot read file: {exc}"))
        return None
    if path.suffix == ".json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(Problem(file, f"line {exc.lineno}", f"malformed JSON: {exc.msg}"))
            return None
        if not isinstance(value, list):
            problems.append(Problem(file, "", "expected a JSON list of tasks"))
            return None
        return "", value
    try:
        tree = ast.parse(text, filename=file)
    except SyntaxError as exc:
        problems.append(Problem(file, f"line {exc.lineno}", f"syntax error: {exc.msg}"))
        return None
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
            node.target if isinstance(node, ast.AnnAssign) else None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and isinstance(value, ast.List):
            try:
                return target.id, _literal(value)
            except _NotLiteral as exc:
                problems.append(Problem(file, f"line {exc.line}", f"expected literal task data "
                                        f"(Task(...), Action(...), dicts, lists, strings), got {exc}"))
                return None
    problems.append(Problem(file, "", "expected a module-level list of tasks, e.g. "
                                      "TASKS = [Task(user_id=..., actions=[...], instruction=..., outputs=[...])]"))
    return None


def _split_name(path: Path) -> str:
    stem = path.stem
    return stem[len("tasks_"):] if stem.startswith("tasks_") and len(stem) > len("tasks_") else "main"


def _read_tasks(root: Path, problems: list[Problem]) -> tuple[dict[str, list[BenchTask]], dict[str, str]]:
    tasks: dict[str, list[BenchTask]] = {}
    files: dict[str, str] = {}
    paths = sorted(p for p in root.iterdir() if p.is_file() and p.name.startswith("tasks")
                   and p.suffix in (".py", ".json"))
    if not paths:
        problems.append(Problem(display_path(root), "", "no task files: expected tasks_<split>.py or "
                                                        "tasks_<split>.json beside data/ and tools/"))
    for path in paths:
        found = _task_list(path, problems)
        if found is None:
            continue
        variable, raw = found
        file = display_path(path)
        split = _split_name(path)
        parsed = []
        for i, item in enumerate(raw):
            try:
                parsed.append(BenchTask.model_validate(item))
            except ValidationError as exc:
                problems.extend(pydantic_problems(file, exc, prefix=f"{variable}[{i}]." if variable else f"[{i}]."))
        tasks[split] = parsed
        files[split] = file
    return tasks, files


# --------------------------------------------------------------------------- env.py


def _terminate_tools(root: Path) -> list[str]:
    env = root / "env.py"
    if not env.is_file():
        return []
    try:
        tree = ast.parse(env.read_text(encoding="utf-8"))
    except (SyntaxError, OSError, UnicodeDecodeError):
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == "terminate_tools" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return []
            return [str(v) for v in value] if isinstance(value, list) else []
    return []


# --------------------------------------------------------------------------- the checkout


def _environments_below(path: Path) -> list[str]:
    return sorted(str(p.parent.relative_to(path)) for p in path.glob("**/tools") if (p.parent / "data").is_dir())[:10]


def read_checkout(path: Path) -> Checkout:
    """Read the environment folder at ``path``; raises :class:`ImportProblems`."""
    if not path.is_dir():
        raise ImportProblems([Problem(display_path(path), "", "no such directory")])
    missing = [name for name in ("data", "tools") if not (path / name).is_dir()]
    if missing:
        found = _environments_below(path)
        hint = f"; environments found below it: {', '.join(found)}" if found else ""
        raise ImportProblems([Problem(display_path(path), "", f"not a benchmark environment folder: "
                                      f"{' and '.join(m + '/' for m in missing)} missing (expected data/*.json, "
                                      f"tools/*.py and tasks_<split>.py){hint}")])
    problems: list[Problem] = []
    data = _read_data(path / "data", problems)
    tool_files = sorted(p for p in (path / "tools").glob("*.py") if p.name != "__init__.py")
    if not tool_files:
        problems.append(Problem(display_path(path / "tools"), "", "expected one .py file per tool"))
    tasks, task_files = _read_tasks(path, problems)
    if problems:
        raise ImportProblems(problems)
    policy = None
    for name in ("wiki.md", "policy.md"):
        if (path / name).is_file():
            policy = (path / name).read_text(encoding="utf-8").strip() or None
            break
    return Checkout(path, data, tool_files, tasks, task_files, policy, _terminate_tools(path))
