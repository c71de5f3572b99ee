"""Fact matching primitives: canonical text, typed values, negation, quotes, action claims."""

from __future__ import annotations

from decimal import Decimal

import pytest

from baton.graders.claims import asks_or_declines, find_action_claims, stem
from baton.graders.facts import Extracted, compile_form, find_claim, find_fact
from baton.graders.spans import AnswerText
from baton.graders.text import canonical
from baton.graders.values import Date, Money, parse_date, parse_money
from baton.task import Fact

REQUEST = "My invoice #4471 shows a $49 charge I didn't authorize, can you refund it?"
AMOUNT = Fact(id="amount", kind="money", forms=["$49", "49.00 USD", "USD 49"])
TIMING = Fact(id="timing", kind="duration", forms=["3-5 business days"])
INVOICE = Fact(id="invoice", kind="id", forms=["#4471"])
REFERENCE = Fact(id="ref", kind="id", forms=["RF-4471-2"])
DATE = Fact(id="date", kind="date", forms=["2026-06-02"])


def stated(fact: Fact, answer: str, users: tuple[str, ...] = (REQUEST,)) -> bool:
    return find_fact(fact, Extracted(AnswerText(answer, users))) is not None


def claimed(claim: str, answer: str) -> bool:
    return find_claim(claim, Extracted(AnswerText(answer, (REQUEST,)))) is not None


@pytest.mark.parametrize(("raw", "expected"), [
    ("Forty-nine dollars", "49 dollar"),
    ("three to five business days", "3-5 business day"),
    ("between 3 and 5 working days", "3-5 business day"),
    ("3 – 5 Business Days", "3-5 business day"),
    ("I can't and won't", "i cannot and will not"),
    ("the one you booked", "the one you booked"),
    ("one hundred and twenty", "120"),
    ("a 30-day window", "a 30 day window"),
    ("The $49 refund has not", "the $49 refund has not"),
    ("23kg", "23 kg"),
])
def test_canonical(raw: str, expected: str) -> None:
    assert canonical(raw) == expected


def test_typed_form_parsing() -> None:
    assert parse_money("$49") == Money(Decimal("49"), "usd")
    assert parse_money(canonical("49.00 USD")) == Money(Decimal("49.00"), "usd")
    assert parse_money("usd 49") == Money(Decimal(49), "usd")
    assert parse_money("€12,50") == Money(Decimal("12.50"), "eur")
    assert parse_date("june 2, 2026") == Date(2026, 6, 2)
    assert parse_date("2 june 2026") == Date(2026, 6, 2)
    assert parse_date("06/02/2026") == Date(2026, 6, 2)
    assert parse_date("25/12/2026") == Date(2026, 12, 25)
    assert parse_date("aug 3") == Date(None, 8, 3)
    assert compile_form("3-5 business days", "duration").kind == "quantity"
    assert compile_form("invoice number", "id").kind == "text"   # not an id: matched as text
    assert compile_form("276.40", "money").value == Money(Decimal("276.40"), None)
    assert compile_form("2027-10-05", "duration").kind == "date"


@pytest.mark.parametrize("answer", [
    "I've refunded $49.", "Refunded 49.00 USD.", "USD 49 is on its way.", "A refund of forty-nine dollars.",
    "Refunded US$49.00 to your Visa.", "Refund of 49.00 issued.", "$ 49 refunded.",
])
def test_money_forms_match(answer: str) -> None:
    assert stated(AMOUNT, answer)


@pytest.mark.parametrize("answer", [
    "I've refunded $94.", "I've refunded $490.", "I've refunded $49.50.", "The total is 49.",
    "I've refunded €49.", "I've refunded $4.90.",
])
def test_money_near_misses_do_not_match(answer: str) -> None:
    assert not stated(AMOUNT, answer)


def test_dates_ids_durations() -> None:
    for answer in ["issued 2026-06-02", "issued June 2, 2026", "issued 2 June 2026", "issued 06/02/2026",
                   "issued on the 2nd of June"]:
        assert stated(DATE, answer), answer
    for answer in ["issued June 20, 2026", "issued 02/06/2026", "issued 2025-06-02"]:
        assert not stated(DATE, answer), answer
    for answer in ["invoice 4471", "INV-4471", "#4471", "invoice no. 4471"]:
        assert stated(INVOICE, answer, ()), answer
    for answer in ["invoice 4417", "RF-4471-2", "44712"]:
        assert not stated(INVOICE, answer, ()), answer
    assert stated(REFERENCE, "(ref RF‑4471‑2)") and stated(REFERENCE, "ref rf44712")
    assert not stated(REFERENCE, "ref RF-4471-3")
    for answer in ["3 to 5 business days", "three to five business days", "3–5 working days"]:
        assert stated(TIMING, answer), answer
    for answer in ["5-10 business days", "3-5 days", "13-5 business days"]:
        assert not stated(TIMING, answer), answer


@pytest.mark.parametrize(("answer", "expected"), [
    ("I have not issued a refund of $49.", False),
    ("We cannot refund $49 today.", False),
    # a fact that is the subject of a negated verb is still stated (issue 14): the amount is $49,
    # whatever happened to the refund (whether it was issued is the claims grader's business)
    ("The $49 refund has not been issued.", True),
    ("The remaining credit of $49 does not cover it.", True),
    ("There will be no $49 refund.", False),
    ("Since you didn't authorize the $49 charge, I refunded it.", True),
    ("I've refunded the $49 charge you didn't authorize.", True),
    ("If you don't see the $49 soon, write back.", True),
    ("I can't change your plan, but I refunded $49.", True),
    ("No worries—I've refunded $49.", True),
])
def test_negation_scope(answer: str, expected: bool) -> None:
    assert stated(AMOUNT, answer) is expected


