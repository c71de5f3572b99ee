"""The layering of ``src/baton``, read statically from the source (``ast``, module-level imports
only; an import inside a function is a deliberate late import and does not count):

* the graph of module-level imports between Baton's modules has no cycle;
* no module outside ``baton.commands`` / ``baton.cli`` imports a command (grading, runners,
  reports and the engine sit below the commands; the commands use them, never the reverse).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "baton"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports executed when the module is imported: at module level, including inside
    module-level ``if``/``try`` blocks, but not under ``if TYPE_CHECKING`` and not in functions."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                found.append(stmt)
            elif isinstance(stmt, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(stmt.test):
                    visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.Try):
                for block in (stmt.body, stmt.orelse, stmt.finalbody, *(h.body for h in stmt.handlers)):
                    visit(block)
            elif isinstance(stmt, ast.With):
                visit(stmt.body)

    visit(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    """``module -> Baton modules it imports at import time`` (a ``from pkg import name`` edge
    goes to ``pkg.name`` when that is a module, else to ``pkg``)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve(module, is_package, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in targets:
                while target and target not in files:  # import a.b.c of a package: the deepest module
                    target = target.rpartition(".")[0]
                if target.startswith("baton") and target != module:
                    edges.add(target)
        graph[module] = edges
    # importing a.b.c runs a/__init__ and a/b/__init__ first
    for module in list(graph):
        parts = module.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in graph and parent != module:
                graph[module].add(parent)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _is_command(module: str) -> bool:
    return module in ("baton.cli", "baton.commands") or module.startswith("baton.commands.")


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    # a package importing its own submodules (re-exports) is not a cycle of layers
    layered = {m: {t for t in edges if not t.startswith(m + ".")} for m, edges in graph.items()}
    cycle = find_cycle(layered)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_below_the_commands_imports_a_command() -> None:
    graph = import_graph()
    offenders = sorted(f"{m} imports {t}" for m, edges in graph.items() if not _is_command(m)
                       for t in edges if _is_command(t))
    assert not offenders, "\n".join(offenders)


def test_the_walker_sees_cycles_and_ignores_late_imports(tmp_path: Path) -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse("import x\nif TYPE_CHECKING:\n    import y\ndef f():\n    import z\n"
                     "try:\n    import w\nexcept ImportError:\n    pass\n")
    names = [alias.name for node in _top_level_imports(tree) for alias in node.names]
    assert names == ["x", "w"]


LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("data types and configuration",
     ("baton", "baton.task", "baton.trace", "baton.result", "baton.model", "baton.vendors", "baton.systems",
      "baton.errors", "baton.registry", "baton.problems", "baton.call_context", "baton.redact", "baton.stats", "baton.project",
      "baton.run_settings", "baton.run_options", "baton.config_model", "baton.system_config", "baton.vendor_config",
      "baton.sim",
      "baton.sim.knobs")),
    ("world and graders",
     ("baton.world", "baton.expr", "baton.tools", "baton.tool_module", "baton.replay", "baton.fixtures",
      "baton.dataset", "baton.validate", "baton.graders", "baton.sim.behaviour", "baton.sim.oracle",
      "baton.sim.seen", "baton.sim.compose", "baton.sim.tasks", "baton.sim.server")),
    ("runners", ("baton.runners", "baton.client", "baton.vendor_kinds", "baton.cache", "baton.local_model", "baton.local_model_server",
                 "baton.sim.inprocess")),
    ("engine and store",
     ("baton.matrix", "baton.plan", "baton.preflight", "baton.units", "baton.engine", "baton.store",
      "baton.manifest", "baton.merge", "baton.backends", "baton.run_health", "baton.otel", "baton.progress",
      "baton.load", "baton.importers", "baton.sim.whatif", "baton.sim.whatif_chart")),
    ("reports", ("baton.reports", "baton.gates")),
    ("commands", ("baton.cli", "baton.commands", "baton.pytest_plugin", "baton.plugin_options")),
)
"""The layers of ARCHITECTURE.md, top to bottom; a module belongs to its longest listed prefix
(``baton`` stands for the package's ``__init__`` only).
Every module must be covered (:func:`test_every_module_has_a_layer`): a new module is placed here."""


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            covers = module == prefix or (prefix != "baton" and module.startswith(prefix + "."))
            if covers and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def test_each_layer_imports_only_from_the_layers_above_it() -> None:
    graph = import_graph()
    wrong = []
    for module, edges in sorted(graph.items()):
        own = _layer(module)
        for target in sorted(edges):
            layer = _layer(target)
            if own is not None and layer is not None and target != "baton" and layer > own:
                wrong.append(f"{module} ({LAYERS[own][0]}) imports {target} ({LAYERS[layer][0]})")
    assert not wrong, "\n".join(wrong)


def test_a_module_belongs_to_its_longest_listed_prefix() -> None:
    assert _layer("baton.sim.knobs") == 0 and _layer("baton.sim.oracle") == 1 and _layer("baton.sim.whatif") == 3
    assert _layer("baton.graders.state") == 1 and _layer("baton.commands.run") == 5
    assert _layer("baton.something_new") is None


def test_every_module_has_a_layer() -> None:
    """A new module is placed in a layer before it lands, so the layering checks see it."""
    unplaced = sorted(module for module in import_graph() if _layer(module) is None)
    assert not unplaced, f"add these modules to LAYERS: {', '.join(unplaced)}"
