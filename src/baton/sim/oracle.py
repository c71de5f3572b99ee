"""The default behaviour: an oracle that knows the gold of the request's task and nothing about any domain.

It is a competent model bounded by what it can see (:mod:`baton.sim.seen`):

* a structured output whose schema offers the gold route label gets that label;
* a verdict schema (an enum with ``pass`` and ``fail``, or a boolean ``approved``/``pass``/``ok``)
  gets ``pass`` exactly when the reply under review states every gold fact, makes no forbidden
  claim, and the actions in its context are the gold side-effecting calls (the graders' own fact
  and argument matching decide);
* with tools, it makes the next gold call not made yet when that tool is offered and every value
  it must pass is visible; otherwise it looks the value up with an offered read tool over the
  record holding it, or asks for it; when no gold call is left it writes the reply;
* a reply states the gold outcome and the gold facts whose values it can see (:mod:`baton.sim.compose`).

A model told a route that is not gold (``Topic: <label>`` in its instructions) is misled: it
makes no gold call and states no fact. Mistakes come from one draw per decision at the profile's
rates (:mod:`baton.sim.knobs`); the random generator is the caller's, seeded per request.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from baton.graders import user_texts
from baton.graders.answer import check_facts
from baton.graders.calls import arguments_match
from baton.graders.facts import Extracted
from baton.graders.spans import AnswerText
from baton.sim import compose
from baton.sim.knobs import TEXT_MISTAKES, SimKnobs
from baton.sim.seen import Seen, SeenCall, read_messages
from baton.task import GoldenTask, ToolCall, ToolSpec
from baton.world import ToolError, World

_ACTION_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((\{.*\})\) -> (.*)$", re.M)
_REVIEWED = re.compile(r"(?:reply|draft|answer|response) to (?:check|review|verify)\s*:\s*", re.I)
_VERDICT_BOOLEANS = ("approved", "approve", "pass", "passed", "ok", "valid", "correct")


@dataclass(frozen=True, slots=True)
class Ask:
    """One model request as the behaviour sees it."""

    messages: list[dict[str, Any]]
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)  # offered: name -> JSON schema
    schema: dict[str, Any] | None = None  # structured output asked for (also a forced tool's parameters)


@dataclass(frozen=True, slots=True)
class Decision:
    """The model's answer: text (JSON text for structured output) and tool calls."""

    content: str | None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass(slots=True)
class Draws:
    """The uniform draws of one decision, taken in a fixed order (deterministic per request)."""

    main: float
    extra: float
    rng: random.Random

    @classmethod
    def take(cls, rng: random.Random) -> Draws:
        return cls(rng.random(), rng.random(), rng)


