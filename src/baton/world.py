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
``49.000000001`` equals ``49.0``.
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

from baton.task import Check, Effect, GoldenTask, ToolSpec

__all__ = ["ToolError", "ToolCallRecord", "World", "lookup_record_id", "values_equal"]

_ABS_TOL = 1e-6
_WHOLE_SUBSTITUTION = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?$")


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


def lookup_record_id(records: Mapping[str, Any], raw: Any) -> str | None:
    """The id in ``records`` that ``raw`` names: exact match first, then ignoring surrounding
    whitespace, a leading '#' and case. None when no record matches."""
    if isinstance(raw, str) and raw in records:
        return raw
    wanted = _normalise_id(raw)
    for rid in records:
        if _normalise_id(rid) == wanted:
            return rid
    return None


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
            result = self._execute(spec.effect, args)
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

    # ------------------------------------------------------------------ effects

    def _execute(self, effect: Effect, args: dict[str, Any]) -> Any:
        if effect.op == "find":
            return self._find(effect, args)
        target_id: str | None = None
        record: dict[str, Any] | None = None
        if effect.key is not None:
            target_id, record = self._target(effect, args)
        if effect.op == "get":
            return {"id": target_id, **_clone(record)}

        for check in effect.require:
            self._check(check, args, record or {})
        created_id: str | None = None
        created: dict[str, Any] | None = None
        # the matched record's own id is available as $record.id / {record[id]}
        context = _Context(args, {"id": target_id, **record} if record is not None else {},
                           self._today_iso, None)
        if effect.create is not None:
            collection = self._collections.setdefault(effect.create.collection, {})
            created_id = self._new_id(effect.create.id, effect.create.collection, collection, context)
            context.created_id = created_id
            created = {field: context.resolve(value) for field, value in effect.create.fields.items()}
        updates = {field: context.resolve(value) for field, value in effect.set.items()}
        # all checks passed and all values are resolved: now write
        if created is not None and effect.create is not None:
            self._collections[effect.create.collection][created_id] = created  # type: ignore[index]
        if record is not None and updates:
            record.update(updates)
        if effect.returns is not None:
            context.record = {"id": target_id, **record} if record is not None else {}
            return {field: context.resolve(value) for field, value in effect.returns.items()}
        if effect.op == "update":
            return {"id": target_id, **_clone(record)}
        return {"id": created_id, **_clone(created)}

    def _target(self, effect: Effect, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raw = args.get(effect.key)  # type: ignore[arg-type]
        records = self._collections.get(effect.collection, {})
        rid = lookup_record_id(records, raw) if raw is not None else None
        if rid is None:
            raise ToolError(f"no {_singular(effect.collection)} with id {_describe(raw)}")
        return rid, records[rid]

    def _find(self, effect: Effect, args: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = {field: args[arg] for field, arg in effect.match.items() if args.get(arg) is not None}
        found = []
        for rid, record in self._collections.get(effect.collection, {}).items():
            if all(_matches(record.get(field, rid if field == "id" else None), value)
                   for field, value in wanted.items()):
                found.append({"id": rid, **_clone(record)})
        return found

    def _check(self, check: Check, args: dict[str, Any], record: dict[str, Any]) -> None:
        value = record.get(check.field) if check.field is not None else args.get(check.param)  # type: ignore[arg-type]
        if check.equals is not None:
            ok = values_equal(value, check.equals)
        elif check.in_ is not None:
            ok = any(values_equal(value, option) for option in check.in_)
        elif check.not_in is not None:
            ok = not any(values_equal(value, option) for option in check.not_in)
        elif check.lte_field is not None:
            bound = record.get(check.lte_field)
            ok = _is_number(value) and _is_number(bound) and value <= bound + _ABS_TOL
        else:
            ok = _is_number(value) and value > check.gt + _ABS_TOL  # type: ignore[operator]
        if not ok:
            raise ToolError(_format(check.error, args, record, self._today_iso))

    def _new_id(self, template: str, name: str, collection: dict[str, Any], context: _Context) -> str:
        seq = len(collection) + 1
        if "{seq" not in template:
            # no sequence number: the id is unique by construction, so a second create is an error
            candidate = _format(template, context.args, context.record, context.today)
            if candidate in collection:
                raise ToolError(f"{_singular(name)} {candidate} already exists")
            return candidate
        while True:
            candidate = _format(template, context.args, context.record, context.today, seq=seq)
            if candidate not in collection:
                return candidate
            seq += 1


# --------------------------------------------------------------------------- substitution


class _Context:
    """What ``$``-substitutions and ``{}``-templates of one call can refer to."""

    __slots__ = ("args", "record", "today", "created_id")

    def __init__(self, args: dict[str, Any], record: dict[str, Any], today: str,
                 created_id: str | None) -> None:
        self.args, self.record, self.today, self.created_id = args, record, today, created_id

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            match = _WHOLE_SUBSTITUTION.match(value)
            if match:
                head, attr = match.groups()
                if head == "today" and attr is None:
                    return self.today
                if head == "record" and attr is not None:
                    return _clone(self.record.get(attr))
                if head == "created" and attr == "id":
                    return self.created_id
                if attr is None:
                    return _clone(self.args.get(head))
            if "{" in value:
                return _format(value, self.args, self.record, self.today)
            return value
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def _format(template: str, args: dict[str, Any], record: dict[str, Any], today: str,
            seq: int | None = None) -> str:
    mapping = _Lenient(args)
    mapping.setdefault("record", _Lenient(record))
    mapping.setdefault("today", today)
    if seq is not None:
        mapping["seq"] = seq
    try:
        return template.format_map(mapping)
    except (IndexError, KeyError, ValueError, AttributeError):
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
