"""World: one task run's in-memory sandbox. It executes the declarative tool-effect DSL of
:mod:`baton.task` over a private deep copy of the task's initial world.

A tool never touches anything outside its World, and two Worlds never share state: each World
copies the task's seed when it is made. Every call, successful or not, is appended to
:attr:`World.calls`.

Invalid calls raise :class:`ToolError` whose message is written for the model that made the call
(unknown tool, missing, unknown or wrongly typed argument, record not found, a failed ``require``
check). A failed call changes nothing: all checks run before the first write.

Record ids are looked up exactly first; failing that, a lookup ignores surrounding whitespace, a
leading ``#`` and letter case, so ``"#5120"`` and ``" 5120 "`` find invoice ``"5120"`` and
``"c-2040"`` finds customer ``"C-2040"``. Numbers compare with a tolerance of 1e-6 (absolute) so
``49.000000001`` equals ``49.0``. An effect (or load) with ``ids: exact`` turns the lenient
lookup off: the id must be typed exactly as stored.

A tool with several ``effects`` runs them in order as one call: a later effect sees what an earlier
one wrote, and when any of them fails every write of the call is undone. A Python tool (a function
of the domain's ``tools.py``, see :mod:`baton.tool_module`) gets the world's collections to read
and change; when it raises, whatever it changed is undone and the exception's message is the
tool error the model sees.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.validators import validator_for

from baton.expr import ExprError, evaluate
from baton.task import Check, Effect, GoldenTask, ItemUpdate, ToolSpec

__all__ = ["ToolError", "ToolCallRecord", "World", "lookup_record_id", "values_equal", "get_path",
           "CALC_KEY"]

_ABS_TOL = 1e-6
_WHOLE_SUBSTITUTION = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+)*)$")
CALC_KEY = "$calc"
_MISSING = object()


class ToolError(Exception):
    """An invalid tool call. The message is what the model sees, so it says how to fix the call."""


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One call made on a World. ``side_effect`` says whether the tool writes to the world."""

    name: str
    arguments: dict[str, Any]
    result: Any
    error: str | None
    side_effect: bool

    def as_output(self) -> dict[str, Any]:
        """The call as a trace ``tool`` hop's ``output`` (see :mod:`baton.trace`)."""
        return {"name": self.name, "arguments": self.arguments, "result": self.result,
                "error": self.error, "side_effect": self.side_effect}


# --------------------------------------------------------------------------- value helpers


