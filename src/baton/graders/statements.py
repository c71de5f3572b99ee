"""What the answer states, against gold: facts (required and optional), values that contradict
them, forbidden claims, and (on ``ask`` tasks) the fields it asks for.

* A required fact must be stated in one of its forms; an optional one (``required: false``) need
  not be, but must not be contradicted.
* A fact not stated whose kind the answer states with another value is *wrong*
  (:mod:`baton.graders.contradictions`): reported with the value found, and no longer counted as
  merely missing.
* Forbidden claims: plain strings or typed :class:`~baton.task.ForbiddenClaim` values and
  statements (:func:`baton.graders.facts.find_claim`).
* ``asks_for``: :mod:`baton.graders.asks`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from baton.graders.answer import FactReport
from baton.graders.asks import missing_asks
from baton.graders.contradictions import Contradiction, find_contradictions
from baton.graders.facts import Extracted, Hit, find_claim, find_fact
from baton.task import GoldenTask


@dataclass(frozen=True, slots=True)
class Statements:
    """The answer's statements against gold. ``report`` is what the answer component scores:
    wrong facts count there as missing."""

    report: FactReport
    missing: list[str]  # required facts not stated and not contradicted
    wrong: list[Contradiction]
    unasked: list[str]  # asks_for fields the reply did not ask for

    def facts_detail(self) -> str:
        parts = [f"wrong: {w.fact} stated as {w.value!r} (gold: {w.expected!r})" for w in self.wrong]
        if self.missing:
            parts.append(f"missing: {', '.join(self.missing)}")
        return "; ".join(parts) or "all stated"


def check_statements(task: GoldenTask, found: Extracted, evidence: Callable[[], list[str]]) -> Statements:
    """Facts, contradictions, forbidden claims and asks of ``found`` (see the module docstring).
    ``evidence`` gives what the run had seen; it is called only if a fact is not stated."""
    gold = task.gold
    hits: dict[str, Hit] = {}
    unstated = []
    for fact in gold.facts:
        hit = find_fact(fact, found)
        if hit is None:
            unstated.append(fact)
        else:
            hits[fact.id] = hit
    wrong = find_contradictions(gold.facts, unstated, found, evidence()) if unstated else []
    wrong_ids = {w.fact for w in wrong}
    missing = [f.id for f in unstated if f.required and f.id not in wrong_ids]
    claims = {}
    for claim in gold.forbidden_claims:
        hit = find_claim(claim, found)
        if hit is not None:
            claims[claim] = hit
    report = FactReport(hits, [f.id for f in unstated if f.required or f.id in wrong_ids], claims)
    unasked = missing_asks(gold.asks_for, found.answer) if gold.outcome == "ask" else []
    return Statements(report, missing, wrong, unasked)