class Oracle:
    """The gold-informed behaviour (see the module docstring)."""

    name = "oracle"

    def decide(self, task: GoldenTask, ask: Ask, knobs: SimKnobs, rng: random.Random) -> Decision:
        seen = read_messages(ask.messages)
        draws = Draws.take(rng)
        misled = _misled(task, seen)
        if ask.schema is not None:
            return Decision(json.dumps(self._structured(task, ask.schema, seen, knobs, draws, misled)))
        if ask.tools:
            return self._act(task, ask, seen, knobs, draws, misled)
        return Decision(self._reply(task, seen, knobs, draws, misled))

    # ----------------------------------------------------------------------- replies

    def _reply(self, task: GoldenTask, seen: Seen, knobs: SimKnobs, draws: Draws, misled: bool,
               outcome: str | None = None) -> str:
        if misled:
            return compose.UNSURE
        rates = {name: getattr(knobs, name) for name in TEXT_MISTAKES}
        return compose.reply(task, seen, rates, draws.main, draws.rng, outcome=outcome)

    # ----------------------------------------------------------------------- structured output

    def _structured(self, task: GoldenTask, schema: dict[str, Any], seen: Seen, knobs: SimKnobs,
                    draws: Draws, misled: bool) -> Any:
        verdict_key = _verdict_key(schema)
        if verdict_key is not None:
            return self._verdict(task, schema, verdict_key, seen, knobs, draws)
        return self._fill(task, schema, seen, knobs, draws, misled)

    def _fill(self, task: GoldenTask, schema: dict[str, Any], seen: Seen, knobs: SimKnobs, draws: Draws,
              misled: bool) -> Any:
        kind = schema.get("type")
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            if task.gold.route in enum:
                others = [v for v in enum if v != task.gold.route]
                if others and draws.main < knobs.wrong_label:
                    return draws.rng.choice(others)
                return task.gold.route
            return enum[0]
        if kind == "object" or "properties" in schema:
            props = schema.get("properties") or {}
            return {name: self._fill(task, sub if isinstance(sub, dict) else {}, seen, knobs, draws, misled)
                    for name, sub in props.items()}
        if kind == "array":
            return []
        if kind in ("number", "integer"):
            return 0
        if kind == "boolean":
            return True
        return self._reply(task, seen, knobs, draws, misled)

    def _verdict(self, task: GoldenTask, schema: dict[str, Any], key: str, seen: Seen, knobs: SimKnobs,
                 draws: Draws) -> dict[str, Any]:
        issues = review(task, seen)
        if issues and draws.main < knobs.verify_miss:
            issues = []
        elif not issues and draws.main < knobs.verify_false_alarm:
            issues = ["the reply may not fully answer the customer"]
        props = schema.get("properties") or {}
        verdict_schema = props.get(key) or {}
        if verdict_schema.get("type") == "boolean":
            value: Any = not issues
        else:
            value = "fail" if issues else "pass"
        out: dict[str, Any] = {key: value}
        for name, sub in props.items():
            if name != key and isinstance(sub, dict):
                out[name] = issues if sub.get("type") == "array" else ("; ".join(issues) if sub.get("type") == "string"
                                                                        else _neutral(sub))
        return out

    # ----------------------------------------------------------------------- tools

    def _act(self, task: GoldenTask, ask: Ask, seen: Seen, knobs: SimKnobs, draws: Draws,
             misled: bool) -> Decision:
        if misled:
            return Decision(compose.UNSURE)
        specs = {spec.name: spec for spec in task.tools}
        step = _next_gold_call(task, seen, ask.tools, specs)
        if step is None:
            extra = _extra_call(task, seen, ask.tools, specs, draws) if draws.extra < knobs.extra_call else None
            if extra is not None:
                return Decision(None, [extra])
            return Decision(self._reply(task, seen, knobs, draws, misled))
        call, spec = step
        schema = ask.tools.get(call.name) or spec.parameters
        unseen = [name for name, value in call.arguments.items() if _needs_sight(schema, name, value)
                  and not seen.shows(value)]
        if unseen:
            lookup = _lookup(task, seen, ask.tools, [call.arguments[name] for name in unseen])
            if lookup is not None:
                return Decision(None, [lookup])
            what = " and ".join(name.replace("_", " ") for name in unseen)
            return Decision(compose.MISSING_INFO.format(what=what))
        arguments = conform(call.arguments, schema)
        if spec.side_effect:
            u = draws.main
            if u < knobs.wrong_argument:
                arguments = _wrong_argument(task, call.name, arguments, schema, seen, draws.rng)
            elif u < knobs.wrong_argument + knobs.missing_argument:
                arguments = _drop_argument(arguments, schema, draws.rng)
            elif u < knobs.wrong_argument + knobs.missing_argument + knobs.skipped_call:
                return Decision(self._reply(task, seen, SimKnobs(), draws, misled))
        return Decision(None, [(call.name, arguments)])


# --------------------------------------------------------------------------- helpers


def _misled(task: GoldenTask, seen: Seen) -> bool:
    """Whether the instructions name a route other than gold as the topic."""
    system = seen.system.lower()
    if "topic:" not in system:
        return False
    return any(f"topic: {label}" in system for label in task.route_labels if label != task.gold.route)


def _verdict_key(schema: dict[str, Any]) -> str | None:
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        enum = {str(v).lower() for v in sub.get("enum") or ()}
        if {"pass", "fail"} <= enum:
            return name
        if sub.get("type") == "boolean" and name.lower() in _VERDICT_BOOLEANS:
            return name
    return None


def _neutral(schema: dict[str, Any]) -> Any:
    return {"array": [], "number": 0, "integer": 0, "boolean": True, "object": {}}.get(schema.get("type"), "")


def _reviewed_text(seen: Seen) -> str:
    """The reply under review: what follows the last 'Reply to check:' (or similar) of the user turn."""
    matches = list(_REVIEWED.finditer(seen.last_user))
    return seen.last_user[matches[-1].end():] if matches else seen.last_user


def _seen_actions(seen: Seen) -> list[SeenCall]:
    """Tool calls in the conversation, and in ``name({...}) -> result`` lines of the instructions."""
    calls = list(seen.calls)
    for match in _ACTION_LINE.finditer(seen.system):
        try:
            arguments = json.loads(match.group(2))
        except ValueError:
            continue
        if isinstance(arguments, dict):
            calls.append(SeenCall(match.group(1), arguments, not match.group(3).startswith("ERROR")))
    return calls


