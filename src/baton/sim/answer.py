"""Compose a plain answer from the supplied context and tool results (lexical relevance only)."""

from __future__ import annotations

from random import Random
from typing import Any

from baton.sim.conversation import Conversation, ToolResult
from baton.sim.text import bm25_rank, sentences, text_entities, tokens

NO_ACCESS = ("I don't have access to your account or records from here, so I can't check that. "
             "Could you share the details (for example the reference number, date and amount)?")
_MONEY_KEYS = ("amount", "price", "total", "cost", "balance", "fee", "refunded")


def relevant_sentences(conv: Conversation, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` context sentences most relevant to the question (BM25), best first."""
    candidates: list[str] = []
    for _, text in conv.context:
        candidates.extend(s for s in sentences(text) if _quotable(s))
    for result in conv.results:
        if isinstance(result.content, str):
            candidates.extend(sentences(result.content))
    if not candidates:
        return []
    query = conv.question_tokens
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


def compose_answer(conv: Conversation, rng: Random, mistakes: dict[str, bool], lead: str = "") -> str:
    """The answer: the lead (if any), tool-result facts, then the most relevant context sentences."""
    units: list[str] = [lead] if lead else []
    for result in conv.results[-1:]:
        line = summarize_result(result)
        if line:
            units.extend(part.strip() + "." for part in line.split(", ") if part.strip())
    relevant = relevant_sentences(conv, 3)
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
        del units[1 + rng.randrange(len(units) - 1) if lead else rng.randrange(len(units))]
    if mistakes.get("invented_fact"):
        units.append(f"A processing fee of ${rng.randint(11, 97)}.{rng.randint(10, 99)} also applies.")
    return " ".join(units)


def _missing_records(conv: Conversation) -> list[str]:
    """Ids the question mentions that appear nowhere in the supplied context."""
    context = "\n".join(t for _, t in conv.context)
    return [e.value for e in text_entities(conv.question, "user")
            if e.kind in ("id", "code") and e.value not in context]
