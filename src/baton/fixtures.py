"""Load a golden set from disk into :class:`~baton.task.GoldenTask` objects.

``load_tasks(path)`` accepts a golden-set root (one folder per domain below it), a single domain
folder, a single task file, or a ``.jsonl`` / ``.parquet`` file exported by ``baton export``. The
on-disk format is described in ``fixtures/README.md``:

* ``<domain>/domain.yaml``: :class:`DomainFile` (routes, tools with their effects, seed world);
* ``<domain>/docs/*.md``: YAML front matter (:class:`DocFrontMatter`) and a Markdown body;
* ``<domain>/tasks/*.yaml``: :class:`TaskFile`, one task per file.

Every problem in every file is collected before anything is raised, so one bad file never hides
another: :class:`FixtureError` carries the list of :class:`Problem` (file, field path, message).
YAML values are normalised to JSON types (dates become ISO strings, mapping keys strings) so
worlds, traces and snapshots serialise as JSON; ``GoldenTask.world.today`` stays a date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from baton.problems import (FixtureError, Problem, _duplicates, _one_of, display_path, pydantic_problems,
                            reference_problems)
from baton.task import (TASK_ID_PATTERN, Customer, Document, GoldenTask, Gold, JSONValue, Route,
                        Slug, Tag, ToolSpec, Turn, WorldSeed)

__all__ = ["Problem", "FixtureError", "DomainFile", "TaskFile", "TaskWorld", "DocFrontMatter",
           "load_tasks", "load_golden_set", "display_path", "pydantic_problems", "reference_problems",
           "to_json_types"]

DATASET_SUFFIXES = (".jsonl", ".parquet")
_YAML_SUFFIXES = (".yaml", ".yml")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)


# --------------------------------------------------------------------------- file formats


class _FileModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DocFrontMatter(_FileModel):
    """The front matter of a knowledge document."""

    id: Slug
    title: str


class DomainFile(_FileModel):
    """``<domain>/domain.yaml``."""

    domain: Slug
    title: str
    description: str | None = None
    policy: str | None = None
    routes: list[Route] = Field(min_length=1)
    tools: list[ToolSpec] = Field(default_factory=list)
    world: WorldSeed


class TaskWorld(_FileModel):
    """A task's changes to its domain's seed world. A record given here replaces (or adds) the
    record with that id; a record set to null removes it."""

    today: dt.date | None = None
    collections: dict[str, dict[str, dict[str, JSONValue] | None]] = Field(default_factory=dict)


class TaskFile(_FileModel):
    """``<domain>/tasks/<slug>.yaml``: one golden task before it is resolved against its domain."""

    id: Annotated[str, StringConstraints(pattern=TASK_ID_PATTERN)]
    version: int = Field(ge=1)
    title: str
    tags: list[Tag] = Field(default_factory=list)
    request: str = Field(min_length=1)
    customer: Customer | None = None
    conversation: list[Turn] = Field(default_factory=list)
    tools: list[str] | None = Field(default=None, description="Tool names; default: all domain tools.")
    world: TaskWorld | None = None
    gold: Gold


# --------------------------------------------------------------------------- YAML


class _Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """Safe loader that rejects duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool, dt.date)):
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def to_json_types(value: Any) -> Any:
    """YAML data as JSON types: dates as ISO strings, mapping keys as strings."""
    if isinstance(value, dict):
        return {_key(k): to_json_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_types(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _key(key: Any) -> str:
    if isinstance(key, (dt.date, dt.datetime)):
        return key.isoformat()
    return key if isinstance(key, str) else str(key)


def _yaml_problem(file: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark.line != getattr(mark, "line", None):
        context = f"{context} started at line {context_mark.line + 1}, column {context_mark.column + 1}"
    detail = f"{context}: {problem}" if context else problem
    return Problem(file, where, f"malformed YAML: {detail}")


def _read_yaml(path: Path, problems: list[Problem], what: str) -> dict[str, Any] | None:
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(file, "", f"cannot read file: {exc}"))
        return None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        problems.append(_yaml_problem(file, exc))
        return None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        problems.append(Problem(file, "", f"expected a mapping ({what}), got {got}"))
        return None
    return to_json_types(data)


# --------------------------------------------------------------------------- domains


@dataclass(slots=True)
class _Domain:
    name: str
    file: str
    spec: DomainFile
    documents: list[Document] = field(default_factory=list)
    python_tools: list[ToolSpec] = field(default_factory=list)

    @property
    def tools(self) -> dict[str, ToolSpec]:
        return {tool.name: tool for tool in [*self.spec.tools, *self.python_tools]}


def _load_documents(folder: Path, problems: list[Problem]) -> list[Document]:
    documents: list[Document] = []
    seen: dict[str, str] = {}
    for path in sorted((folder / "docs").glob("*.md")):
        file = display_path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(file, "", f"cannot read file: {exc}"))
            continue
        match = _FRONT_MATTER.match(text)
        if not match:
            problems.append(Problem(file, "", "expected YAML front matter between '---' lines "
                                              "with 'id' and 'title' at the top of the file"))
            continue
        try:
            meta = yaml.load(match.group(1), Loader=_Loader)  # noqa: S506
        except yaml.YAMLError as exc:
            problems.append(_yaml_problem(file, exc))
            continue
        try:
            front = DocFrontMatter.model_validate(to_json_types(meta) if isinstance(meta, dict) else meta)
        except ValidationError as exc:
            problems.extend(pydantic_problems(file, exc))
            continue
        if front.id in seen:
            problems.append(Problem(file, "id", f"duplicate document id '{front.id}' (also in {seen[front.id]})"))
            continue
        seen[front.id] = file
        documents.append(Document(id=front.id, title=front.title, text=match.group(2).strip() + "\n",
                                  path=file))
    return documents


def _load_domain(folder: Path, problems: list[Problem]) -> _Domain | None:
    path = folder / "domain.yaml"
    file = display_path(path)
    if not path.is_file():
        problems.append(Problem(display_path(folder), "", "not a domain folder: domain.yaml is missing"))
        return None
    data = _read_yaml(path, problems, "the domain")
    documents = _load_documents(folder, problems)
    if data is None:
        return None
    try:
        spec = DomainFile.model_validate(data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(file, exc))
        return None
    before = len(problems)
    if spec.domain != folder.name:
        problems.append(Problem(file, "domain", f"'{spec.domain}' must equal the folder name '{folder.name}'"))
    for i, label in _duplicates([r.label for r in spec.routes]):
        problems.append(Problem(file, f"routes.{i}.label", f"duplicate route label '{label}'"))
    for i, name in _duplicates([t.name for t in spec.tools]):
        problems.append(Problem(file, f"tools.{i}.name", f"duplicate tool name '{name}'"))
    for i, tool in enumerate(spec.tools):
        try:
            validator_for(tool.parameters, default=Draft202012Validator).check_schema(tool.parameters)
        except SchemaError as exc:
            where = ".".join(str(part) for part in exc.absolute_path)
            problems.append(Problem(file, f"tools.{i}.parameters{'.' + where if where else ''}",
                                    f"invalid JSON Schema: {exc.message}"))
        for where in _empty_enums(tool.parameters, f"tools.{i}.parameters"):
            problems.append(Problem(file, where, f"tool '{tool.name}': an empty enum accepts no value; "
                                                 f"list the allowed values or remove the enum"))
    problems.extend(_world_type_problems(spec.world, file))
    python_tools = _load_python_tools(folder, spec, file, problems)
    if len(problems) > before:
        return None
    return _Domain(folder.name, file, spec, documents, python_tools)


def _load_python_tools(folder: Path, spec: DomainFile, file: str, problems: list[Problem]) -> list[ToolSpec]:
    """The tools of ``<domain>/tools.py`` (none without one); problems name the file and line."""
    for i, tool in enumerate(spec.tools):
        if tool.python is not None:
            problems.append(Problem(file, f"tools.{i}.python", "Python tools are defined in the "
                                    "domain's tools.py, not in domain.yaml"))
    path = folder / "tools.py"
    if not path.is_file():
        return []
    from baton.tool_module import load_tools_file  # lazy: most domains have no tools.py

    tools_file = display_path(path)
    tools, found = load_tools_file(path, tools_file)
    problems.extend(Problem(tools_file, p.field, p.message) for p in found)
    declared = {t.name for t in spec.tools}
    for tool in tools:
        if tool.name in declared:
            problems.append(Problem(tools_file, f"line {tool.python.line if tool.python else 0}",
                                    f"tool '{tool.name}' is also defined in {file}"))
    return tools


def _empty_enums(schema: Any, path: str) -> Iterable[str]:
    """Field paths of every ``enum: []`` in a JSON Schema."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "enum" and isinstance(value, list) and not value:
                yield f"{path}.enum"
            else:
                yield from _empty_enums(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _empty_enums(value, f"{path}.{i}")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return "null"


def _world_type_problems(world: WorldSeed, file: str) -> list[Problem]:
    """A field whose type in one record of a collection differs from its type in most others
    (a number retyped as a string): reported once, against the seed world, not per task."""
    problems = []
    for collection, records in world.collections.items():
        kinds: dict[str, dict[str, str]] = {}
        for rid, record in records.items():
            for name, value in record.items():
                if value is not None:
                    kinds.setdefault(name, {})[rid] = _json_kind(value)
        for name, by_record in kinds.items():
            counts = Counter(by_record.values())
            if len(counts) < 2:
                continue
            (usual, n), = counts.most_common(1)
            if n * 2 <= len(by_record):
                continue  # no clear majority: a field that legitimately takes several types
            for rid, kind in by_record.items():
                if kind != usual:
                    problems.append(Problem(file, f"world.collections.{collection}.{rid}.{name}",
                                            f"expected a {usual} like in the other {n} records of "
                                            f"'{collection}', got a {kind}"))
    return problems


# --------------------------------------------------------------------------- tasks


def _merge_world(seed: WorldSeed, changes: TaskWorld | None) -> WorldSeed:
    """The task's world. Tasks that change nothing share their domain's (validated) seed, and a
    task's changes copy only the collections they touch: a domain with a large world (an
    imported benchmark's tables) does not cost one copy of it per task."""
    if changes is None or (not changes.collections and changes.today is None):
        return seed
    collections = dict(seed.collections)
    for name, records in changes.collections.items():
        target = collections[name] = dict(collections.get(name, {}))
        for rid, record in records.items():
            if record is None:
                target.pop(rid, None)
            else:
                target[rid] = record
    today = changes.today if changes.today is not None else seed.today
    return WorldSeed.model_construct(today=today, collections=collections)  # both parts are validated


_ToolUses = dict[str, list[Problem]]
"""Tool name absent from its domain -> the problems of the task files that use it."""


def _unknown_tool_uses(spec: TaskFile, domain: _Domain, file: str) -> _ToolUses:
    """Where a task names a tool its domain does not declare at all (task ``tools`` list, gold
    tool calls, forbidden actions)."""
    known = domain.tools
    uses: _ToolUses = {}
    listing = _one_of(known)
    for i, name in enumerate(spec.tools or ()):
        if name not in known:
            uses.setdefault(name, []).append(Problem(file, f"tools.{i}", f"'{name}' is not a tool of domain "
                                                     f"'{domain.name}' ({listing})"))
    for group, calls in (("tool_calls", spec.gold.tool_calls), ("forbidden_actions", spec.gold.forbidden_actions)):
        for i, call in enumerate(calls):
            if call.name not in known and spec.tools is None:
                uses.setdefault(call.name, []).append(Problem(
                    file, f"gold.{group}.{i}.name", f"'{call.name}' is not one of the task's tools ({listing})"))
    return uses


def _tool_use_problems(domain: _Domain, uses: _ToolUses) -> list[Problem]:
    """Unknown tools used by several task files (or by a domain without tools) are one problem of
    ``domain.yaml`` — the tools were dropped or renamed there; a tool only one file names is that
    file's typo."""
    if uses and not domain.spec.tools:
        files = list(dict.fromkeys(p.file for found in uses.values() for p in found))
        return [Problem(domain.file, "tools", f"the domain declares no tools, but {len(files)} task "
                        f"file{'s' * (len(files) != 1)} use {', '.join(sorted(uses))}; declare them under tools")]
    problems = []
    for name, found in uses.items():
        files = list(dict.fromkeys(p.file for p in found))
        if len(files) >= 2:
            shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            problems.append(Problem(domain.file, "tools", f"no tool named '{name}', but {len(files)} task "
                                    f"file{'s' * (len(files) != 1)} use{'s' * (len(files) == 1)} it ({shown}); "
                                    f"declare it under tools (declared: {_one_of(domain.tools)})"))
        else:
            problems.extend(found)
    return problems


def _resolve(data: dict[str, Any], domain: _Domain, file: str,
             uses: _ToolUses | None = None) -> tuple[GoldenTask | None, list[Problem]]:
    try:
        spec = TaskFile.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(file, exc)
    if uses is not None and (unknown := _unknown_tool_uses(spec, domain, file)):
        for name, found in unknown.items():
            uses.setdefault(name, []).extend(found)
        return None, []
    problems = []
    task_domain = spec.id.split("/", 1)[0]
    if task_domain != domain.name:
        problems.append(Problem(file, "id", f"'{spec.id}' must start with '{domain.name}/', the domain "
                                            f"of the folder the task is in"))
    domain_tools = domain.tools
    if spec.tools is None:
        tools = list(domain_tools.values())
    else:
        tools = []
        for i, name in enumerate(spec.tools):
            if name not in domain_tools:
                problems.append(Problem(file, f"tools.{i}", f"'{name}' is not a tool of domain "
                                        f"'{domain.name}' ({_one_of(domain_tools)})"))
            elif any(t.name == name for t in tools):
                problems.append(Problem(file, f"tools.{i}", f"tool '{name}' is listed twice"))
            else:
                tools.append(domain_tools[name])
    if problems:
        return None, problems
    try:
        task = GoldenTask(
            id=spec.id, version=spec.version, domain=domain.name, title=spec.title,
            request=spec.request, customer=spec.customer, conversation=spec.conversation,
            tags=spec.tags, routes=domain.spec.routes, policy=domain.spec.policy,
            documents=domain.documents, tools=tools,
            world=_merge_world(domain.spec.world, spec.world), gold=spec.gold, source=file)
    except ValidationError as exc:
        return None, pydantic_problems(file, exc)
    problems = reference_problems(task, file)
    return (None if problems else task), problems


def _task_files(folder: Path) -> list[Path]:
    tasks_dir = folder / "tasks"
    if not tasks_dir.is_dir():
        return []
    return sorted(p for p in tasks_dir.iterdir()
                  if p.suffix in _YAML_SUFFIXES and p.is_file() and not p.name.startswith("."))


def _load_domain_tasks(folder: Path, files: list[Path] | None, problems: list[Problem]) -> list[GoldenTask]:
    domain = _load_domain(folder, problems)
    tasks = []
    uses: _ToolUses = {}
    for path in files if files is not None else _task_files(folder):
        data = _read_yaml(path, problems, "one task")
        if data is None:
            continue
        file = display_path(path)
        if domain is None:  # still report the task file's own schema problems
            try:
                TaskFile.model_validate(data)
            except ValidationError as exc:
                problems.extend(pydantic_problems(file, exc))
            continue
        task, found = _resolve(data, domain, file, uses)
        problems.extend(found)
        if task is not None:
            tasks.append(task)
    if domain is not None:
        problems.extend(_tool_use_problems(domain, uses))
    return tasks


def _is_domain(folder: Path) -> bool:
    return (folder / "domain.yaml").is_file()


def load_golden_set(path: Path | str) -> tuple[list[GoldenTask], list[Problem]]:
    """Load what ``path`` holds, returning the tasks that loaded cleanly and every problem found.

    Never raises for fixture problems; see :func:`load_tasks` for the raising variant.
    """
    path = Path(path)
    problems: list[Problem] = []
    tasks: list[GoldenTask]
    if not path.exists():
        return [], [Problem(display_path(path), "", "no such file or directory")]
    if path.is_file() and path.suffix in DATASET_SUFFIXES:
        from baton.dataset import read_tasks_file  # lazy: pyarrow is only needed here

        tasks, problems = read_tasks_file(path)
    elif path.is_file() and path.name == "domain.yaml":
        tasks = _load_domain_tasks(path.parent, None, problems)
    elif path.is_file() and path.suffix in _YAML_SUFFIXES:
        if path.parent.name != "tasks" or not _is_domain(path.parent.parent):
            return [], [Problem(display_path(path), "", "a task file must be in <domain>/tasks/ "
                                                        "next to <domain>/domain.yaml")]
        tasks = _load_domain_tasks(path.parent.parent, [path], problems)
    elif path.is_file():
        return [], [Problem(display_path(path), "", "expected a golden-set folder, a domain folder, a "
                                                    "task .yaml file or an exported .jsonl/.parquet file")]
    elif _is_domain(path):
        tasks = _load_domain_tasks(path, None, problems)
    else:
        tasks = []
        folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
        domains = [p for p in folders if _is_domain(p)]
        for folder in folders:
            if folder not in domains and (folder / "tasks").is_dir():
                problems.append(Problem(display_path(folder), "", "not a domain folder: domain.yaml is missing"))
        if not domains and not problems:
            problems.append(Problem(display_path(path), "", "no golden tasks found: expected "
                                    "<domain>/domain.yaml folders below it"))
        for folder in domains:
            tasks.extend(_load_domain_tasks(folder, None, problems))
    return _drop_duplicates(tasks, problems), problems


def _drop_duplicates(tasks: list[GoldenTask], problems: list[Problem]) -> list[GoldenTask]:
    first: dict[str, GoldenTask] = {}
    kept = []
    for task in tasks:
        if task.id in first:
            problems.append(Problem(task.source or task.id, "id", f"duplicate task id '{task.id}' "
                                    f"(also in {first[task.id].source or 'an earlier row'})"))
            continue
        first[task.id] = task
        kept.append(task)
    return kept


def load_tasks(path: Path | str) -> list[GoldenTask]:
    """All golden tasks at ``path`` (root, domain folder, task file, or exported dataset file).

    Raises :class:`FixtureError` listing every problem when anything is wrong.
    """
    tasks, problems = load_golden_set(path)
    if problems:
        raise FixtureError(problems)
    return tasks