def test_negation_does_not_cross_limits() -> None:
    window = Fact(id="window", kind="duration", forms=["30 days"])
    assert stated(window, "Refunds are not possible after 30 days.")
    assert stated(window, "We can't refund charges older than 30 days.")
    assert not stated(window, "It is not 30 days.")


def test_forms_containing_negation_match_themselves() -> None:
    declines = Fact(id="declines", forms=["can't refund", "unable to refund"])
    assert stated(declines, "Sorry, I can't refund all of these invoices.")
    assert stated(declines, "I'm unable to refund that.")
    assert not stated(declines, "I can refund that.")


def test_quotes_of_user_words_do_not_count() -> None:
    assert not stated(AMOUNT, f'You wrote: "{REQUEST}" Done.')
    assert not stated(AMOUNT, f"{REQUEST} Yes, done.")
    assert not stated(AMOUNT, 'About the "$49 charge" you mentioned: done.')
    assert stated(AMOUNT, f'You wrote: "{REQUEST}" I refunded the $49.')
    assert stated(AMOUNT, 'The system says "refund $49 issued".')   # quoted, but not the user's words


def test_forbidden_claims_are_negation_and_staleness_aware() -> None:
    assert claimed("60 days", "Refunds are possible within 60 days.")
    assert not claimed("60 days", "The window is 30 days, not 60 days.")
    assert not claimed("60 days", "The previous 60-day policy no longer applies.")
    assert not claimed("60 days", "The 60-day policy was superseded in January.")
    assert not claimed("10 business days", "It takes 5-10 business days.")
    assert claimed("RF-4409", "Your refund RF-4409-2 is on its way.")
    assert claimed("has been refunded", "Your invoice has been refunded.")
    assert not claimed("has been refunded", "Your invoice has not been refunded.")
    assert claimed("$94", "You'll get $94 back.") and not claimed("$94", "You'll get $49 back.")
    # "prior" is an ordinary word ("prior authorization"), not a marker of an outdated value.
    assert claimed("14 calendar days", "Prior authorization decisions take 14 calendar days.")


def test_fuzzy_text_needs_its_numbers_and_no_added_negation() -> None:
    fact = Fact(id="f", forms=["no need to return the lamp"])
    assert stated(fact, "There's no need to return the lamps.")
    assert not stated(fact, "There's no need to send the photo.")
    claim_form = "address has been updated"
    assert claimed(claim_form, "Your shipping address has been updated.")
    assert not claimed(claim_form, "Your shipping address has not been updated.")


@pytest.mark.parametrize(("answer", "verbs"), [
    ("I've refunded $49.", ["refunded"]),
    ("We went ahead and cancelled the order.", ["cancelled"]),
    ("Your password has been reset.", ["reset"]),
    ("The subscription is now cancelled.", ["cancelled"]),
    ("Your refund is on its way.", ["refund"]),
    ("Your refund reference is RF-1.", ["refund"]),
    ("I have not refunded it yet.", []),
    ("Once I've refunded it, you'll get an email.", []),
    ("I can refund it if you confirm.", []),
    ("Invoice 4471 was issued on June 2.", []),
    ("Your card was charged $49 on June 2.", []),
    ("I looked up the invoice and checked the policy.", []),
    # any past form with a first-person agent, not a fixed list; looking and talking claim nothing
    ("I dispatched a new lamp and emailed you the tracking link.", ["dispatched", "emailed"]),
    ("I've sent the replacement.", ["sent"]),
    ("I noticed the duplicate, explained the policy and reviewed your account.", []),
    # another subject between two verbs: the second is not the agent's
    ("I refunded the seat that your admin added and approved.", ["refunded"]),
    ("I checked the booking you changed and cancelled.", []),
    ("Since Priya, who approved his departure, confirmed it, I revoked his accounts.", ["revoked"]),
    # "we" with a simple past only for support actions (it often means the company's earlier acts)
    ("We noticed a double charge and we refunded it.", ["refunded"]),
    # writing the answer itself is not an action on the world
    ("I've put together the steps below and drafted a checklist.", []),
    ("I've taken a look at your booking, made sure of the dates and shared the steps below.", []),
    ("I've shared your case with the billing team.", ["shared"]),
    # the agent's organisation, in the perfect, claims for it
    ("Our billing team has issued the credit.", ["issued"]),
    ("Our team will review it.", []),
])
def test_action_claims(answer: str, verbs: list[str]) -> None:
    assert [c.verb for c in find_action_claims(AnswerText(answer))] == verbs


def test_asks_or_declines_ignores_pleasantries() -> None:
    assert asks_or_declines(AnswerText("Which invoice do you mean?"))
    assert asks_or_declines(AnswerText("Unfortunately I can't do that."))
    assert asks_or_declines(AnswerText("I have not issued a refund of $49."))
    assert not asks_or_declines(AnswerText("Refunded. Is there anything else I can help with?"))
    assert not asks_or_declines(AnswerText("Refunded. Let me know if you have any questions!"))


def test_stem_relates_word_forms() -> None:
    assert stem("refunded") == stem("refunds") == stem("refund")
    assert stem("cancelled") == stem("cancel")
    assert stem("issued") == stem("issue")
