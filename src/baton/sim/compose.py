"""The oracle's replies to the user: the gold outcome, stated with the gold facts it can see.

A reply never claims an action (what was done shows in the tool results the user is quoted) and
states each fact on its own line. Text mistakes (:data:`baton.sim.knobs.TEXT_MISTAKES`) change
one fact: dropped, a wrong value taken from nearby text, or an outdated statement visible in
context added.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal

from baton.sim.seen import Seen, visible_form
from baton.task import Fact, GoldenTask

OPENINGS = {
    "act": "Here is where your request stands.",
    "answer": "Here is what I found.",
    "refuse": "I am sorry, but I cannot do that under the current policy.",
    "ask": "Could you please send me the details I need before I go ahead?",
    "escalate": "A specialist will follow up with you on this.",
}
MISSING_INFO = "Could you please tell me the {what} so that I can go ahead?"
UNSURE = "Could you tell me a little more about what you need?"
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def near_duplicates(value: str, candidates: list[str]) -> list[str]:
    """Tokens shaped like ``value`` (same length, letters and digits in the same places), closest first."""
    shape = [ch.isdigit() for ch in value]
    same = [c for c in candidates if len(c) == len(value) and c.lower() != value.lower()
            and [ch.isdigit() for ch in c] == shape]
    return sorted(same, key=lambda c: sum(a != b for a, b in zip(c.lower(), value.lower(), strict=True)))


def _wrong_value(fact: Fact, form: str, seen: Seen, rng: random.Random) -> str | None:
    """``form`` with its value swapped for another one visible in context, or None."""
    number = _NUMBER.search(form)
    if fact.kind in ("money", "number", "duration") and number:
        own = Decimal(number.group(0).replace(",", ""))
        others = [n for n in seen.numbers() if n != own and n > 0]
        if others:
            other = rng.choice(others)
            return form[:number.start()] + format(other.normalize(), "f") + form[number.end():]
    if fact.kind == "id":
        near = near_duplicates(form.lstrip("#"), seen.ids())
        if near:
            return near[0]
    return None


def reply(task: GoldenTask, seen: Seen, knobs_rates: dict[str, float], u: float, rng: random.Random,
          *, outcome: str | None = None) -> str:
    """The reply for the gold outcome (or ``outcome``), with one text mistake when ``u`` falls in a rate."""
    gold = task.gold
    stated: list[str] = []
    facts = [(fact, form) for fact in gold.facts if (form := visible_form(fact, seen)) is not None]
    dropped, wrong, stale = (knobs_rates["dropped_fact"], knobs_rates["invented_fact"],
                             knobs_rates["stale_claim"])
    mistake = None
    if facts:
        if u < dropped:
            mistake = "dropped"
        elif u < dropped + wrong:
            mistake = "wrong"
        elif u < dropped + wrong + stale:
            mistake = "stale"
    victim = rng.randrange(len(facts)) if mistake else -1
    for i, (fact, form) in enumerate(facts):
        if i == victim and mistake == "wrong":
            form = _wrong_value(fact, form, seen, rng) or ""
        elif i == victim and mistake == "stale":
            visible = [c for c in gold.forbidden_claims if c.lower() in seen.text]
            if visible:
                stated.append(f"As stated: {rng.choice(visible)}.")
            else:
                form = ""
        elif i == victim:
            form = ""
        if form:
            stated.append(f"Detail: {form}.")
    lines = [OPENINGS[outcome or gold.outcome], *stated]
    return "\n".join(lines)
