"""Compose a plain answer from the supplied context and tool results (lexical relevance only)."""

from __future__ import annotations

import re
from random import Random
from typing import Any

from baton.sim.conversation import Conversation, ToolResult
from baton.sim.intent import is_read
from baton.sim.text import bm25_rank, current_text, sentences, text_entities, tokens

NO_ACCESS = ("I don't have access to your account or records from here, so I can't check that. "
             "Could you share the details (for example the reference number, date and amount)?")
_MONEY_KEYS = ("amount", "price", "total", "cost", "balance", "fee", "refunded", "paid", "charge", "fare")
_DURATION = re.compile(r"\b\d+(?:\s*(?:-|to)\s*\d+)?[- ](?:business |calendar |working )?"
                       r"(?:days?|hours?|weeks?|months?)\b", re.I)
_SPECIFIC = re.compile(r"\d")
_ASKS_TIME = re.compile(r"\b(?:how long|when|how soon|how many (?:days|hours|weeks)|by when|timeline|timeframe)\b",
                        re.I)
# the pipeline's own earlier output and the prompt's metadata lines: never quoted as evidence
_NOTES = ("plan:", "draft:", "notes:", "previous reply:", "customer:", "today:", "topic:")


def relevant_sentences(conv: Conversation, k: int = 3, focus: tuple[str, ...] = ()) -> list[tuple[str, float]]:
    """The ``k`` current context sentences most relevant to the request (BM25) and to ``focus``
    words, best first. Stale documents and the pipeline's own notes (``Plan:``) are left out."""
    candidates: list[str] = []
    for _, text in conv.context:
        text = "\n".join(line for line in current_text(text).splitlines()
                         if not line.lstrip().lower().startswith(_NOTES))
        candidates.extend(s for s in sentences(text) if _quotable(s))
    for result in conv.results:
        if isinstance(result.content, str):
            candidates.extend(sentences(result.content))
    if not candidates:
        return []
    query = conv.intent_tokens + focus
    scores = bm25_rank(query, [tokens(s) for s in candidates])
    ranked = sorted(zip(scores, range(len(candidates)), strict=True), key=lambda p: (-p[0], p[1]))
    best = ranked[0][0]
    out: list[tuple[str, float]] = []
    seen = set()
    for score, index in ranked:
        if score <= 0.0 or score < 0.25 * best or len(out) >= k:
            break
        sentence = candidates[index]
        if sentence not in seen:
            seen.add(sentence)
            out.append((sentence, score))
    return out


def timing_sentence(conv: Conversation, query: tuple[str, ...], exclude: set[str] | frozenset[str] = frozenset()
                    ) -> str:
    """The current context sentence (table rows included) that states a duration ('within 7
    calendar days', '3-5 business days') and best matches ``query``, other than those in
    ``exclude``; '' when none matches."""
    candidates = [s for _, text in conv.context for line in current_text(text).splitlines()
                  if not line.lstrip().lower().startswith(_NOTES)
                  for s in sentences(line) if _DURATION.search(s) and '{"' not in s and s not in exclude]
    if not candidates:
        return ""
    scores = bm25_rank(query, [tokens(s) for s in candidates])
    best = max(range(len(candidates)), key=lambda i: (scores[i], -i))
    return candidates[best] if scores[best] > 0 else ""


def _quotable(sentence: str) -> bool:
    """A whole sentence worth quoting: not a JSON dump, not a fragment cut mid-sentence."""
    return '{"' not in sentence and not sentence[0].islower() and sentence.count(" ") >= 3


def summarize_result(result: ToolResult) -> str:
    """One line stating a tool result's values: 'refund id: RF-1, amount: 49.00 USD, ...'."""
    error = result.error
    if error is not None:
        return f"The {result.name.replace('_', ' ')} step failed: {error}"
    content = result.content
    if isinstance(content, list):
        items = [_record(r) if isinstance(r, dict) else str(r) for r in content[:5]]
        return f"{result.name.replace('_', ' ')}: " + "; ".join(items) if items else \
            f"{result.name.replace('_', ' ')}: nothing found"
    if isinstance(content, dict):
        if content and all(isinstance(v, dict) for v in content.values()):
            return "; ".join(f"{key} ({_record(rec)})" for key, rec in list(content.items())[:5])
        return _record(content)
    return ""


def summarize_record(record: dict[str, Any]) -> str:
    """A record's fields as one line ('id: LK-1, status: shipped, ...'); '' for none."""
    return _record(record) if record else ""


def _record(record: dict[str, Any]) -> str:
    currency = record.get("currency")
    pairs = []
    for key, value in record.items():
        if value is None or isinstance(value, (dict, list)) or key == "currency":
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and any(m in key for m in _MONEY_KEYS):
            text = f"{value:.2f}" + (f" {currency}" if currency else "")
        else:
            text = str(value)
        pairs.append(f"{key.replace('_', ' ')}: {text}")
    return ", ".join(pairs)


def compose_answer(conv: Conversation, rng: Random, mistakes: dict[str, bool], lead: str = "",
                   results: list[ToolResult] | None = None, focus: tuple[str, ...] = ()) -> str:
    """The answer: the lead (if any), tool-result facts (``results``, default the last result),
    then the context sentences most relevant to the request and to ``focus`` words."""
    units: list[str] = [lead] if lead else []
    if results is None:  # without the tool list: what acting returned, else the last lookup
        results = [r for r in conv.results if not is_read(r.name) and not r.error] or conv.results[-1:]
    for result in results:
        line = summarize_result(result)
        if line:
            units.extend(part.strip() + "." for part in line.split(", ") if part.strip())
    relevant = relevant_sentences(conv, 5, focus)
    acted = any(not is_read(r.name) for r in results)
    if (acted or _ASKS_TIME.search(conv.request)) and not any(_DURATION.search(u) for u in units):
        values = " ".join(str(v) for r in results if isinstance(r.content, dict)
                          for v in r.content.values() if isinstance(v, str))
        quoted = {s for s, _ in relevant}
        timed = timing_sentence(conv, conv.intent_tokens + focus + tokens(values), exclude=quoted)
        if timed:
            relevant = [*relevant[:3], (timed, 0.0)]
    missing = [] if units or conv.results else _missing_records(conv)
    if missing:
        units.append("I don't have access to your account data, so I can't look up "
                     + ", ".join(missing) + " from here.")
        units.extend(s for s, _ in relevant)
        units.append("Could you share the details I need?")
    else:
        units.extend(s for s, _ in relevant)
    if not units:
        return NO_ACCESS
    if mistakes.get("dropped_fact") and len(units) > 1:
        # the fact a model drops is usually a specific one: a unit stating a number, amount, id or duration
        first = 1 if lead else 0
        specific = [i for i in range(first, len(units)) if _SPECIFIC.search(units[i])]
        pool = specific or list(range(first, len(units)))
        del units[pool[rng.randrange(len(pool))]]
    if mistakes.get("invented_fact"):
        units.append(f"A processing fee of ${rng.randint(11, 97)}.{rng.randint(10, 99)} also applies.")
    return " ".join(units)


def _missing_records(conv: Conversation) -> list[str]:
    """Ids the question mentions that appear nowhere in the supplied context."""
    context = "\n".join(t for _, t in conv.context)
    return [e.value for e in text_entities(conv.question, "user")
            if e.kind in ("id", "code") and e.value not in context]
