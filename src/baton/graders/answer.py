"""The answer: fact coverage, forbidden claims and groundedness.

*Coverage* is the share of gold facts the answer states (:mod:`baton.graders.facts`).
*Groundedness* is the share of the answer's typed values (money, dates, ids, other numbers) that
the run had seen: the user's messages, the policy, the customer record, the world's date, the
tool results and errors, and the documents it retrieved (every document of the task when the
architecture has no retrieve hop, and the chunk texts as well when hops carry them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from baton.graders.calls import ObservedCall
from baton.graders.facts import Extracted, Hit, find_claim, find_fact
from baton.graders.text import canonical
from baton.graders.values import Date, Found, compact, find_dates, find_id_tokens, find_numbers
from baton.result import ComponentScore
from baton.task import GoldenTask
from baton.trace import Trace

_RANGE = re.compile(r"[\d.,-]+")
_ORDINAL = re.compile(r"#?\d+(?:st|nd|rd|th)")
_DIGIT_CORE = re.compile(r"#?(?:[a-z]{1,12}[-_]?)?#?(\d+)")


@dataclass(frozen=True, slots=True)
class Evidence:
    numbers: frozenset[Decimal]
    dates: tuple[Date, ...]
    ids: frozenset[str]


@lru_cache(maxsize=4096)
def _evidence_of(text: str) -> Evidence:
    canon = canonical(text)
    return Evidence(frozenset(f.value for f in find_numbers(canon)),  # type: ignore[misc]
                    tuple(f.value for f in find_dates(canon)),  # type: ignore[misc]
                    frozenset(compact(str(f.value)) for f in find_id_tokens(canon)))


def evidence_texts(task: GoldenTask, trace: Trace, calls: list[ObservedCall]) -> list[str]:
    """Everything the run had seen (see the module docstring)."""
    texts = [task.request, *(t.content for t in task.conversation if t.role == "user"),
             task.policy or "", task.world.today.isoformat()]
    if task.customer is not None:
        texts.append(json.dumps(task.customer.model_dump(), default=str))
    retrieves = trace.hops_of("retrieve")
    if not retrieves:
        texts.extend(doc.text for doc in task.documents)
    known = {doc.id: doc.text for doc in task.documents}
    for hop in retrieves:
        texts.extend(known[d] for d in hop.output.get("doc_ids") or [] if d in known)
        texts.extend(str(c.get("text", "")) for c in hop.output.get("chunks") or [] if isinstance(c, dict))
    for call in calls:
        texts.append(json.dumps(call.result, default=str) if call.ok else str(call.error))
    return [t for t in texts if t]


def _merge(parts: list[Evidence]) -> Evidence:
    return Evidence(frozenset().union(*(p.numbers for p in parts)),
                    tuple(d for p in parts for d in p.dates),
                    frozenset().union(*(p.ids for p in parts)))


def _inside(item: Found, spans: list[Found]) -> bool:
    return any(s.start <= item.start and item.end <= s.end for s in spans)


def answer_values(found: Extracted) -> list[tuple[str, Found]]:
    """The answer's typed values: ("money"|"date"|"id"|"number", found)."""
    money, dates = found.money, found.dates
    ids = [t for t in found.ids if not _inside(t, money) and not _inside(t, dates)
           and not _RANGE.fullmatch(str(t.value)) and not _ORDINAL.fullmatch(str(t.value))]
    numbers = [n for n in found.numbers
               if not _inside(n, money) and not _inside(n, dates) and not _inside(n, ids)]
    values = [("money", m) for m in money] + [("date", d) for d in dates]
    values += [("id", t) for t in ids] + [("number", n) for n in numbers]
    return sorted(values, key=lambda v: v[1].start)


def _grounded(kind: str, item: Found, evidence: Evidence) -> bool:
    if kind == "money":
        return item.value.amount in evidence.numbers  # type: ignore[attr-defined]
    if kind == "date":
        return any(item.value.matches(d) for d in evidence.dates)  # type: ignore[attr-defined]
    if kind == "number":
        return item.value in evidence.numbers
    token = str(item.value)
    if compact(token) in evidence.ids:
        return True
    core = _DIGIT_CORE.fullmatch(token)
    return bool(core) and (Decimal(core.group(1)) in evidence.numbers)


def groundedness(found: Extracted, texts: list[str]) -> tuple[float | None, list[str]]:
    """(share of grounded values or None when there are none, the ungrounded values)."""
    values = answer_values(found)
    if not values:
        return None, []
    evidence = _merge([_evidence_of(t) for t in texts])
    text = found.answer.text
    ungrounded = [text[item.start:item.end] for kind, item in values if not _grounded(kind, item, evidence)]
    return 1.0 - len(ungrounded) / len(values), ungrounded


@dataclass(frozen=True, slots=True)
class FactReport:
    found: dict[str, Hit]
    missing: list[str]
    claims: dict[str, Hit]

    @property
    def coverage(self) -> float | None:
        total = len(self.found) + len(self.missing)
        return len(self.found) / total if total else None


def check_facts(task: GoldenTask, found: Extracted) -> FactReport:
    """Which gold facts the answer states, and which forbidden claims it makes."""
    hits, missing = {}, []
    for fact in task.gold.facts:
        hit = find_fact(fact, found)
        if hit is None:
            if fact.required:
                missing.append(fact.id)
        else:
            hits[fact.id] = hit
    claims = {}
    for claim in task.gold.forbidden_claims:
        hit = find_claim(claim, found)
        if hit is not None:
            claims[claim] = hit
    return FactReport(hits, missing, claims)


def grade_answer(report: FactReport, found: Extracted, texts: list[str]) -> ComponentScore:
    """Score: fact coverage (1.0 without gold facts), 0 when a forbidden claim is made."""
    coverage = report.coverage
    score = 0.0 if report.claims else (1.0 if coverage is None else coverage)
    grounded, ungrounded = groundedness(found, texts)
    detail = []
    if report.missing:
        detail.append(f"missing facts: {', '.join(report.missing)}")
    if report.claims:
        detail.append(f"forbidden claims: {', '.join(repr(c) for c in report.claims)}")
    if ungrounded:
        detail.append(f"ungrounded: {', '.join(ungrounded)}")
    return ComponentScore(
        component="answer", score=score, passed=not report.missing and not report.claims,
        metrics={"fact_coverage": coverage, "forbidden_claims": float(len(report.claims)),
                 "groundedness": grounded, "ungrounded_values": float(len(ungrounded))},
        detail="; ".join(detail) or "all facts stated, all values grounded")
