"""The tool classes of a tau-bench-style checkout: read them, run them, and write a Baton tools.py.

* :func:`read_tools` reads ``tools/*.py`` from the syntax tree: each class with a static
  ``invoke`` and a ``get_info`` returning a literal dict is a tool. Whether it writes is judged
  from ``invoke``'s code (a store into, or a mutating call on, something reached from ``data``);
  the importer corrects that with what the benchmark's own replay shows.
* :func:`render_tools_py` writes the domain's ``tools.py``: the benchmark's classes copied
  unchanged except for their base class, and one ``@tool`` wrapper per tool (a result starting
  with "Error" is a tool error, a JSON result comes back parsed).
* :func:`load_original_tools` executes the checkout's own tool files (imports of the benchmark's
  package that are not installed get a stand-in base class) so the importer can replay the
  benchmark's gold actions with the benchmark's code.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import pprint
import re
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton.fixtures import Problem, display_path

__all__ = ["BenchTool", "read_tools", "render_tools_py", "load_original_tools", "tool_function_name"]

_MUTATORS = {"append", "extend", "insert", "pop", "remove", "update", "clear", "setdefault", "sort",
             "reverse", "add", "discard", "popitem"}


@dataclass(slots=True)
class BenchTool:
    """One tool class of the checkout."""

    name: str
    class_name: str
    file: str
    line: int
    description: str
    parameters: dict[str, Any]
    writes: bool


@dataclass(slots=True)
class _Module:
    imports: list[str]
    helpers: list[tuple[str, str]]  # (name, source)
    classes: list[tuple[str, str]]  # (class name, source without base classes)


# --------------------------------------------------------------------------- writes


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Subscript | ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Tuple | ast.List):
        return [t for e in node.elts for t in _targets(e)]
    return [node]


def judge_writes(invoke: ast.FunctionDef) -> bool:
    """Whether ``invoke`` stores into (or mutates) anything reached from its first parameter."""
    params = invoke.args.posonlyargs + invoke.args.args
    if not params:
        return False
    tainted = {params[0].arg}
    for _ in range(4):  # propagate through assignments and loops until nothing changes
        before = len(tainted)
        for node in ast.walk(invoke):
            if isinstance(node, ast.Assign) and _names(node.value) & tainted:
                tainted |= {t.id for target in node.targets for t in _targets(target) if isinstance(t, ast.Name)}
            elif isinstance(node, ast.For | ast.comprehension) and _names(node.iter) & tainted:
                tainted |= {t.id for t in _targets(node.target) if isinstance(t, ast.Name)}
            elif isinstance(node, ast.NamedExpr) and _names(node.value) & tainted:
                tainted.add(node.target.id)
        if len(tainted) == before:
            break
    for node in ast.walk(invoke):
        stores: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            stores = [t for target in node.targets for t in _targets(target)]
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            stores = [node.target]
        elif isinstance(node, ast.Delete):
            stores = list(node.targets)
        if any(isinstance(s, ast.Subscript | ast.Attribute) and _root(s) in tainted for s in stores):
            return True
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in _MUTATORS and _root(node.func.value) in tainted):
            return True
    return False


# --------------------------------------------------------------------------- reading


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    return next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def _info(get_info: ast.FunctionDef, file: str, cls: str, problems: list[Problem]) -> dict[str, Any] | None:
    returns = [n for n in ast.walk(get_info) if isinstance(n, ast.Return) and n.value is not None]
    where = f"{cls}.get_info"
    try:
        info = ast.literal_eval(returns[0].value) if len(returns) == 1 else None  # type: ignore[arg-type]
    except ValueError:
        info = None
    if not isinstance(info, dict):
        problems.append(Problem(file, where, "expected get_info() to return one literal dict "
                                             "(the OpenAI function schema)"))
        return None
    function = info.get("function", info) if info.get("type", "function") == "function" else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        problems.append(Problem(file, f"{where}.function.name", "expected the tool's name (a string)"))
        return None
    parameters = function.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        problems.append(Problem(file, f"{where}.function.parameters", "expected a JSON Schema of type 'object'"))
        return None
    return function


def _class_source(source: str, cls: ast.ClassDef) -> str:
    """The class's source with its base classes (the benchmark's Tool) dropped."""
    text = ast.get_source_segment(source, cls, padded=True) or ""
    text = textwrap.dedent(text)
    body_start = cls.body[0]
    header_lines = body_start.lineno - cls.lineno
    lines = text.splitlines()
    header = "\n".join(lines[:header_lines]) if header_lines else lines[0]
    rest = lines[header_lines:] if header_lines else lines[1:]
    new_header = re.sub(r"^class\s+(\w+)\s*(\((?:.|\n)*?\))?\s*:", rf"class \1:", header, count=1)
    return "\n".join([new_header, *rest])


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def _read_module(path: Path, problems: list[Problem], tools: list[BenchTool]) -> _Module | None:
    file = display_path(path)
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=file)
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(file, "", f"cannot read file: {exc}"))
        return None
    except SyntaxError as exc:
        problems.append(Problem(file, f"line {exc.lineno}", f"syntax error: {exc.msg}"))
        return None
    module = _Module([], [], [])
    bases: set[str] = set()
    found = 0
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            invoke, get_info = _method(node, "invoke"), _method(node, "get_info")
            if invoke is None or get_info is None:
                module.helpers.append((node.name, ast.get_source_segment(source, node) or ""))
                continue
            info = _info(get_info, file, node.name, problems)
            if info is None:
                continue
            found += 1
            bases |= {b.id for b in node.bases if isinstance(b, ast.Name)}
            module.classes.append((node.name, _class_source(source, node)))
            tools.append(BenchTool(info["name"], node.name, file, node.lineno,
                                   str(info.get("description") or info["name"]),
                                   info.get("parameters") or {"type": "object", "properties": {}},
                                   judge_writes(invoke)))
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if node.__class__ is ast.ImportFrom and node.level:  # a relative import of the benchmark
                imported = {a.asname or a.name for a in node.names}
            elif all(_installed(m) for m in modules):
                module.imports.append(ast.get_source_segment(source, node) or "")
                continue
            else:
                imported = {a.asname or a.name for a in node.names}
            if imported - bases:
                problems.append(Problem(file, f"line {node.lineno}", f"imports {', '.join(sorted(imported - bases))} "
                                        "from the benchmark's own package, which a Baton domain cannot carry; "
                                        "only the tool base class may come from there"))
        elif isinstance(node, ast.FunctionDef | ast.Assign | ast.AnnAssign):
            name = node.name if isinstance(node, ast.FunctionDef) else ast.unparse(
                node.targets[0] if isinstance(node, ast.Assign) else node.target)
            module.helpers.append((name, ast.get_source_segment(source, node) or ""))
    if not found:
        problems.append(Problem(file, "", "no tool class: expected a class with static invoke(data, ...) "
                                          "and get_info() methods"))
    return module


def read_tools(files: list[Path]) -> tuple[list[BenchTool], list[Problem], str]:
    """The tools of ``files``, their problems, and the code a tools.py needs (imports, helpers,
    classes) as one block of source."""
    tools: list[BenchTool] = []
    problems: list[Problem] = []
    imports: list[str] = []
    helpers: dict[str, tuple[str, str]] = {}
    classes: dict[str, tuple[str, str]] = {}
    for path in files:
        module = _read_module(path, problems, tools)
        if module is None:
            continue
        file = display_path(path)
        imports.extend(i for i in module.imports if i not in imports)
        for kind, found, into in (("helper", module.helpers, helpers), ("class", module.classes, classes)):
            for name, text in found:
                if name in into and into[name][1] != text:
                    problems.append(Problem(file, name, f"{kind} '{name}' is also defined, differently, in "
                                                        f"{into[name][0]}; the tools cannot share one module"))
                into.setdefault(name, (file, text))
    seen: dict[str, str] = {}
    for t in tools:
        if t.name in seen:
            problems.append(Problem(t.file, f"{t.class_name}.get_info.function.name",
                                    f"tool '{t.name}' is also defined in {seen[t.name]}"))
        seen[t.name] = t.file
    code = "\n".join(imports) + "\n\n\n" + "\n\n\n".join(
        [text for _, text in helpers.values()] + [text for _, text in classes.values()])
    return tools, problems, code


# --------------------------------------------------------------------------- tools.py


def tool_function_name(name: str) -> str:
    return "tool_" + re.sub(r"\W", "_", name)


def render_tools_py(tools: list[BenchTool], code: str, origin: str) -> str:
    """The domain's tools.py: the benchmark's code and one Baton tool wrapper per tool."""
    wrappers = []
    for t in tools:
        parameters = textwrap.indent(pprint.pformat(t.parameters, width=92, sort_dicts=False), "    ").lstrip()
        wrappers.append(
            f"@tool(\n    writes={t.writes},\n    name={t.name!r},\n    description={t.description!r},\n"
            f"    parameters={parameters},\n)\n"
            f"def {tool_function_name(t.name)}(db, **kwargs):\n"
            f'    """{t.class_name} ({t.file})."""\n'
            f"    return _baton_result(db, {t.class_name}.invoke(data=db, **kwargs))\n")
    header = (f'"""Tools imported by `baton import tau-bench` from {origin}.\n\n'
              "The classes are the benchmark's own code, copied unchanged except that their base class is\n"
              "dropped. Each @tool wrapper makes one a Baton tool: a result starting with \"Error\" is a\n"
              "tool error (the model sees its text), a JSON result comes back parsed.\n"
              '"""\n\n')
    helper = ('\n\ndef _baton_result(db, value):\n'
              '    if isinstance(value, str):\n'
              '        if value.startswith("Error"):\n'
              '            raise ToolError(value.removeprefix("Error:").strip() or value)\n'
              '        try:\n'
              '            return _baton_json.loads(value)\n'
              '        except ValueError:\n'
              '            return value\n'
              '    return value\n\n\n')
    imports = "import json as _baton_json\n\nfrom baton.tools import ToolError, tool\n"
    return header + code.strip() + "\n\n" + imports + helper + "\n\n".join(wrappers)


