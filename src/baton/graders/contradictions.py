"""Stated values that contradict a fact: the answer says "$59" where the fact is "$49".

A fact the answer does not state (required or optional) is *contradicted* when the answer asserts
a value comparable with one of the fact's typed forms that matches no form of any fact of the
task and nothing the run had seen (the user's words, the policy, documents, tool results and
errors: :func:`baton.graders.answer.evidence_texts`). A value the run saw (another real invoice,
a fee from the documents) is not a contradiction: the fact is then reported missing. Comparable:

* money: any amount with a currency; the fact's amount in another currency ("€49" for "$49")
  contradicts even where the amount was seen;
* a date: any calendar date;
* a quantity ("3-5 business days", "4 doses", "50 lb"): a number or range with the same unit;
* an id with a letter prefix and several parts ("RF-5120-1"): a token with the same prefix and
  as many parts ("RF-5120-2", "RF-5102-1").

Bare numbers and text forms are never compared. Negated and quoted values are not statements; a
value that is the subject of a negated verb is (as for facts).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from baton.graders.facts import Extracted, Form, fact_forms
from baton.graders.text import canonical
from baton.graders.values import Date, Money, compact, find_dates, find_id_tokens, find_numbers
from baton.task import Fact

_QUANTITY_PARTS = re.compile(r"(\d[\d.,]*(?:-\d[\d.,]*)?%?)\s+([a-z][a-z ]*)")
_ID_PARTS = re.compile(r"[-_/.]")


@dataclass(frozen=True, slots=True)
class Contradiction:
    """A fact and the contradicting value the answer states (as the canonical answer shows it)."""

    fact: str
    value: str
    expected: str = ""  # the fact's first form, for the report


@dataclass(frozen=True, slots=True)
class _Seen:
    numbers: frozenset[object]
    dates: tuple[Date, ...]
    ids: frozenset[str]
    text: str


@lru_cache(maxsize=4096)
def _seen_one(text: str) -> _Seen:
    canon = canonical(text)
    return _Seen(frozenset(f.value for f in find_numbers(canon)),
                 tuple(f.value for f in find_dates(canon)),  # type: ignore[misc]
                 frozenset(compact(str(f.value)) for f in find_id_tokens(canon)), canon)


def _seen(texts: Sequence[str]) -> _Seen:
    parts = [_seen_one(t) for t in texts]
    return _Seen(frozenset().union(*(p.numbers for p in parts)),
                 tuple(d for p in parts for d in p.dates),
                 frozenset().union(*(p.ids for p in parts)), "\n".join(p.text for p in parts))


def _id_shape(text: str) -> tuple[str, int] | None:
    """(letter prefix, number of parts) of a multi-part id with a letter prefix, else None."""
    parts = _ID_PARTS.split(text.lstrip("#").lower())
    if len(parts) < 2 or not parts[0].isalpha() or not any(ch.isdigit() for ch in text):
        return None
    return parts[0], len(parts)


def _quantity(form: Form) -> tuple[str, str] | None:
    m = _QUANTITY_PARTS.fullmatch(form.text) if form.kind == "quantity" else None
    return (m.group(1), m.group(2).strip()) if m else None


def _typed_forms(fact: Fact) -> list[Form]:
    return fact_forms(fact)


def _candidates(fact: Fact, found: Extracted, seen: Callable[[], _Seen]) -> Iterator[tuple[int, int]]:
    """Spans of comparable values that match no form of ``fact`` and were not seen (``seen`` is
    called only for such a value: scanning the evidence is most of a grade's time)."""
    forms = _typed_forms(fact)
    text = found.answer.text
    money = [f.value for f in forms if f.kind == "money"]
    for item in found.money if money else ():
        value: Money = item.value  # type: ignore[assignment]
        if any(m.matches(value) for m in money):  # type: ignore[attr-defined]
            continue
        other_currency = any(m.amount == value.amount and m.currency and value.currency  # type: ignore[attr-defined]
                             for m in money)
        if other_currency or value.amount not in seen().numbers:
            yield item.start, item.end
    dates = [f.value for f in forms if f.kind == "date"]
    for item in found.dates if dates else ():
        if any(d.matches(item.value) for d in dates):  # type: ignore[attr-defined]
            continue
        if not any(item.value.matches(d) for d in seen().dates):  # type: ignore[attr-defined]
            yield item.start, item.end
    quantities: dict[str, set[str]] = {}
    for form in forms:
        if (q := _quantity(form)) is not None:
            quantities.setdefault(q[1], set()).add(q[0])
    for unit, numbers in quantities.items():
        pattern = rf"(?<![\w.,$-])(\d[\d.,]*(?:-\d[\d.,]*)?)\s+{re.escape(unit)}(?![a-z])"
        for m in re.finditer(pattern, text):
            stated = m.group(1)
            if stated in numbers or re.search(rf"(?<![\w.,-]){re.escape(stated)} {re.escape(unit)}(?![a-z])",
                                              seen().text):
                continue
            yield m.start(), m.end()
    shapes = {s for f in forms if f.kind == "id" and (s := _id_shape(f.raw)) is not None}
    if shapes:
        known = {compact(f.raw) for f in forms}
        for item in found.ids:
            token = str(item.value)
            if _id_shape(token) in shapes and compact(token) not in known and compact(token) not in seen().ids:
                yield item.start, item.end


def _matches_any(span: str, facts: Sequence[Fact]) -> bool:
    """Whether ``span`` is itself a form of one of the task's facts (another fact's value)."""
    for fact in facts:
        for form in _typed_forms(fact):
            if form.text == span or compact(form.text) == compact(span):
                return True
    return False


def find_contradictions(facts: Sequence[Fact], unstated: Sequence[Fact], found: Extracted,
                        evidence: Sequence[str]) -> list[Contradiction]:
    """For each fact of ``unstated``, the first asserted value that contradicts it (see the module
    docstring); ``facts`` are all the task's facts (their values never count as contradictions)."""
    if not unstated:
        return []
    seen = cache(lambda: _seen(evidence))
    answer = found.answer
    out = []
    for fact in unstated:
        for start, end in sorted(set(_candidates(fact, found, seen))):
            value = answer.text[start:end]
            if _matches_any(value, facts) or not answer.asserted(start, end, after=False):
                continue
            out.append(Contradiction(fact.id, value, fact.forms[0]))
            break
    return out