def _clone(value: Any) -> Any:
    """Deep copy of JSON-like data (much faster than ``copy.deepcopy`` for it)."""
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def values_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values, numbers within float noise, containers element-wise."""
    if _is_number(a) and _is_number(b):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=_ABS_TOL)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if _is_number(a) or _is_number(b):
        return False
    return bool(a == b)


def _normalise_id(value: Any) -> str:
    return str(value).strip().lstrip("#").strip().casefold()


def lookup_record_id(records: Mapping[str, Any], raw: Any, exact: bool = False) -> str | None:
    """The id in ``records`` that ``raw`` names: exact match first, then (unless ``exact``)
    ignoring surrounding whitespace, a leading '#' and case. None when no record matches."""
    if isinstance(raw, str) and raw in records:
        return raw
    if exact:
        return str(raw) if _is_number(raw) and str(raw) in records else None
    wanted = _normalise_id(raw)
    for rid in records:
        if _normalise_id(rid) == wanted:
            return rid
    return None


def get_path(value: Any, path: str, default: Any = None) -> Any:
    """The field at dotted ``path`` of a record (a key with a literal dot wins); ``default`` when
    any step is missing. A numeric step indexes a list."""
    if isinstance(value, Mapping) and path in value:
        return value[path]
    for step in path.split("."):
        if isinstance(value, Mapping) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.lstrip("-").isdigit() and -len(value) <= int(step) < len(value):
            value = value[int(step)]
        else:
            return default
    return value


def _singular(collection: str) -> str:
    if collection.endswith("ies"):
        return collection[:-3] + "y"
    if collection.endswith(("sses", "xes", "ches", "shes")):
        return collection[:-2]
    if collection.endswith("s") and not collection.endswith("ss"):
        return collection[:-1]
    return collection


def _describe(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class _Lenient(dict):
    """A format mapping that renders missing keys as an empty string."""

    def __missing__(self, key: str) -> str:
        return ""


# --------------------------------------------------------------------------- undo journal


class _Journal:
    """The original of every record a call changes, so a failed call can be undone."""

    __slots__ = ("_collections", "_saved", "_new_collections")

    def __init__(self, collections: dict[str, dict[str, dict[str, Any]]]) -> None:
        self._collections = collections
        self._saved: dict[tuple[str, str], Any] = {}
        self._new_collections: list[str] = []

    def collection(self, name: str) -> dict[str, dict[str, Any]]:
        if name not in self._collections:
            self._collections[name] = {}
            self._new_collections.append(name)
        return self._collections[name]

    def touch(self, collection: str, rid: str) -> None:
        key = (collection, rid)
        if key not in self._saved:
            record = self._collections.get(collection, {}).get(rid, _MISSING)
            self._saved[key] = record if record is _MISSING else _clone(record)

    def rollback(self) -> None:
        for (collection, rid), record in self._saved.items():
            records = self._collections.get(collection)
            if records is None:
                continue
            if record is _MISSING:
                records.pop(rid, None)
            else:
                records[rid] = record
        for name in self._new_collections:
            if not self._collections.get(name):
                self._collections.pop(name, None)


# --------------------------------------------------------------------------- the World


class World:
    """The sandboxed systems of one task run. See the module docstring."""

    def __init__(self, task: GoldenTask) -> None:
        self.task_id = task.id
        self.today: dt.date = task.world.today
        self._today_iso = self.today.isoformat()
        self._collections: dict[str, dict[str, dict[str, Any]]] = _clone(task.world.collections)
        self._tools: dict[str, ToolSpec] = {spec.name: spec for spec in task.tools}
        self._validators: dict[str, Draft202012Validator] = {}
        self.calls: list[ToolCallRecord] = []

    # ------------------------------------------------------------------ public API

    def tool_specs(self) -> list[ToolSpec]:
        """The task's tools, in the order the task lists them."""
        return list(self._tools.values())

    def openai_tools(self) -> list[dict[str, Any]]:
        """The task's tools in the OpenAI Chat Completions ``tools`` format."""
        return [spec.openai_schema() for spec in self._tools.values()]

    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        """A deep copy of the current state: collection -> record id -> record fields."""
        return _clone(self._collections)

    def call(self, name: str, arguments: Mapping[str, Any] | str | None = None) -> Any:
        """Run tool ``name`` with ``arguments`` (a dict, or a JSON object string).

        Returns the tool's JSON result; raises :class:`ToolError` for an invalid call. Both are
        recorded in :attr:`calls`.
        """
        spec = self._tools.get(name)
        args: Any = arguments
        try:
            args = self._parse_arguments(arguments)
            if spec is None:
                known = ", ".join(self._tools) or "none"
                raise ToolError(f"unknown tool '{name}'; available tools: {known}")
            self._check_schema(spec, args)
            if spec.python is not None:
                result = self._call_python(spec, args)
            else:
                result = self._run_effects(spec, args)
        except ToolError as exc:
            self.calls.append(ToolCallRecord(name, _clone(args) if isinstance(args, dict) else {},
                                             None, str(exc), bool(spec and spec.side_effect)))
            raise
        self.calls.append(ToolCallRecord(name, _clone(args), _clone(result), None, spec.side_effect))
        return result

    # ------------------------------------------------------------------ validation

    @staticmethod
    def _parse_arguments(arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
        if arguments is None:
            return {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolError(f"arguments are not valid JSON: {exc.msg} at position {exc.pos}") from None
        if not isinstance(arguments, Mapping):
            raise ToolError(f"arguments must be a JSON object, got {_describe(arguments)}")
        return dict(arguments)

    def _validator(self, spec: ToolSpec) -> Draft202012Validator:
        validator = self._validators.get(spec.name)
        if validator is None:
            validator = validator_for(spec.parameters, default=Draft202012Validator)(spec.parameters)
            self._validators[spec.name] = validator
        return validator

    def _check_schema(self, spec: ToolSpec, args: dict[str, Any]) -> None:
        properties = spec.parameters.get("properties")
        if isinstance(properties, dict) and spec.parameters.get("additionalProperties") is not True:
            unknown = [key for key in args if key not in properties]
            if unknown:
                raise ToolError(f"{spec.name}: unknown argument {_describe(unknown[0])}; "
                                f"expected arguments: {', '.join(properties) or 'none'}")
        errors = list(self._validator(spec).iter_errors(args))
        if errors:
            raise ToolError(f"{spec.name}: {schema_error_message(errors[0])}")

    # ------------------------------------------------------------------ Python tools

    def _call_python(self, spec: ToolSpec, args: dict[str, Any]) -> Any:
        from baton.tool_module import python_tool  # lazy: only domains with a tools.py need it

        assert spec.python is not None
        tool = python_tool(spec.python)
        kwargs = tool.arguments(spec.name, args)
        journal = _clone(self._collections) if spec.python.writes else None
        try:
            result = tool.call(self._collections, kwargs, self.today)
        except BaseException as exc:
            if journal is not None:
                self._collections.clear()
                self._collections.update(journal)
            if isinstance(exc, ToolError):
                raise
            if not isinstance(exc, Exception):
                raise
            raise ToolError(f"{spec.name} failed: {type(exc).__name__}: {exc}") from None
        return tool.jsonable(spec.name, result)

    # ------------------------------------------------------------------ effects

    def _run_effects(self, spec: ToolSpec, args: dict[str, Any]) -> Any:
        journal = _Journal(self._collections)
        bound: dict[str, Any] = {}
        result: Any = None
        try:
            for effect in spec.effect_list:
                result = self._execute(effect, args, bound, journal)
        except ToolError:
            journal.rollback()
            raise
        except ExprError as exc:
            journal.rollback()
            raise ToolError(f"{spec.name}: {exc}") from None
        return result

    def _execute(self, effect: Effect, args: dict[str, Any], bound: dict[str, Any],
                 journal: _Journal) -> Any:
        context = _Context(args, {}, self._today_iso, None, bound)
        if effect.op == "find":
            found = self._find(effect, args)
            if effect.as_:
                bound[effect.as_] = found
            return found
        target_id: str | None = None
        record: dict[str, Any] | None = None
        if effect.key is not None or effect.id is not None:
            raw = args.get(effect.key) if effect.key is not None else context.evaluate(effect.id)  # type: ignore[arg-type]
            target_id, record = self._lookup(effect.collection, raw, effect.ids == "exact")
            context.record = {"id": target_id, **record}
        if effect.op == "get":
            result = {"id": target_id, **_clone(record)}
            if effect.as_:
                bound[effect.as_] = result
            return result
        for name, load in effect.load.items():
            try:
                raw = args.get(load.key) if load.key is not None else context.evaluate(load.id)  # type: ignore[arg-type]
                rid, other = self._lookup(load.collection, raw, load.ids == "exact")
                context.names[name] = {"id": rid, **_clone(other)}
            except (ToolError, ExprError):
                if not load.optional:
                    raise
                context.names[name] = None

        for check in effect.require:
            self._check(check, context)
        created_id: str | None = None
        created: dict[str, Any] | None = None
        if effect.create is not None:
            collection = self._collections.get(effect.create.collection, {})
            created_id = self._new_id(effect.create.id, effect.create.collection, collection, context)
            context.created_id = created_id
            created = {field: context.resolve(value) for field, value in effect.create.fields.items()}
        updates = {path: context.resolve(value) for path, value in effect.set.items()}
        appends = [(path, [context.resolve(value)]) for path, value in effect.append.items()]
        for path, value in effect.extend.items():
            items = context.resolve(value)
            if not isinstance(items, list):
                raise ToolError(f"cannot extend '{path}' with {_describe(items)}: expected a list")
            appends.append((path, items))
        item_updates = [self._item_updates(update, record, context) for update in effect.update_where]
        # all checks passed and all values are resolved: now write
        if created is not None and effect.create is not None:
            journal.touch(effect.create.collection, created_id)  # type: ignore[arg-type]
            journal.collection(effect.create.collection)[created_id] = created  # type: ignore[index]
        if record is not None and (updates or appends or item_updates):
            journal.touch(effect.collection, target_id)  # type: ignore[arg-type]
            for path, value in updates.items():
                _set_path(record, path, value)
            for path, items in appends:
                _list_at(record, path, create=True).extend(items)
            for changes in item_updates:
                for item, fields in changes:
                    for path, value in fields.items():
                        _set_path(item, path, value)
        if record is not None:
            context.record = {"id": target_id, **record}
        if effect.as_:
            bound[effect.as_] = (_clone(context.record) if effect.op == "update" or created is None
                                 else {"id": created_id, **_clone(created)})
        if effect.returns is not None:
            return {field: context.resolve(value) for field, value in effect.returns.items()}
        if effect.op == "update":
            return {"id": target_id, **_clone(record)}
        return {"id": created_id, **_clone(created)}

    def _lookup(self, collection: str, raw: Any, exact: bool) -> tuple[str, dict[str, Any]]:
        records = self._collections.get(collection, {})
        rid = lookup_record_id(records, raw, exact) if raw is not None else None
        if rid is None:
            raise ToolError(f"no {_singular(collection)} with id {_describe(raw)}")
        return rid, records[rid]

    def _item_updates(self, update: ItemUpdate, record: dict[str, Any] | None,
                      context: _Context) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        found = get_path(record or {}, update.list)
        # a list of items, or a mapping of id -> item (e.g. a customer's payment methods)
        items = list(found.values()) if isinstance(found, dict) else _list_at(record or {}, update.list, create=False)
        changes = []
        for item in items:
            context.names["item"] = item
            if evaluate(update.where, context.scope()):
                changes.append((item, {path: context.resolve(value) for path, value in update.set.items()}))
        context.names.pop("item", None)
        if not changes and update.error is not None:
            raise ToolError(_format(update.error, context))
        return changes

    def _find(self, effect: Effect, args: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = {field: args[arg] for field, arg in effect.match.items() if args.get(arg) is not None}
        found = []
        for rid, record in self._collections.get(effect.collection, {}).items():
            if all(_matches(rid if field == "id" and "id" not in record else get_path(record, field), value)
                   for field, value in wanted.items()):
                found.append({"id": rid, **_clone(record)})
        return found

    def _check(self, check: Check, context: _Context) -> None:
        record = context.record
        if check.expr is not None:
            ok = bool(evaluate(check.expr, context.scope()))
        else:
            value = get_path(record, check.field) if check.field is not None else context.args.get(check.param)  # type: ignore[arg-type]
            if check.equals is not None:
                ok = values_equal(value, check.equals)
            elif check.in_ is not None:
                ok = any(values_equal(value, option) for option in check.in_)
            elif check.not_in is not None:
                ok = not any(values_equal(value, option) for option in check.not_in)
            elif check.lte_field is not None:
                bound = get_path(record, check.lte_field)
                ok = _is_number(value) and _is_number(bound) and value <= bound + _ABS_TOL
            else:
                ok = _is_number(value) and value > check.gt + _ABS_TOL  # type: ignore[operator]
        if not ok:
            raise ToolError(_format(check.error, context))

    def _new_id(self, template: str, name: str, collection: dict[str, Any], context: _Context) -> str:
        seq = len(collection) + 1
        if "{seq" not in template:
            # no sequence number: the id is unique by construction, so a second create is an error
            candidate = _format(template, context)
            if candidate in collection:
                raise ToolError(f"{_singular(name)} {candidate} already exists")
            return candidate
        while True:
            candidate = _format(template, context, seq=seq)
            if candidate not in collection:
                return candidate
            seq += 1


# --------------------------------------------------------------------------- nested fields


def _set_path(record: dict[str, Any], path: str, value: Any) -> None:
    """Set the field at dotted ``path`` (a key with a literal dot wins), making missing parents."""
    if path in record or "." not in path:
        record[path] = value
        return
    *parents, last = path.split(".")
    node: Any = record
    for step in parents:
        if isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
            continue
        if not isinstance(node, dict):
            raise ToolError(f"cannot set '{path}': '{step}' is not inside a record")
        node = node.setdefault(step, {})
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ToolError(f"cannot set '{path}': its parent is not a record")


def _list_at(record: dict[str, Any], path: str, create: bool) -> list[Any]:
    value = get_path(record, path, _MISSING)
    if value is _MISSING or value is None:
        if not create:
            return []
        value = []
        _set_path(record, path, value)
    if not isinstance(value, list):
        raise ToolError(f"field '{path}' is not a list")
    return value


# --------------------------------------------------------------------------- substitution


class _Context:
    """What ``$``-substitutions, ``{}``-templates and expressions of one effect can refer to."""

    __slots__ = ("args", "record", "today", "created_id", "bound", "names")

    def __init__(self, args: dict[str, Any], record: dict[str, Any], today: str,
                 created_id: str | None, bound: dict[str, Any] | None = None) -> None:
        self.args, self.record, self.today, self.created_id = args, record, today, created_id
        self.bound = bound if bound is not None else {}
        self.names: dict[str, Any] = {}  # loaded records and 'item'

    def scope(self) -> dict[str, Any]:
        """Names an expression sees: arguments, then earlier bound records, then the specials."""
        scope: dict[str, Any] = {**self.args, **self.bound, **self.names, "args": self.args,
                                 "record": self.record, "today": self.today}
        if self.created_id is not None:
            scope["created"] = {"id": self.created_id}
        return scope

    def evaluate(self, text: str) -> Any:
        return evaluate(text, self.scope())

    def _named(self, head: str) -> Any:
        if head == "record":
            return self.record
        if head in self.names:
            return self.names[head]
        if head in self.bound:
            return self.bound[head]
        return self.args.get(head, _MISSING)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            match = _WHOLE_SUBSTITUTION.match(value)
            if match:
                head, path = match.group(1), match.group(2).lstrip(".")
                if head == "today" and not path:
                    return self.today
                if head == "created" and path == "id":
                    return self.created_id
                named = self._named(head)
                if not path:
                    return None if named is _MISSING else _clone(named)
                if named is not _MISSING and (head == "record" or head in self.names
                                              or head in self.bound or isinstance(named, dict)):
                    return _clone(get_path(named, path))
            if "{" in value:
                return _format(value, self)
            return value
        if isinstance(value, dict):
            if len(value) == 1 and CALC_KEY in value:
                return _clone(self.evaluate(str(value[CALC_KEY])))
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def _format(template: str, context: _Context, seq: int | None = None) -> str:
    mapping = _Lenient(context.args)
    for name, value in (*context.bound.items(), *context.names.items()):
        mapping.setdefault(name, _Lenient(value) if isinstance(value, dict) else value)
    mapping.setdefault("record", _Lenient(context.record))
    mapping.setdefault("today", context.today)
    if seq is not None:
        mapping["seq"] = seq
    try:
        return template.format_map(mapping)
    except (IndexError, KeyError, ValueError, AttributeError, TypeError):
        return template


def _matches(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, str) and isinstance(wanted, str):
        return actual.strip().casefold() == wanted.strip().casefold()
    return values_equal(actual, wanted)


def schema_error_message(error: SchemaError) -> str:
    """A model-actionable sentence for one JSON-schema violation of a call's arguments."""
    where = ".".join(str(p) for p in error.absolute_path)
    subject = f"argument '{where}'" if where else "arguments"
    validator, expected = error.validator, error.validator_value
    if validator == "required":
        missing = [name for name in expected if name not in (error.instance or {})]
        return f"missing required argument '{missing[0]}'" if missing else error.message
    if validator == "type":
        kinds = expected if isinstance(expected, str) else " or ".join(expected)
        return f"{subject} must be of type {kinds}, got {_describe(error.instance)}"
    if validator == "enum":
        if not expected:
            return f"{subject} accepts no value (the tool's enum is empty), got {_describe(error.instance)}"
        options = ", ".join(_describe(v) for v in expected)
        return f"{subject} must be one of {options}, got {_describe(error.instance)}"
    return f"{subject}: {error.message}"
