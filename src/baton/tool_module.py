"""Load a domain's ``tools.py``: its :func:`baton.tools.tool` functions become ToolSpecs.

* :func:`load_tools_file` reads ``<domain>/tools.py`` when a domain is loaded and turns every
  decorated function into a :class:`~baton.task.ToolSpec` whose ``python`` carries the module's
  source, so a loaded task (or an exported dataset file) is self-contained. A problem (syntax
  error, exception while importing, missing type hint or docstring, schema that cannot be built)
  is reported with the file and line, never as a traceback.
* :func:`python_tool` gives the callable behind a ToolSpec (the module is executed once per
  process and source). The module is registered in ``sys.modules`` under a unique name
  (``_baton_domain_tools_<hash>``), never a generic one like ``tools``, so two domains' tools.py
  never collide and no user import is shadowed.

Argument schemas come from the type hints: the parameters after the first (the world) become a
pydantic model whose JSON Schema is the tool's ``parameters`` and which validates (and converts)
each call's arguments.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import sys
import traceback
import types
import typing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import to_jsonable_python

from baton.task import PythonTool, ToolSpec
from baton.tools import TOOL_ATTRIBUTE, ToolMeta
from baton.world import ToolError

__all__ = ["TOOLS_FILE", "ToolsFileProblem", "load_tools_file", "python_tool", "LoadedTool"]

TOOLS_FILE = "tools.py"
_ARGS_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_ARG_LINE = re.compile(r"^(\s+)(\*{0,2}[A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True, slots=True)
class ToolsFileProblem:
    """A problem of a tools.py: the line (0 when unknown) and what is wrong."""

    line: int
    message: str

    @property
    def field(self) -> str:
        return f"line {self.line}" if self.line else ""


class _LoadError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


# --------------------------------------------------------------------------- the module


def _module_name(file: str, source: str) -> str:
    digest = hashlib.sha256(f"{file}\0{source}".encode()).hexdigest()[:16]
    return f"_baton_domain_tools_{digest}"


def _error_line(exc: BaseException, file: str) -> int:
    if isinstance(exc, SyntaxError) and exc.filename == file:
        return exc.lineno or 0
    lines = [frame.lineno or 0 for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == file]
    return lines[-1] if lines else 0


@lru_cache(maxsize=64)
def _module(file: str, source: str) -> types.ModuleType:
    """Execute a tools.py once per (file, source); raises _LoadError naming the line."""
    name = _module_name(file, source)
    cached = sys.modules.get(name)
    if cached is not None:
        return cached
    module = types.ModuleType(name)
    module.__file__ = file
    sys.modules[name] = module  # pydantic and dataclasses resolve annotations through it
    try:
        code = compile(source, file, "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102 - the domain's own code, as with any plugin
    except BaseException as exc:
        sys.modules.pop(name, None)
        if not isinstance(exc, Exception):
            raise
        what = "syntax error" if isinstance(exc, SyntaxError) else "error while importing"
        detail = exc.msg if isinstance(exc, SyntaxError) else f"{type(exc).__name__}: {exc}"
        raise _LoadError(_error_line(exc, file), f"{what}: {detail}") from None
    return module


# --------------------------------------------------------------------------- schemas


def _docstring(func: Any) -> tuple[str, dict[str, str]]:
    """(description: the docstring before its Args section, argument descriptions)."""
    doc = inspect.getdoc(func) or ""
    lines = doc.splitlines()
    start = next((i for i, line in enumerate(lines) if _ARGS_SECTION.match(line)), None)
    if start is None:
        return doc.strip(), {}
    described: dict[str, str] = {}
    current: str | None = None
    indent = None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        match = _ARG_LINE.match(line)
        if match and (indent is None or len(match.group(1)) == indent):
            indent = len(match.group(1))
            current = match.group(2).lstrip("*")
            described[current] = match.group(3).strip()
        elif current is not None and line.startswith(" ") and (indent is None or len(line) - len(line.lstrip()) > indent):
            described[current] = f"{described[current]} {line.strip()}".strip()
        else:
            break
    description = "\n".join(lines[:start]).strip()
    return description, described


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items()
                if not (k == "title" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


@dataclass(frozen=True, slots=True)
class LoadedTool:
    """A tools.py function ready to call: its argument model (None when the author gave a JSON
    Schema instead of type hints) and whether it takes ``today``."""

    func: Any
    model: type[BaseModel] | None
    wants_today: bool

    def arguments(self, tool_name: str, args: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments, validated and converted by the type hints."""
        if self.model is None:
            return args
        try:
            parsed = self.model.model_validate(args)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in err["loc"])
            raise ToolError(f"{tool_name}: argument '{where}': {err['msg']}") from None
        return {name: getattr(parsed, name) for name in type(parsed).model_fields}

    def call(self, db: dict[str, Any], kwargs: dict[str, Any], today: Any) -> Any:
        if self.wants_today:
            return self.func(db, **kwargs, today=today)
        return self.func(db, **kwargs)

    @staticmethod
    def jsonable(tool_name: str, result: Any) -> Any:
        """The result as JSON data; a value that is not JSON is a tool error."""
        try:
            value = to_jsonable_python(result)
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ToolError(f"{tool_name} returned a value that is not JSON: {exc}") from None
        return value