# --------------------------------------------------------------------------- the originals


def _stub_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    def attribute(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return type(attr, (), {})

    module.__getattr__ = attribute  # type: ignore[attr-defined]
    return module


def _importer(real: Any) -> Any:
    def load(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level == 0 and _installed(name):
            return real(name, globals, locals, fromlist, level)
        return _stub_module(name)  # the benchmark's own package (not installed): a stand-in base class
    return load


def load_original_tools(files: list[Path]) -> dict[str, Any]:
    """tool name -> the checkout's own tool class, executed from its file."""
    found: dict[str, Any] = {}
    for path in files:
        source = path.read_text(encoding="utf-8")
        namespace: dict[str, Any] = {"__name__": f"_baton_bench_tools_{path.stem}", "__file__": str(path),
                                     "__builtins__": {**vars(builtins), "__import__": _importer(builtins.__import__)}}
        exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - the user's own checkout
        for value in list(namespace.values()):
            if isinstance(value, type) and callable(getattr(value, "invoke", None)) \
                    and callable(getattr(value, "get_info", None)):
                try:
                    info = value.get_info()
                except Exception:  # the abstract base class itself
                    continue
                function = info.get("function", info) if isinstance(info, dict) else {}
                if isinstance(function, dict) and isinstance(function.get("name"), str):
                    found[function["name"]] = value
    return found