def review(task: GoldenTask, seen: Seen) -> list[str]:
    """What keeps the reply under review and the actions in context from meeting the gold (empty: they do)."""
    draft = _reviewed_text(seen)
    report = check_facts(task, Extracted(AnswerText(draft, user_texts(task))))
    issues = [f"the reply leaves out the {fact_id.replace('_', ' ')}" for fact_id in report.missing]
    issues += [f"the reply states {claim!r}, which the current information does not support"
               for claim in report.claims]
    specs = {spec.name: spec for spec in task.tools}
    writes = [c for c in _seen_actions(seen) if c.ok and c.name in specs and specs[c.name].side_effect]
    gold_writes = [c for c in task.gold.tool_calls if c.name in specs and specs[c.name].side_effect]
    used: set[int] = set()
    for gold in gold_writes:
        index = next((i for i, c in enumerate(writes) if i not in used and c.name == gold.name
                      and arguments_match(gold.arguments, c.arguments, specs[gold.name])), None)
        if index is None:
            issues.append(f"the needed action {gold.name} was not done as required")
        else:
            used.add(index)
    issues += [f"the action {c.name}({json.dumps(c.arguments, sort_keys=True)}) should not have been taken"
               for i, c in enumerate(writes) if i not in used]
    return issues


def _next_gold_call(task: GoldenTask, seen: Seen, offered: dict[str, dict[str, Any]],
                    specs: dict[str, ToolSpec]) -> tuple[ToolCall, ToolSpec] | None:
    """The first gold call not made yet (None: none left, the next one failed, or it is a write that is
    not offered; a read that is not offered is passed over)."""
    used: set[int] = set()
    for gold in task.gold.tool_calls:
        spec = specs.get(gold.name)
        if spec is None:
            continue
        index = next((i for i, c in enumerate(seen.calls) if i not in used and c.ok and c.name == gold.name
                      and arguments_match(gold.arguments, c.arguments, spec)), None)
        if index is not None:
            used.add(index)
            continue
        failed = any(not c.ok and c.name == gold.name and arguments_match(gold.arguments, c.arguments, spec)
                     for c in seen.calls)
        if failed:
            return None
        if gold.name not in offered:
            if spec.side_effect:
                return None
            continue  # a lookup it cannot make: the values it would show may still be visible
        return gold, spec
    return None


def _needs_sight(schema: dict[str, Any], name: str, value: Any) -> bool:
    """Whether the model must have seen ``value`` to pass it (ids, numbers, short names; not enums or prose)."""
    prop = (schema.get("properties") or {}).get(name) or {}
    if "enum" in prop or isinstance(value, bool) or value is None:
        return False
    return not (isinstance(value, str) and len(value.split()) >= 4)


