"""A chat request read the way the simulated vendor needs it: question, context, tool history."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from baton.sim.intent import expand, strip_injection
from baton.sim.text import Entity, json_entities, normalise_claim, overlap, sections, text_entities, tokens

_QUESTION_HEADERS = ("question", "request", "customer request", "customer message", "message", "query",
                     "task", "ask", "user", "customer says", "input", "ticket")
_DRAFT_HEADERS = ("draft", "answer", "reply", "response", "proposed", "candidate")
_TODAY = re.compile(r"(?:today|current date|date today|as of|now)\D{0,24}(\d{4}-\d{2}-\d{2})", re.I)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_DAY = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b"
                        r"|\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
                        re.I)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(slots=True)
class ToolResult:
    name: str
    content: Any  # decoded JSON, or the raw text
    text: str

    @property
    def error(self) -> str | None:
        if isinstance(self.content, dict) and "error" in self.content and len(self.content) <= 3:
            return str(self.content["error"])
        if isinstance(self.content, str) and self.content.lower().startswith(("error", "tool error")):
            return self.content
        return None


@dataclass
class Conversation:
    """The parts of a request that matter: the question, the context around it, tools used so far."""

    system: str = ""
    question: str = ""
    draft: str | None = None
    context: list[tuple[str, str]] = field(default_factory=list)  # (source, text), question excluded
    results: list[ToolResult] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (tool name, canonical arguments)
    last_is_tool: bool = False

    @cached_property
    def records(self) -> list[Any]:
        """JSON objects quoted in the system/user context (records a runner looked up for the model)."""
        out = []
        for _, text in self.context:
            if "{" in text:
                out.extend(_embedded_json(text))
        return out

    @cached_property
    def records_text(self) -> list[str]:
        return [json.dumps(r) for r in self.records]

    @classmethod
    def parse(cls, messages: list[dict[str, Any]]) -> Conversation:
        conv = cls()
        names: dict[str, str] = {}
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
                raise ValueError(f"messages[{i}] must be an object with a 'role'")
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        systems = []
        last_assistant_text = None
        for i, msg in enumerate(messages):
            role = msg.get("role")
            text = content_text(msg.get("content"))
            if role in ("system", "developer"):
                systems.append(text)
                conv.context.append(("system", text))
            elif role == "user" and i == last_user:
                conv._read_question(text)
            elif role == "user":
                conv.context.append(("user", text))
            elif role == "assistant":
                calls = msg.get("tool_calls") or []
                if not isinstance(calls, list):
                    raise ValueError(f"messages[{i}].tool_calls must be a list")
                for call in calls:
                    fn = call.get("function") if isinstance(call, dict) else None
                    if not isinstance(fn, dict):
                        raise ValueError(f"messages[{i}].tool_calls: each call needs a 'function' object")
                    name = str(fn.get("name") or "")
                    names[str(call.get("id") or "")] = name
                    conv.calls.append((name, canonical_arguments(fn.get("arguments"))))
                if text:
                    conv.context.append(("assistant", text))
                    last_assistant_text = text
            elif role == "tool":
                name = names.get(str(msg.get("tool_call_id") or "")) or str(msg.get("name") or "tool")
                conv.results.append(ToolResult(name, _decode(text), text))
        conv.system = "\n".join(systems)
        conv.last_is_tool = bool(messages) and messages[-1].get("role") == "tool"
        if conv.draft is None and last_assistant_text is not None:
            conv.draft = last_assistant_text
        return conv

    def _read_question(self, text: str) -> None:
        parts = sections(text)
        question = [b for h, b in parts if h and h.startswith(_QUESTION_HEADERS)]
        drafts = [b for h, b in parts if h and h.startswith(_DRAFT_HEADERS)]
        if drafts:
            self.draft = "\n".join(drafts)
        if question:
            self.question = "\n".join(question)
            for h, b in parts:
                if not (h.startswith(_QUESTION_HEADERS) or h.startswith(_DRAFT_HEADERS)) or not h:
                    self.context.append(("user", f"{h}: {b}" if h else b))
        elif drafts:
            rest = [b for h, b in parts if not h.startswith(_DRAFT_HEADERS) or not h]
            self.question = rest[0] if rest else ""
            self.context.extend(("user", b) for b in rest[1:])
        else:
            self.question = text

    @cached_property
    def question_tokens(self) -> tuple[str, ...]:
        return tokens(self.question)

    @cached_property
    def request(self) -> str:
        """The question without instructions aimed at the assistant (see ``intent.strip_injection``)."""
        return strip_injection(self.question)[0]

    @cached_property
    def injected(self) -> bool:
        return strip_injection(self.question)[1]

    @cached_property
    def intent_tokens(self) -> tuple[str, ...]:
        """The clean request's tokens plus the support verbs its paraphrases stand for."""
        return expand(self.request)

    @cached_property
    def today(self) -> dt.date | None:
        for text in [self.system, self.question] + [t for _, t in self.context]:
            m = _TODAY.search(text)
            if m:
                try:
                    return dt.date.fromisoformat(m.group(1))
                except ValueError:
                    continue
        return None

    @cached_property
    def mentioned_dates(self) -> tuple[str, ...]:
        """Dates the request names, as 'MM-DD' ('June 11') or ISO dates (a weekday within the past week)."""
        out = []
        for m in _MONTH_DAY.finditer(self.request):
            month = (m.group(1) or m.group(4)).lower()
            day = int(m.group(2) or m.group(3))
            if 1 <= day <= 31:
                out.append(f"{_MONTHS.index(month[:3]) + 1:02d}-{day:02d}")
        low = self.request.lower()
        if self.today is not None:
            for i, name in enumerate(_WEEKDAYS):
                if re.search(rf"\b{name}\b", low):
                    back = (self.today.weekday() - i) % 7 or 7
                    out.append((self.today - dt.timedelta(days=back)).isoformat())
        return tuple(out)

    @cached_property
    def user_tokens(self) -> list[str]:
        return [t for src, text in self.context if src == "user" for t in tokens(text)]

    @cached_property
    def entities(self) -> list[Entity]:
        """Every value in the conversation: question first, then tool results, then the rest."""
        out = text_entities(self.request, "user")
        asked = {normalise_claim(e.value) for e in out}
        next_group = 0
        for result in self.results:
            found = (_result_entities(result, self.intent_tokens, asked, self.mentioned_dates)
                     if isinstance(result.content, (dict, list)) else text_entities(result.text, "tool"))
            base = next_group
            for entity in found:  # number records across all results, so that a group names one record
                entity.origin = result.name
                if entity.group >= 0:
                    entity.group += base
                    entity.lineage = tuple(g + base for g in entity.lineage)
                    next_group = max(next_group, entity.group + 1)
            out.extend(found)
        for record in self.records:
            base = next_group
            for entity in _result_entities(ToolResult("record", record, ""), self.intent_tokens, asked,
                                           self.mentioned_dates):
                entity.source = "record"
                entity.group += base
                entity.lineage = tuple(g + base for g in entity.lineage)
                next_group = max(next_group, entity.group + 1)
                out.append(entity)
        for src, text in self.context:
            out.extend(text_entities(text, src))
        return out

    @cached_property
    def all_text(self) -> str:
        return "\n".join([self.question] + [t for _, t in self.context] + [r.text for r in self.results])


