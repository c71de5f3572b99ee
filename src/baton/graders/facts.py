"""Is a fact stated in an answer? Is a forbidden claim made?

Each accepted form of a fact is read as a typed value where it is one, whatever kind the fact
declares (the declared kind is tried first): money, a date, a quantity ("3-5 business days"), a
number, an id; anything else is text. Typed values must match exactly after normalisation (see
:mod:`baton.graders.values`); text matches exactly in canonical form, or, for forms of at least
:data:`FUZZY_MIN_CHARS` characters, with ``rapidfuzz`` partial-ratio >= :data:`FUZZY_THRESHOLD`
provided every number in the form appears in the matched window and the window adds no negation.

An occurrence counts only if it is asserted (:meth:`AnswerText.asserted`): not negated, not inside
a quote of the user's words; a fact that is the subject of a negated verb ("the $12 credit does
not cover it") is still stated. Forbidden claims (plain strings, or typed
:class:`~baton.task.ForbiddenClaim` values and statements) use the same matching; a negated verb
after them, and outdated- or error-marking words ("the old 60-day policy", "... was wrong"), count
as negation there, and an id claim also matches longer ids it starts ("RF-4409" in "RF-4409-2").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache

from rapidfuzz import fuzz

from baton.graders.spans import AnswerText
from baton.graders.text import canonical
from baton.graders.values import (Date, Found, IdForm, Money, find_dates, find_id_tokens,
                                  find_money, find_numbers, find_phrase, id_matches, is_quantity,
                                  parse_date, parse_id, parse_money, parse_number)
from baton.task import Fact, ForbiddenClaim

FUZZY_THRESHOLD = 90.0
FUZZY_MIN_CHARS = 12

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Form:
    """One accepted form, compiled: its canonical text, effective kind and typed value."""

    raw: str
    text: str
    kind: str  # money | date | number | quantity | id | text
    value: object = None


@lru_cache(maxsize=8192)
def compile_form(raw: str, declared: str | None = None) -> Form:
    """Read ``raw`` as the declared kind if it parses as one, else as whatever it is."""
    text = canonical(raw)
    if declared == "money":
        money = parse_money(text)
        if money is None and (number := parse_number(text)) is not None:
            money = Money(number, None)
        if money is not None:
            return Form(raw, text, "money", money)
    elif declared == "id" and (idf := parse_id(text, numeric=True)) is not None:
        return Form(raw, text, "id", idf)
    elif declared == "number" and (number := parse_number(text)) is not None:
        return Form(raw, text, "number", number)
    if (date := parse_date(text)) is not None:
        return Form(raw, text, "date", date)
    if (money := parse_money(text)) is not None:
        return Form(raw, text, "money", money)
    if is_quantity(text):
        return Form(raw, text, "quantity")
    if (number := parse_number(text)) is not None:
        return Form(raw, text, "number", number)
    if (idf := parse_id(text, numeric=False)) is not None:
        return Form(raw, text, "id", idf)
    return Form(raw, text, "text")


class Extracted:
    """Typed values of one answer, found once and shared by every form."""

    def __init__(self, answer: AnswerText) -> None:
        self.answer = answer

    @cached_property
    def money(self) -> list[Found]:
        return find_money(self.answer.text)

    @cached_property
    def dates(self) -> list[Found]:
        return find_dates(self.answer.text)

    @cached_property
    def numbers(self) -> list[Found]:
        return find_numbers(self.answer.text)

    @cached_property
    def ids(self) -> list[Found]:
        return find_id_tokens(self.answer.text)


def _inside(item: Found, spans: list[Found]) -> bool:
    return any(s.start <= item.start and item.end <= s.end for s in spans)


def occurrences(form: Form, found: Extracted, *, claim: bool = False) -> Iterator[tuple[int, int]]:
    """Spans of the answer where ``form`` occurs (asserted or not)."""
    text = found.answer.text
    if form.kind == "money":
        assert isinstance(form.value, Money)
        for item in found.money:
            if form.value.matches(item.value):  # type: ignore[arg-type]
                yield item.start, item.end
        for item in found.numbers:
            if item.value != form.value.amount or _inside(item, found.money):
                continue
            written = text[item.start:item.end]
            if form.value.currency is None or re.search(r"\.\d\d$", written):
                yield item.start, item.end
    elif form.kind == "date":
        assert isinstance(form.value, Date)
        for item in found.dates:
            if form.value.matches(item.value):  # type: ignore[arg-type]
                yield item.start, item.end
    elif form.kind == "number":
        for item in found.numbers:
            if item.value == form.value:
                yield item.start, item.end
    elif form.kind == "id":
        assert isinstance(form.value, IdForm)
        for item in found.ids:
            if id_matches(form.value, str(item.value), text[:item.start], prefix_ok=claim):
                yield item.start, item.end
    else:
        yield from find_phrase(text, form.text)


def _word_edges(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` to whole words: an alignment may start inside one ("t add" of
    "cannot add"), and the word it cuts belongs to the statement."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    return start, end


def _fuzzy(form: Form, answer: AnswerText) -> Iterator[tuple[int, int]]:
    if len(form.text) < FUZZY_MIN_CHARS or " " not in form.text:
        return
    digits = _DIGITS.findall(form.text)
    for start, end in answer.sentences:
        sentence = answer.text[start:end]
        hit = fuzz.partial_ratio_alignment(form.text, sentence, score_cutoff=FUZZY_THRESHOLD)
        if hit is None:
            continue
        w_start, w_end = _word_edges(answer.text, start + hit.dest_start, start + hit.dest_end)
        window_digits = set(_DIGITS.findall(answer.text[w_start:w_end]))
        if any(d not in window_digits for d in digits):
            continue
        if answer.window_negates(w_start, w_end, form.text):
            continue
        yield w_start, w_end


@dataclass(frozen=True, slots=True)
class Hit:
    """Where a form was found, as the answer's canonical text shows it."""

    form: str
    snippet: str
    fuzzy: bool = False


