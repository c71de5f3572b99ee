"""Policy checks of the simulated agent, generic over what the request carries: day windows from
the current documents ('within 30 days of the invoice date'), record states a tool's description
requires ('status "placed" or "processing"'), and rules that exclude a kind of record ('Basic
fares are not refundable'). Stale documents (superseded, retired, not policy) are ignored."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from baton.sim.conversation import Conversation
from baton.sim.intent import expand
from baton.sim.text import STOPWORDS, current_text, name_tokens, overlap, sentences, tokens

_WINDOW = re.compile(r"(\d+)[- ](?:calendar |business )?days?\b")
_WINDOW_WORDS = ("within", "window", "older than", "more than", "after", "past", "no later than", "up to")
_STATUS = re.compile(r"status(?:es)?\s*(?:is\s+|of\s+|=\s*)?\(?((?:[\"'][\w -]+[\"']\s*(?:,|or|and|/)?\s*)+)", re.I)
_NEGATION = re.compile(r"\b(?:not|never|cannot|can't|no longer)\b|\bnon-|\bnon\b", re.I)


def policy_sentences(conv: Conversation) -> list[str]:
    """Sentences of the current (not stale) context and text tool results."""
    texts = [current_text(t) for _, t in conv.context] + [r.text for r in conv.results
                                                          if isinstance(r.content, str)]
    return [s for text in texts for s in sentences(text)]


def record_of(conv: Conversation, group: int | None) -> dict[str, Any]:
    """The scalar fields of the looked-up record an argument was taken from (tool results first)."""
    if group is None:
        return {}
    ents = [e for e in conv.entities if e.source in ("tool", "record") and e.key]
    lineage = next((e.lineage for e in ents if e.group == group), (group,))
    fields: dict[str, Any] = {}
    for g in lineage:  # the record itself first, then the records around it (an order around its line)
        for e in ents:
            if e.group == g and e.key not in fields and (e.lineage[:1] == (g,)):
                fields[e.key] = e.value
    return fields


def window_refusal(conv: Conversation, verbs: tuple[str, ...], record: dict[str, Any]) -> str:
    """Why acting is not allowed: the record's date is outside a stated N-day window whose rule
    names that date's field ('within 30 days of delivery' -> ``delivered``)."""
    today = conv.today
    if today is None or not record:
        return ""
    dates = {k: v for k, v in record.items() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(v))}
    if not dates:
        return ""
    best: tuple[int, str, str] | None = None
    for sentence in policy_sentences(conv):
        low = sentence.lower()
        if not overlap(expand(sentence), verbs) or not any(w in low for w in _WINDOW_WORDS):
            continue
        for m in _WINDOW.finditer(low):
            rule = tokens(low[m.end(): m.end() + 40])
            field = _date_field(rule, dates)
            if field is None:
                continue
            window = int(m.group(1))
            if best is None or window < best[0]:
                best = (window, field, sentence)
    if best is None:
        return ""
    window, field, sentence = best
    try:
        when = dt.date.fromisoformat(str(dates[field]))
    except ValueError:
        return ""
    if (today - when).days <= window:
        return ""
    label = "date" if field.lower() == "date" else f"{field.replace('_', ' ')} date"
    return (f"I can't do that: the {label} is {when.isoformat()}, outside the "
            f"{window}-day window. {sentence} I can escalate it to a specialist for review, but I can't "
            "promise an outcome.")


def _date_field(rule: tuple[str, ...], dates: dict[str, Any]) -> str | None:
    """The record's date field a window rule counts from ('of the invoice date' -> ``date``)."""
    for key in dates:
        if overlap(rule, name_tokens(key)):
            return key
    if "date" in rule and len(dates) == 1:
        return next(iter(dates))
    return None


def state_refusal(description: str, verbs: tuple[str, ...], record: dict[str, Any]) -> str:
    """Why acting is not allowed: the tool's description requires statuses the record is not in."""
    status = record.get("status")
    if status is None:
        return ""
    m = _STATUS.search(description)
    if not m:
        return ""
    allowed = re.findall(r"[\"']([\w -]+)[\"']", m.group(1))
    if not allowed or str(status) in allowed:
        return ""
    return (f"I can't do that: its status is '{status}', and that is only possible while it is "
            f"{' or '.join(repr(a) for a in allowed)}.")


def rule_refusal(conv: Conversation, verbs: tuple[str, ...], record: dict[str, Any]) -> str:
    """A current policy sentence saying the action (or one of ``verbs``, such as an argument
    value) is not available for a kind of record this record is (a short text value of it, such
    as its fare or plan type, opening the sentence); '' when there is none."""
    kinds = {v for k, v in record.items() if isinstance(v, str) and _kind_value(v)}
    if not kinds:
        return ""
    for sentence in policy_sentences(conv):
        if not _NEGATION.search(sentence) or not overlap(expand(sentence), verbs):
            continue
        words = set(re.findall(r"[A-Za-z][\w-]*", sentence))
        hit = next((k for k in kinds if k in words), None)
        if hit is not None and sentence.split()[0].strip("*").startswith(hit):
            return sentence
    return ""


def _kind_value(value: str) -> bool:
    """A one-word capitalised label ('Basic', 'Gold'), not an id, name part or status word."""
    return value[:1].isupper() and value.isalpha() and 3 <= len(value) <= 20 and value.lower() not in STOPWORDS
