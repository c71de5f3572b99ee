"""What a simulated model can see: the text of the messages it received and the tool calls in them.

The oracle states a value, or passes it as a tool argument, only when :class:`Seen` shows it:
a string as a case-insensitive substring, a number in any usual spelling (``19``, ``19.0``,
``1,200.50``), a date as written or in ISO form. Nothing here knows any domain.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from baton.graders.facts import compile_form
from baton.graders.values import Date, Money
from baton.task import Fact

_ID_TOKEN = re.compile(r"(?<![\w-])#?([A-Za-z]*[-_]?\d[\w-]*\d|\d+)(?![\w-])")
_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])|(?<![\w.,])\d+(?:\.\d+)?(?![\d])")


@dataclass(frozen=True, slots=True)
class SeenCall:
    """A tool call visible in the conversation and whether it succeeded."""

    name: str
    arguments: dict[str, Any]
    ok: bool


@dataclass(slots=True)
class Seen:
    """The lower-cased text of every message (tool calls included) and the calls it shows."""

    text: str
    system: str
    last_user: str
    calls: list[SeenCall] = field(default_factory=list)
    raw: str = ""

    def shows(self, value: Any) -> bool:
        """Whether ``value`` (a string, number or bool) is visible."""
        if isinstance(value, bool) or value is None:
            return True
        if isinstance(value, (int, float, Decimal)):
            return number_pattern(_plain(Decimal(str(value)))).search(self.text) is not None
        if isinstance(value, str):
            needle = value.strip().lstrip("#").lower()
            return bool(needle) and needle in self.text
        if isinstance(value, list):
            return all(self.shows(v) for v in value)
        if isinstance(value, dict):
            return all(self.shows(v) for v in value.values())
        return False

    def ids(self) -> list[str]:
        """Id-like tokens (letters and digits, or digits) in order of appearance, without repeats."""
        return list(dict.fromkeys(m.group(1) for m in _ID_TOKEN.finditer(self.raw or self.text)))

    def numbers(self) -> list[Decimal]:
        return list(dict.fromkeys(Decimal(m.group(0).replace(",", "")) for m in _NUMBER.finditer(self.text)))


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def read_messages(messages: list[dict[str, Any]]) -> Seen:
    """Parse a Chat Completions ``messages`` list into what the model sees."""
    parts: list[str] = []
    system: list[str] = []
    last_user = ""
    pending: dict[str, tuple[str, dict[str, Any]]] = {}
    calls: list[SeenCall] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        text = _content(message)
        parts.append(text)
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            last_user = text
        for call in message.get("tool_calls") or ():
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict):
                continue
            raw = fn.get("arguments")
            parts.append(f"{fn.get('name', '')} {raw if isinstance(raw, str) else json.dumps(raw)}")
            try:
                arguments = json.loads(raw) if isinstance(raw, str) and raw.strip() else (raw or {})
            except ValueError:
                arguments = {}
            pending[str(call.get("id", ""))] = (str(fn.get("name", "")),
                                                arguments if isinstance(arguments, dict) else {})
        if role == "tool":
            name, arguments = pending.pop(str(message.get("tool_call_id", "")), ("", {}))
            if name:
                calls.append(SeenCall(name, arguments, not text.lstrip().upper().startswith("ERROR")))
    raw = "\n".join(parts)
    return Seen(raw.lower(), "\n".join(system), last_user, calls, raw)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text[:-2] if text.endswith(".0") else text


@lru_cache(maxsize=4096)
def number_pattern(plain: str) -> re.Pattern[str]:
    """Any usual spelling of the number ``plain`` ('19' matches 19, 19.0, 19.00; '1200' also 1,200)."""
    whole, _, frac = plain.partition(".")
    grouped = f"{int(whole):,}" if whole.lstrip("-").isdigit() else whole
    wholes = "|".join(re.escape(w) for w in dict.fromkeys((whole, grouped)))
    tail = rf"\.{re.escape(frac)}0*" if frac else r"(?:\.0+)?"
    return re.compile(rf"(?<![\d.,])(?:{wholes}){tail}(?![\d])")


@lru_cache(maxsize=4096)
def _probes(raw: str, kind: str) -> tuple[str, re.Pattern[str] | None]:
    """A fact form's lower-cased text and, for typed values, a pattern for other spellings."""
    form = compile_form(raw, kind)
    value = form.value
    if isinstance(value, Money):
        return raw.lower(), number_pattern(_plain(value.amount))
    if isinstance(value, Decimal):
        return raw.lower(), number_pattern(_plain(value))
    if isinstance(value, Date):
        iso = f"{value.year:04d}-" if value.year else r"\d{4}-"
        return raw.lower(), re.compile(rf"{iso}{value.month:02d}-{value.day:02d}")
    return raw.lower().lstrip("#"), None


_WORD = re.compile(r"[a-z]{4,}")


def visible_form(fact: Fact, seen: Seen) -> str | None:
    """The form in which ``fact`` can be stated from what is seen, or None when it is not visible.

    A value (money, number, date, id, duration, or any form with a digit) must be visible as such;
    a wording without digits (what to tell the user: "cannot refund", "member ID") is visible
    when each of its words of four letters or more is."""
    typed = None
    for raw in fact.forms:
        text, pattern = _probes(raw, fact.kind)
        if text and text in seen.text:
            return raw
        if typed is None and pattern is not None and pattern.search(seen.text):
            typed = raw
        if typed is None and fact.kind == "text" and not any(ch.isdigit() for ch in raw):
            words = _WORD.findall(text)
            if words and all(w in seen.text for w in words):
                typed = raw
    return typed