def _def_line(func: Any, source: str) -> int:
    """The line of ``def`` (decorators come first, and co_firstlineno points at them)."""
    lines = source.splitlines()
    line = func.__code__.co_firstlineno
    while line <= len(lines) and not lines[line - 1].lstrip().startswith(("def ", "async def ")):
        line += 1
    return line if line <= len(lines) else func.__code__.co_firstlineno


def _analyse(func: Any, meta: ToolMeta, name: str, source: str) -> LoadedTool:
    """The argument model of ``func``; raises _LoadError for what cannot become a schema."""
    line = _def_line(func, source)
    params = list(inspect.signature(func).parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or params[0].kind not in positional:
        raise _LoadError(line, f"tool '{name}': the first parameter receives the world "
                               "(collection -> record id -> record); add one, e.g. 'db'")
    wants_today = any(p.name == "today" and p.kind == inspect.Parameter.KEYWORD_ONLY for p in params)
    arguments = [p for p in params[1:] if not (p.name == "today" and p.kind == inspect.Parameter.KEYWORD_ONLY)]
    for p in arguments:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) and meta.parameters is None:
            raise _LoadError(line, f"tool '{name}': '*{p.name}' cannot become a JSON Schema; name each "
                                   "argument, or pass parameters=... to @tool")
    if meta.parameters is not None:
        return LoadedTool(func, None, wants_today)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:  # a hint naming something undefined
        raise _LoadError(line, f"tool '{name}': cannot read its type hints: {type(exc).__name__}: {exc}") from None
    _, described = _docstring(func)
    fields: dict[str, Any] = {}
    for p in arguments:
        if p.name not in hints:
            raise _LoadError(line, f"tool '{name}': parameter '{p.name}' has no type hint, so its JSON "
                                   "Schema is unknown; annotate it (e.g. 'loan_id: str')")
        default = ... if p.default is inspect.Parameter.empty else p.default
        info = Field(default, description=described[p.name]) if p.name in described else Field(default)
        fields[p.name] = (hints[p.name], info)
    try:
        model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        model.model_json_schema()
    except Exception as exc:  # pydantic cannot build a schema for a type
        raise _LoadError(line, f"tool '{name}': cannot build the arguments' JSON Schema: {exc}") from None
    return LoadedTool(func, model, wants_today)


def _parameters(loaded: LoadedTool, meta: ToolMeta) -> dict[str, Any]:
    if meta.parameters is not None:
        return dict(meta.parameters)
    assert loaded.model is not None
    schema = _strip_titles(loaded.model.model_json_schema())
    schema.setdefault("properties", {})
    return schema


def _tool_functions(module: types.ModuleType) -> list[tuple[str, Any, ToolMeta]]:
    found = []
    for attr, value in vars(module).items():
        meta = getattr(value, TOOL_ATTRIBUTE, None)
        if isinstance(meta, ToolMeta) and inspect.isfunction(value) and value.__module__ == module.__name__:
            found.append((meta.name or attr, value, meta))
    found.sort(key=lambda item: item[1].__code__.co_firstlineno)
    return found


# --------------------------------------------------------------------------- public API


def load_tools_file(path: Path, file: str) -> tuple[list[ToolSpec], list[ToolsFileProblem]]:
    """The tools a ``tools.py`` defines, and its problems (``file`` is how messages name it)."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [ToolsFileProblem(0, f"cannot read file: {exc}")]
    try:
        module = _module(file, source)
    except _LoadError as exc:
        return [], [ToolsFileProblem(exc.line, str(exc))]
    functions = _tool_functions(module)
    if not functions:
        return [], [ToolsFileProblem(0, "defines no tool: mark each tool function with "
                                        "@tool(writes=...) from baton.tools")]
    specs: list[ToolSpec] = []
    problems: list[ToolsFileProblem] = []
    for name, func, meta in functions:
        line = _def_line(func, source)
        try:
            loaded = _analyse(func, meta, name, source)
        except _LoadError as exc:
            problems.append(ToolsFileProblem(exc.line, str(exc)))
            continue
        description = meta.description or _docstring(func)[0]
        if not description:
            problems.append(ToolsFileProblem(line, f"tool '{name}' has no docstring: its first paragraph "
                                                   "is the description the model reads"))
            continue
        try:
            specs.append(ToolSpec(name=name, description=description, parameters=_parameters(loaded, meta),
                                  python=PythonTool(file=file, function=func.__name__, line=line,
                                                    writes=meta.writes, source=source)))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            problems.append(ToolsFileProblem(line, f"tool '{name}': {'.'.join(map(str, err['loc']))}: {err['msg']}"))
    return specs, problems


@lru_cache(maxsize=1024)
def python_tool(ref: PythonTool) -> LoadedTool:
    """The callable behind a Python tool. A module that no longer loads is a tool error."""
    try:
        module = _module(ref.file, ref.source)
        func = getattr(module, ref.function, None)
        meta = getattr(func, TOOL_ATTRIBUTE, None)
        if func is None or not isinstance(meta, ToolMeta):
            raise _LoadError(ref.line, f"{ref.function} is not a tool of this tools.py")
        return _analyse(func, meta, meta.name or ref.function, ref.source)
    except _LoadError as exc:
        raise ToolError(f"{ref.file}: line {exc.line}: {exc}") from None