def conform(arguments: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` with each value in the JSON type its property declares (arrays, numbers, strings)."""
    props = schema.get("properties") or {}
    return {name: _as_type(value, props.get(name) or {}) for name, value in arguments.items()}


def _as_type(value: Any, prop: dict[str, Any]) -> Any:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    try:
        if kind == "array":
            items = value if isinstance(value, list) else [value]
            return [_as_type(v, prop.get("items") or {}) for v in items]
        if kind == "integer" and not isinstance(value, bool):
            return int(float(value))
        if kind == "number" and not isinstance(value, bool):
            number = float(value)
            return int(number) if number.is_integer() and isinstance(value, int) else number
        if kind == "string" and not isinstance(value, str):
            return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        if kind == "boolean" and isinstance(value, str):
            return value.strip().lower() in ("true", "yes", "1")
    except (TypeError, ValueError):
        return value
    return value


def _lookup(task: GoldenTask, seen: Seen, offered: dict[str, dict[str, Any]],
            values: list[Any]) -> tuple[str, dict[str, Any]] | None:
    """A read call over an offered tool that reveals one of ``values``, using only visible arguments."""
    readers = [s for s in task.tools if s.name in offered and not s.side_effect]
    made = {(c.name, json.dumps(c.arguments, sort_keys=True, default=str)) for c in seen.calls}
    for value in values:
        for collection, records in task.world.collections.items():
            for rid, record in records.items():
                holds = str(rid) == str(value) or any(_same(v, value) for v in record.values())
                if not holds:
                    continue
                for spec in readers:
                    effect = spec.primary_effect
                    if effect is None or effect.collection != collection:
                        continue
                    if effect.op == "get" and effect.key and seen.shows(rid):
                        arguments = conform({effect.key: rid}, spec.parameters)
                    elif effect.op == "find" and all(f in record for f in effect.match):
                        arguments = conform({param: record[f] for f, param in effect.match.items()},
                                            spec.parameters)
                        if not all(seen.shows(v) for v in arguments.values()):
                            continue
                    else:
                        continue
                    if (spec.name, json.dumps(arguments, sort_keys=True, default=str)) not in made:
                        return spec.name, arguments
    return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (dict, list)):
        return False
    return str(a).strip().lower() == str(b).strip().lower()


def _wrong_argument(task: GoldenTask, name: str, arguments: dict[str, Any], schema: dict[str, Any], seen: Seen,
                    rng: random.Random) -> dict[str, Any]:
    """One argument changed, the way a model slips: a near-duplicate record id visible in context,
    another value of the argument's enum, another number visible in context, or an id one digit
    off. Of these, the first that the tool would accept is made (a slip that goes through is the
    one that costs a run; a rejected call is one the model can still correct)."""
    candidates = _wrong_arguments(arguments, schema, seen, rng)
    for candidate in candidates:
        if _accepted(task, seen, name, candidate):
            return candidate
    return candidates[0] if candidates else arguments


def _accepted(task: GoldenTask, seen: Seen, name: str, arguments: dict[str, Any]) -> bool:
    """Whether ``name(arguments)`` succeeds on the task's world after the calls seen so far."""
    world = World(task)
    for call in seen.calls:
        if call.ok:
            with contextlib.suppress(ToolError):
                world.call(call.name, dict(call.arguments))
    try:
        world.call(name, dict(arguments))
    except ToolError:
        return False
    return True


def _wrong_arguments(arguments: dict[str, Any], schema: dict[str, Any], seen: Seen,
                     rng: random.Random) -> list[dict[str, Any]]:
    props = schema.get("properties") or {}
    names = sorted(arguments)
    out: list[dict[str, Any]] = []
    ids = seen.ids()
    for name in names:
        value = arguments[name]
        if isinstance(value, str) and any(ch.isdigit() for ch in value):
            out += [{**arguments, name: near} for near in compose.near_duplicates(value.lstrip("#"), ids)[:3]]
    for name in names:
        enum = (props.get(name) or {}).get("enum")
        if isinstance(enum, list) and arguments[name] in enum:
            others = [v for v in enum if v != arguments[name]]
            rng.shuffle(others)
            out += [{**arguments, name: v} for v in others]
    for name in names:
        value = arguments[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            others = [n for n in seen.numbers() if float(n) != float(value) and n > 0]
            rng.shuffle(others)
            out += [{**arguments, name: int(n) if isinstance(value, int) else float(n)} for n in others[:3]]
    for name in names:
        value = arguments[name]
        if isinstance(value, str) and value and value[-1].isdigit():
            out.append({**arguments, name: value[:-1] + str((int(value[-1]) + 1) % 10)})
    return out


def _drop_argument(arguments: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    required = set(schema.get("required") or ())
    optional = [n for n in arguments if n not in required]
    pool = optional or list(arguments)
    if not pool:
        return arguments
    drop = rng.choice(pool)
    return {k: v for k, v in arguments.items() if k != drop}


def _extra_call(task: GoldenTask, seen: Seen, offered: dict[str, dict[str, Any]], specs: dict[str, ToolSpec],
                draws: Draws) -> tuple[str, dict[str, Any]] | None:
    """One more side-effecting call, on a record visible in context that gold leaves alone."""
    gold_targets = {str(v) for c in task.gold.tool_calls for v in c.arguments.values()}
    writers = [specs[name] for name in offered if name in specs and specs[name].side_effect]
    draws.rng.shuffle(writers)
    for spec in writers:
        effect = spec.primary_effect
        if effect is None:  # a Python tool: no declared target to pick
            continue
        records = task.world.collections.get(effect.collection, {}) if effect.key else {}
        targets = [rid for rid in records if seen.shows(rid) and rid not in gold_targets] if effect.key else [None]
        if not targets:
            continue
        arguments: dict[str, Any] = {}
        props = spec.parameters.get("properties") or {}
        for name in spec.parameters.get("required") or ():
            prop = props.get(name) or {}
            if name == effect.key:
                arguments[name] = draws.rng.choice(targets)
            elif isinstance(prop.get("enum"), list) and prop["enum"]:
                arguments[name] = prop["enum"][0]
            elif prop.get("type") in ("number", "integer"):
                numbers = [n for n in seen.numbers() if n > 0]
                arguments[name] = float(min(numbers)) if numbers else 1
            else:
                arguments[name] = "as discussed"
        return spec.name, conform(arguments, spec.parameters)
    return None