def find_form(form: Form, found: Extracted, *, claim: bool) -> Hit | None:
    """The first asserted occurrence of ``form`` in the answer. A fact that is the subject of a
    negated verb ("the $12 credit does not cover it") is still stated; a claim is not made."""
    answer = found.answer
    for start, end in occurrences(form, found, claim=claim):
        if answer.asserted(start, end, stale=claim, after=claim):
            return Hit(form.raw, answer.text[start:end])
    if form.kind == "text":
        for start, end in _fuzzy(form, answer):
            if answer.asserted(start, end, stale=claim, after=claim):
                return Hit(form.raw, answer.text[start:end], fuzzy=True)
    return None


def fact_forms(fact: Fact) -> list[Form]:
    """The compiled forms of ``fact``. Where its money forms name one currency, a form without
    one ("412.60") takes it: "€412.60" is then not the fact "$412.60"."""
    forms = [compile_form(raw, fact.kind) for raw in fact.forms]
    currencies = {f.value.currency for f in forms if f.kind == "money" and f.value.currency}  # type: ignore[attr-defined]
    if len(currencies) == 1:
        (currency,) = currencies
        forms = [Form(f.raw, f.text, f.kind, Money(f.value.amount, currency))  # type: ignore[attr-defined]
                 if f.kind == "money" and f.value.currency is None else f for f in forms]  # type: ignore[attr-defined]
    return forms


def find_fact(fact: Fact, found: Extracted) -> Hit | None:
    """An asserted statement of ``fact`` in the answer, or None."""
    for form in fact_forms(fact):
        hit = find_form(form, found, claim=False)
        if hit is not None:
            return hit
    return None


def claim_forms(claim: str | ForbiddenClaim) -> list[Form]:
    """The compiled forms of a forbidden claim: a plain string reads as whatever it is; a typed
    claim reads each form as its declared kind (``text``: a statement)."""
    if isinstance(claim, str):
        return [compile_form(claim)]
    declared = None if claim.kind in ("text", "duration") else claim.kind
    forms = [compile_form(raw, declared) for raw in claim.forms]
    if claim.kind == "text":
        forms = [Form(f.raw, f.text, "text") for f in forms]
    return forms


def find_claim(claim: str | ForbiddenClaim, found: Extracted) -> Hit | None:
    """An asserted occurrence of forbidden ``claim`` in the answer, or None."""
    for form in claim_forms(claim):
        hit = find_form(form, found, claim=True)
        if hit is not None:
            return hit
    return None
