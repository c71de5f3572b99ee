"""The simulated vendor as a simple tool-using agent: look the record up, act, then answer."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from random import Random
from typing import Any

from baton.sim.answer import compose_answer, relevant_sentences
from baton.sim.conversation import Conversation
from baton.sim.fill import QUERY_FIELDS, SHORT_FIELDS, TEXT_FIELDS, Filler
from baton.sim.text import name_tokens, overlap, sentences, tokens

_READ_PREFIXES = ("get", "find", "list", "lookup", "look", "search", "fetch", "read", "query", "check", "show",
                  "retriev", "view", "describ")
_READ_DESCRIPTIONS = ("look up", "looks up", "list", "find", "get ", "gets ", "search", "fetch", "retrieve",
                      "return the", "show")
_GENERIC_VERBS = frozenset(tokens("issue create make submit process send add do perform apply request start "
                                  "initiate open file set update post execute run handle place"))
_TODAY = re.compile(r"(?:today|current date|date today|as of|now)\D{0,24}(\d{4}-\d{2}-\d{2})", re.I)
_WINDOW = re.compile(r"(\d+)[- ]days?\b")
_WINDOW_WORDS = ("within", "window", "older than", "more than", "after", "past", "no later than", "up to")


@dataclass(slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]

    @property
    def read(self) -> bool:
        first = self.name.lower().replace("-", "_").split("_")[0]
        return first.startswith(_READ_PREFIXES) or self.description.lower().lstrip().startswith(_READ_DESCRIPTIONS)

    @property
    def verb(self) -> str:
        """The action the tool performs: its first name word that is not a generic verb
        (``refund_invoice`` -> refund, ``issue_refund`` -> refund, ``reset_password`` -> reset)."""
        toks = name_tokens(self.name)
        specific = [t for t in toks if t not in _GENERIC_VERBS]
        return specific[0] if specific else (toks[0] if toks else self.name)

    @property
    def required(self) -> list[str]:
        required = self.parameters.get("required") or []
        return [r for r in required if isinstance(r, str)] if isinstance(required, list) else []

    @property
    def properties(self) -> dict[str, Any]:
        return self.parameters.get("properties") or {}


@dataclass(slots=True)
class Step:
    """Either a tool call (name, arguments) or a text answer."""

    text: str = ""
    call: tuple[str, dict[str, Any]] | None = None


def parse_tools(tools: Any) -> list[Tool]:
    """The request's ``tools``; :class:`ValueError` naming the first malformed entry."""
    if not isinstance(tools, list):
        raise ValueError("'tools' must be a list")
    out = []
    for i, spec in enumerate(tools):
        fn = spec.get("function", spec) if isinstance(spec, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ValueError(f"tools[{i}].function must be an object with a 'name'")
        params = fn.get("parameters") or {}
        if not isinstance(params, dict) or not isinstance(params.get("properties") or {}, dict):
            raise ValueError(f"tools[{i}].function.parameters must be a JSON schema object")
        out.append(Tool(fn["name"], str(fn.get("description") or ""), params))
    return out


def next_step(conv: Conversation, tools: list[Tool], rng: Random, mistakes: dict[str, bool]) -> Step:
    """What a simple, policy-aware agent does next given the conversation so far."""
    made = set(conv.calls)
    called = {name for name, _ in conv.calls}
    write = _intended_write(conv, [t for t in tools if not t.read])
    if write is not None and write.name in called:
        return Step(text=compose_answer(conv, rng, mistakes))
    reads_done = any(t.read and t.name in called for t in tools)
    if not reads_done:
        reads_done = bool(conv.records) and any(e.source == "record" and e.value in conv.question
                                                for e in conv.entities)
    if not reads_done:
        lookup = _best_lookup(conv, [t for t in tools if t.read], write, rng)
        if lookup is not None and (lookup[0], _canonical(lookup[1])) not in made:
            return Step(call=lookup)
    if write is None:
        return Step(text=compose_answer(conv, rng, mistakes))
    if any(r.error for r in conv.results):
        return Step(text=compose_answer(conv, rng, mistakes))
    refusal = _policy_refusal(conv, write)
    if refusal:
        return Step(text=compose_answer(conv, rng, mistakes, lead=refusal))
    filler = Filler(conv, rng, mistakes)
    args, missing = _fill_arguments(filler, write)
    if missing:
        wanted = " and ".join(m.replace("_", " ") for m in missing)
        return Step(text=f"To {write.verb} this I need the {wanted}. Could you provide it?")
    args = _inject_argument_mistakes(args, write, filler, rng, mistakes)
    if (write.name, _canonical(args)) in made:
        return Step(text=compose_answer(conv, rng, mistakes))
    return Step(call=(write.name, args))


def _intended_write(conv: Conversation, writes: list[Tool]) -> Tool | None:
    """The write tool whose verb the request uses (refund, cancel, renew...), best description match."""
    q = conv.question_tokens
    best, best_score = None, 0.0
    for tool in writes:
        if not overlap(q, [tool.verb]):
            continue
        score = 3.0 + overlap(q, name_tokens(tool.name)) + 0.5 * overlap(q, tokens(tool.description))
        if score > best_score:
            best, best_score = tool, score
    return best


def _best_lookup(conv: Conversation, reads: list[Tool], write: Tool | None,
                 rng: Random) -> tuple[str, dict[str, Any]] | None:
    """The read tool that best matches the request and whose required arguments can be filled."""
    q = conv.question_tokens
    write_params = set(write.properties) if write else set()
    filler = Filler(conv, rng, {})
    best, best_score = None, 0.0
    for tool in reads:
        args, missing = _fill_arguments(filler, tool)
        if missing or not args:
            continue
        from_user = sum(1 for v in args.values() if str(v) in conv.question)
        score = (2.0 * overlap(q, name_tokens(tool.name)) + overlap(q, tokens(tool.description))
                 + 1.5 * len(write_params & set(args)) + 2.0 * from_user)
        if score > best_score:
            best, best_score = (tool.name, args), score
    return best


def _fill_arguments(filler: Filler, tool: Tool) -> tuple[dict[str, Any], list[str]]:
    args: dict[str, Any] = {}
    missing = []
    used: set[str] = set()
    for pname, pschema in tool.properties.items():
        pschema = pschema if isinstance(pschema, dict) else {}
        required = pname in tool.required
        if "enum" in pschema:
            if required:
                args[pname] = filler.fill(pschema, pname)
            continue
        if pschema.get("type") == "string" and not required:
            continue
        entity = filler.pick(pname, pschema, str(pschema.get("description", "")), exclude=used, hint=tool.name)
        if entity is not None:
            args[pname] = _typed(entity.value, pschema)
            used.add(entity.value)
        elif required and pschema.get("type", "string") == "string" and _free_text(pname):
            args[pname] = filler.fill(pschema, pname)
        elif required:
            missing.append(pname)
    return args, missing


def _free_text(name: str) -> bool:
    lname = name.lower()
    return any(w in lname for w in TEXT_FIELDS + SHORT_FIELDS + QUERY_FIELDS + ("description", "details"))


def _typed(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(float(value))
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    return value


def _inject_argument_mistakes(args: dict[str, Any], tool: Tool, filler: Filler, rng: Random,
                              mistakes: dict[str, bool]) -> dict[str, Any]:
    if mistakes.get("wrong_argument") and args:
        key = sorted(args)[rng.randrange(len(args))]
        args = dict(args)
        args[key] = _wrong_value(key, args[key], tool, filler, rng)
    if mistakes.get("missing_argument"):
        present = [k for k in tool.required if k in args]
        if present:
            args = dict(args)
            del args[present[rng.randrange(len(present))]]
    return args


def _wrong_value(key: str, value: Any, tool: Tool, filler: Filler, rng: Random) -> Any:
    schema = tool.properties.get(key) or {}
    if "enum" in schema and len(schema["enum"]) > 1:
        return rng.choice([v for v in schema["enum"] if v != value])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return type(value)(value * 2 if value else 1)
    other = filler.pick(key, schema, str(schema.get("description", "")), exclude=str(value), strict=True)
    if other is not None:
        return _typed(other.value, schema)
    text = str(value)
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if len(digits) >= 2:
        i, j = digits[-2], digits[-1]
        if text[i] != text[j]:
            return text[:i] + text[j] + text[i + 1:j] + text[i] + text[j + 1:]
    if digits:
        i = digits[-1]
        return text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1:]
    return text + "x"


def _policy_refusal(conv: Conversation, write: Tool) -> str:
    """Why the action is not allowed, when the context states a day window the record falls outside."""
    today = _today(conv)
    if today is None:
        return ""
    windows: list[tuple[int, tuple[str, ...]]] = []
    texts = [t for _, t in conv.context] + [r.text for r in conv.results if isinstance(r.content, str)]
    for text in texts:
        for sentence in sentences(text):
            low = sentence.lower()
            if not overlap(tokens(sentence), [write.verb]) or not any(w in low for w in _WINDOW_WORDS):
                continue
            windows.extend((int(m.group(1)), tokens(low[m.end(): m.end() + 32])) for m in _WINDOW.finditer(low))
    if not windows:
        return ""
    window, rule = min(windows)
    record_date = _record_date(conv, rule)
    if record_date is None:
        return ""
    age = (today - record_date).days
    if age <= window:
        return ""
    policy = relevant_sentences(conv, 1)
    why = f" {policy[0][0]}" if policy else ""
    return (f"I can't {write.verb} this: the record is dated {record_date.isoformat()}, outside the "
            f"{window}-day window.{why} I can escalate it to a specialist for review.")


def _today(conv: Conversation) -> dt.date | None:
    for text in [conv.system, conv.question] + [t for _, t in conv.context]:
        m = _TODAY.search(text)
        if m:
            try:
                return dt.date.fromisoformat(m.group(1))
            except ValueError:
                continue
    return None


def _record_date(conv: Conversation, rule: tuple[str, ...]) -> dt.date | None:
    """The date of the looked-up record that best matches the request (tool results first,
    then records quoted in the context), preferring a date whose field the rule names
    ('within 30 days of delivery' -> ``delivered``)."""
    for source, texts in (("tool", [r.text for r in reversed(conv.results)
                                    if not r.error and isinstance(r.content, (dict, list))]),
                          ("record", conv.records_text)):
        for text in texts:
            dated = [e for e in conv.entities if e.source == source and e.kind == "date" and e.value in text]
            if dated:
                best = max(dated, key=lambda e: (overlap(rule, name_tokens(e.key)) > 0, e.relevance))
                try:
                    return dt.date.fromisoformat(best.value)
                except ValueError:
                    return None
    return None


def _canonical(args: dict[str, Any]) -> str:
    return json.dumps(args, sort_keys=True, separators=(",", ":"))
