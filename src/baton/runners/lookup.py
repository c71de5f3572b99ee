"""Record lookup for the retrieve hop: find the records a request refers to.

Id-like mentions (tokens with a digit, such as ``#5120`` or ``C-2040``; money amounts left out)
are taken from the customer's turns. Each is matched to the task's read-by-key tools
(``get`` effects): a mention fits a tool's key parameter when it has the shape of the parameter's
``pattern`` or of the example in its description (``e.g. "5120"``); a parameter with neither
accepts a mention whose preceding words name its subject (``customer`` or ``account`` for
``customer_id`` of a tool that looks up "a customer account"). The lookups themselves are
ordinary tool calls through MCP, so they appear in the trace as ``tool`` hops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from baton.task import GoldenTask, ToolSpec

_TOKEN = re.compile(r"#?[A-Za-z0-9][A-Za-z0-9_\-]*")
_EXAMPLE = re.compile(r"""(?:e\.g\.|example|such as|like)[:,]?\s*["'`]?([A-Za-z0-9][A-Za-z0-9_\-]*)""", re.I)
_CONTEXT_WORDS = 3
_CURRENCY = "$€£¥"
_NOT_SUBJECTS = {"look", "find", "fetch", "list", "show", "read", "with", "from", "that", "this", "their",
                 "your", "return", "returns", "by", "given", "using", "digits", "only", "number"}


@dataclass(frozen=True, slots=True)
class Mention:
    value: str
    context: str  # the lower-cased words just before the mention


@dataclass(frozen=True, slots=True)
class Lookup:
    tool: str
    param: str
    value: str
    collection: str


def mentions(task: GoldenTask) -> list[Mention]:
    """Id-like tokens in the customer's turns, in order (money amounts left out)."""
    found: list[Mention] = []
    texts = [t.content for t in task.conversation if t.role == "user"] + [task.request]
    for text in texts:
        words: list[str] = []
        for match in _TOKEN.finditer(text):
            token = match.group(0)
            value = token.lstrip("#").rstrip("-_")
            money = match.start() > 0 and text[match.start() - 1] in _CURRENCY
            if any(ch.isdigit() for ch in value) and len(value) >= 2 and not money:
                found.append(Mention(value, " ".join(words[-_CONTEXT_WORDS:]).lower()))
            words.append(token)
    unique: dict[str, Mention] = {}
    for m in found:
        seen = unique.get(m.value)
        unique[m.value] = Mention(m.value, f"{seen.context} {m.context}") if seen else m
    return list(unique.values())


def _shape(example: str) -> re.Pattern[str]:
    """A pattern for ids shaped like ``example``: same letters/digits/separators, digit runs of
    about the same length ("5120" fits 3 to 6 digits)."""
    parts = []
    for run in re.findall(r"\d+|[A-Za-z]+|[^A-Za-z\d]", example):
        if run[0].isdigit():
            parts.append(rf"\d{{{max(1, len(run) - 1)},{len(run) + 2}}}")
        else:
            parts.append("[A-Za-z]+" if run[0].isalpha() else re.escape(run))
    return re.compile("^" + "".join(parts) + "$")


def _fits(spec: ToolSpec, param: str, mention: Mention) -> bool:
    schema = (spec.parameters.get("properties") or {}).get(param) or {}
    if isinstance(schema.get("pattern"), str):
        return re.search(schema["pattern"], mention.value) is not None
    if isinstance(schema.get("enum"), list):
        return mention.value in schema["enum"]
    example = _EXAMPLE.search(str(schema.get("description", ""))) or _EXAMPLE.search(spec.description)
    if example and any(ch.isdigit() for ch in example.group(1)):
        return _shape(example.group(1)).match(mention.value) is not None
    return bool(_subject_words(spec, param) & set(mention.context.split()))


def _subject_words(spec: ToolSpec, param: str) -> set[str]:
    """What a key parameter is about: its name without the id suffix, and the tool's nouns."""
    stem = re.sub(r"[_\-]?(id|number|no|ref|reference)$", "", param, flags=re.I).lower()
    words = set(re.findall(r"[a-z]{4,}", f"{stem} {spec.name} {spec.description}".lower().replace("_", " ")))
    return words - _NOT_SUBJECTS


def plan_lookups(task: GoldenTask, limit: int) -> list[Lookup]:
    """Which read-by-key tool calls look up the records the request mentions (at most ``limit``)."""
    plan: list[Lookup] = []
    getters = [s for s in task.tools if s.effect is not None and s.effect.op == "get" and s.effect.key]
    for mention in mentions(task):
        for spec in getters:
            assert spec.effect is not None
            key = spec.effect.key or ""
            if _fits(spec, key, mention):
                plan.append(Lookup(spec.name, key, mention.value, spec.effect.collection))
                break
        if len(plan) >= limit:
            break
    return plan
