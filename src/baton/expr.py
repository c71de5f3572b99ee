"""A small, safe expression language for computed values and checks of the tool-effect DSL.

Expressions use Python syntax, restricted to a whitelist of AST nodes, and never call ``eval``:

* literals (numbers, strings, ``true``/``false``/``null`` as ``True``/``False``/``None``), lists,
  tuples and dicts;
* names (bound by the caller: arguments, ``record``, ``today``, loaded records, ``item``);
  ``x is None`` / ``x is not None`` test for a missing (null) value;
* ``a.b`` and ``a["b"]`` read a field of a record (attribute access is *only* field access: there
  are no methods, so ``cart.items`` is the cart's ``items`` field), ``a[0]`` an element;
* arithmetic ``+ - * / // %`` and unary ``-``; comparisons ``== != < <= > >= in not in``
  (numbers compare within 1e-6); ``and``, ``or``, ``not``; ``x if c else y``;
* calls of the functions in :data:`FUNCTIONS` only (``round``, ``sum``, ``min``, ``max``, ``len``...);
* comprehensions: ``[p.amount for p in record.payments if p.kind == 'card']``, the same with ``()``
  for ``sum(...)``, ``any(...)``, ``all(...)``; looping over a record loops over its values.

Anything else (``**``, lambdas, attribute names starting with ``_``, f-strings, walrus) is rejected
when the expression is parsed, so a domain file with such an expression fails to load.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

__all__ = ["ExprError", "parse", "evaluate", "names_used", "FUNCTIONS"]

_MAX_SEQUENCE = 100_000


class ExprError(Exception):
    """An expression that cannot be parsed or evaluated; the message says why."""


def _round(value: Any, digits: int = 0) -> Any:
    return round(value, digits) if digits else round(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "round": _round, "abs": abs, "min": min, "max": max, "sum": sum, "len": len,
    "sorted": sorted, "any": any, "all": all, "int": int, "float": float, "str": str,
    "bool": bool, "list": list, "set": lambda *a: sorted(set(*a), key=repr),
    "lower": lambda s: str(s).lower(), "upper": lambda s: str(s).upper(),
    "keys": lambda d: list(d), "values": lambda d: list(d.values()),
}

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    if _number(a) and _number(b):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return bool(a == b)


def _contains(container: Any, value: Any) -> bool:
    if isinstance(container, (list, tuple)):
        return any(_equal(value, item) for item in container)
    if isinstance(container, (dict, str)):
        return value in container
    raise ExprError(f"'in' needs a list, a record or a string on its right, got {type(container).__name__}")


_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: _equal, ast.NotEq: lambda a, b: not _equal(a, b),
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: _contains(b, a), ast.NotIn: lambda a, b: not _contains(b, a),
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}

_ALLOWED = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Store, ast.Attribute,
            ast.Subscript, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call,
            ast.List, ast.Tuple, ast.Dict, ast.ListComp, ast.GeneratorExp, ast.comprehension,
            ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, *_BINARY, *_COMPARE)


@lru_cache(maxsize=4096)
def parse(text: str) -> ast.Expression:
    """Parse and whitelist-check ``text``; raises :class:`ExprError`."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"not a valid expression: {exc.msg} in {text!r}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"{type(node).__name__} is not allowed in an expression: {text!r}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExprError(f"field names starting with '_' are not allowed: {text!r}")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                known = ", ".join(sorted(FUNCTIONS))
                raise ExprError(f"only these functions can be called: {known}; in {text!r}")
            if node.keywords:
                raise ExprError(f"keyword arguments are not supported: {text!r}")
        if isinstance(node, ast.comprehension) and (node.is_async or not isinstance(node.target, ast.Name)):
            raise ExprError(f"a comprehension needs one plain loop variable: {text!r}")
    return tree


def names_used(text: str) -> set[str]:
    """Free names an expression reads (loop variables and function names excluded)."""
    tree = parse(text)
    bound = {n.target.id for n in ast.walk(tree) if isinstance(n, ast.comprehension)
             and isinstance(n.target, ast.Name)}
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            and id(n) not in called and n.id not in bound}


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    """The value of ``text`` with ``names`` bound; raises :class:`ExprError`."""
    try:
        return _Evaluator(names).eval(parse(text).body)
    except ExprError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, KeyError, IndexError) as exc:
        raise ExprError(f"cannot compute {text.strip()!r}: {exc}") from None


def _field(container: Any, key: Any, text: str) -> Any:
    if isinstance(container, Mapping):
        if key in container:
            return container[key]
        raise ExprError(f"no field {key!r} (fields: {', '.join(map(str, container)) or 'none'})")
    if isinstance(container, (list, tuple, str)) and isinstance(key, int) and not isinstance(key, bool):
        try:
            return container[key]
        except IndexError:
            raise ExprError(f"index {key} is out of range (length {len(container)})") from None
    raise ExprError(f"cannot read {key!r} of {type(container).__name__} {text}")


class _Evaluator:
    def __init__(self, names: Mapping[str, Any]) -> None:
        self.scopes: list[Mapping[str, Any]] = [names]

    def eval(self, node: ast.AST) -> Any:  # noqa: C901 - one branch per node kind
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            for scope in reversed(self.scopes):
                if node.id in scope:
                    return scope[node.id]
            if node.id in ("true", "false", "null"):
                return {"true": True, "false": False, "null": None}[node.id]
            raise ExprError(f"unknown name '{node.id}'")
        if isinstance(node, ast.Attribute):
            return _field(self.eval(node.value), node.attr, f"(.{node.attr})")
        if isinstance(node, ast.Subscript):
            return _field(self.eval(node.value), self.eval(node.slice), "(subscript)")
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left), self.eval(node.right)
            result = _BINARY[type(node.op)](left, right)
            if isinstance(result, (str, list, tuple)) and len(result) > _MAX_SEQUENCE:
                raise ExprError("result is too long")
            return result
        if isinstance(node, ast.UnaryOp):
            value = self.eval(node.operand)
            if isinstance(node.op, ast.Not):
                return not value
            return -value if isinstance(node.op, ast.USub) else +value
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for value_node in node.values:
                    result = self.eval(value_node)
                    if not result:
                        return result
                return result
            result = False
            for value_node in node.values:
                result = self.eval(value_node)
                if result:
                    return result
            return result
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                right = self.eval(right_node)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.Call):
            func = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
            return func(*(self.eval(arg) for arg in node.args))
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            return {self.eval(k): self.eval(v) for k, v in zip(node.keys, node.values) if k is not None}
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            return self._comprehension(node)
        raise ExprError(f"{type(node).__name__} is not allowed in an expression")

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp) -> list[Any]:
        out: list[Any] = []

        def loop(level: int, scope: dict[str, Any]) -> None:
            if level == len(node.generators):
                out.append(self.eval(node.elt))
                if len(out) > _MAX_SEQUENCE:
                    raise ExprError("result is too long")
                return
            generator = node.generators[level]
            iterable = self.eval(generator.iter)
            if isinstance(iterable, Mapping):
                iterable = list(iterable.values())
            for value in iterable:
                scope[generator.target.id] = value  # type: ignore[attr-defined]
                if all(self.eval(cond) for cond in generator.ifs):
                    loop(level + 1, scope)

        scope: dict[str, Any] = {}
        self.scopes.append(scope)
        try:
            loop(0, scope)
        finally:
            self.scopes.pop()
        return out
