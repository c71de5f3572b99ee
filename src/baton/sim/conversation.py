"""A chat request read the way the simulated vendor needs it: question, context, tool history."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from baton.sim.text import Entity, json_entities, normalise_claim, overlap, sections, text_entities, tokens

_QUESTION_HEADERS = ("question", "request", "customer request", "customer message", "message", "query",
                     "task", "ask", "user", "customer says", "input", "ticket")
_DRAFT_HEADERS = ("draft", "answer", "reply", "response", "proposed", "candidate")


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
    def user_tokens(self) -> list[str]:
        return [t for src, text in self.context if src == "user" for t in tokens(text)]

    @cached_property
    def entities(self) -> list[Entity]:
        """Every value in the conversation: question first, then tool results, then the rest."""
        out = text_entities(self.question, "user")
        asked = {normalise_claim(e.value) for e in out}
        for result in self.results:
            if isinstance(result.content, (dict, list)):
                out.extend(_result_entities(result, self.question_tokens, asked))
            else:
                out.extend(text_entities(result.text, "tool"))
        for record in self.records:
            for entity in _result_entities(ToolResult("record", record, ""), self.question_tokens, asked):
                entity.source = "record"
                out.append(entity)
        for src, text in self.context:
            out.extend(text_entities(text, src))
        return out

    @cached_property
    def all_text(self) -> str:
        return "\n".join([self.question] + [t for _, t in self.context] + [r.text for r in self.results])


def _result_entities(result: ToolResult, question: tuple[str, ...], asked: set[str]) -> list[Entity]:
    """Entities of a JSON tool result; in a list of records, each weighted by how well its
    record matches the question (shared words, values the question states)."""
    parent = result.name.split("_", 1)[-1]
    content = result.content
    if isinstance(content, list) and content and all(isinstance(r, dict) for r in content):
        records: list[Any] = content
    elif isinstance(content, dict) and len(content) > 1 and all(isinstance(r, dict) for r in content.values()):
        records = [{key: rec} for key, rec in content.items()]
    else:
        return json_entities(content, "tool", parent)
    scores = []
    for record in records:
        flat = [str(v) for e in json_entities(record, "tool", parent) for v in (e.value,)]
        scores.append(overlap(question, tokens(" ".join(flat)))
                      + 2.0 * sum(1 for v in flat if normalise_claim(v) in asked))
    best = max(scores) or 1.0
    out = []
    for record, score in zip(records, scores, strict=True):
        for entity in json_entities(record, "tool", parent):
            entity.relevance = 2.0 * score / best
            out.append(entity)
    return out


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