def _result_entities(result: ToolResult, question: tuple[str, ...], asked: set[str],
                     dates: tuple[str, ...] = ()) -> list[Entity]:
    """Entities of a JSON tool result; in every list of records (at any depth), each record's
    values weighted by how well it matches the request (shared words, values and dates it states)."""
    parent = result.name.split("_", 1)[-1]
    content = result.content
    if isinstance(content, dict) and len(content) > 1 and all(isinstance(r, dict) for r in content.values()):
        content = [{key: rec} for key, rec in content.items()]
    out = json_entities(content, "tool", parent)
    relevance: dict[int, float] = {}
    _weigh(content, 0.0, [0], relevance, question, asked, dates)
    for entity in out:
        entity.relevance = relevance.get(entity.group, 0.0)
    return out


def _weigh(obj: Any, base: float, counter: list[int], out: dict[int, float], question: tuple[str, ...],
           asked: set[str], dates: tuple[str, ...]) -> None:
    """Relevance per JSON object, numbered in the order :func:`json_entities` numbers them."""
    if isinstance(obj, dict):
        out[counter[0]] = base
        counter[0] += 1
        for value in obj.values():
            if isinstance(value, (dict, list)):
                _weigh(value, base, counter, out, question, asked, dates)
    elif isinstance(obj, list):
        records = [r for r in obj if isinstance(r, dict)]
        if len(records) > 1 and len(records) == len(obj):
            scores = [_match(r, question, asked, dates) for r in records]
            best = max(scores) or 1.0
            for record, score in zip(records, scores, strict=True):
                _weigh(record, base + 2.0 * score / best, counter, out, question, asked, dates)
        else:
            for item in obj:
                _weigh(item, base, counter, out, question, asked, dates)


def _match(record: dict[str, Any], question: tuple[str, ...], asked: set[str], dates: tuple[str, ...]) -> float:
    flat = json.dumps(record, default=str)
    values = re.findall(r'"([^"{}\[\]]+)"|(\d+(?:\.\d+)?)', flat)
    score = float(overlap(question, tokens(flat.replace("_", " "))))
    score += 2.0 * sum(1 for a, b in values if normalise_claim(a or b) in asked)
    if dates and any(d in flat for d in dates):
        score += 2.0
    return score


def content_text(content: Any) -> str:
    """Message content as text (string content or a list of text parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return str(content)


def canonical_arguments(arguments: Any) -> str:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return arguments
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)


def _embedded_json(text: str) -> list[Any]:
    """Every top-level JSON object in ``text`` (e.g. '[record orders/7] {"id": "7", ...}')."""
    decoder = json.JSONDecoder()
    out = []
    start = text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict) and value:
            out.append(value)
        start = text.find("{", end)
    return out


def _decode(text: str) -> Any:
    if text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text
