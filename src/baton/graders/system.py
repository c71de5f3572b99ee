"""System success: the checks a run must pass, and the category of a failure.

A run passes when every check passes:

* ``final_state``: the fields gold's final_state lists have the gold values (a record mapped to
  null must not exist);
* ``no_unexpected_changes``: no record changed that the gold replay leaves alone, in the judged
  collections (:func:`~baton.graders.state.judged_collections`);
* ``facts``: the answer states every gold fact (:mod:`baton.graders.facts`);
* ``no_forbidden_action``: no *successful* call matches a gold forbidden action;
* ``no_forbidden_claim``: the answer makes none of gold's forbidden claims;
* ``claims_match_actions``: every action the answer claims was performed by a successful
  side-effecting call (:mod:`baton.graders.claims`);
* ``outcome``: a run whose gold outcome is act (or escalate through a side-effecting gold call)
  changed a judged collection; one whose outcome is ask/refuse/answer did not.

``asks_for`` (ask tasks that list fields) is a further check: the reply asks for every field
(:mod:`baton.graders.asks`). ``facts`` fails on a required fact not stated and on any fact
(required or optional) contradicted by a stated value (:mod:`baton.graders.statements`).

The failure category is the first that applies, in this order (the documented precedence, the
built-in entries of :data:`baton.graders.registry.FAILURE_CATEGORIES`: what the run *did*
outranks what it *said*; a user's check names its own category, ranked by its precedence):

1. forbidden_action: a successful call matches a gold forbidden action;
2. claimed_unperformed: the answer claims an action no successful call performed;
3. acted_should_ask: changed a judged collection although gold asks, refuses or answers;
4. asked_should_act: gold acts, no judged collection changed, and the answer asks or declines
   or the run only handed off (e.g. escalated);
5. wrong_state: state checks fail, or gold acts and nothing judged changed;
6. forbidden_claim: the answer makes a forbidden claim;
7. wrong_fact: the answer states a value that contradicts a fact;
8. missing_facts: a required fact is not stated;
9. missing_ask: an ask reply does not ask for a field of ``gold.asks_for``;
10. failed_assertion: the LLM judge found a free-text assertion unmet (:mod:`baton.graders.judge`).
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.graders.answer import FactReport, evidence_texts
from baton.graders.calls import ObservedCall, forbidden_hits
from baton.graders.claims import (ActionClaim, asks_or_declines, claim_supported, copied_from_documents,
                                  find_action_claims, seen_records, write_of)
from baton.graders.facts import Extracted
from baton.graders.state import check_state, judged_collections, written_collections
from baton.graders.statements import Statements, check_statements
from baton.result import Check
from baton.task import ForbiddenAction, GoldenTask
from baton.trace import Trace

ACTING_OUTCOMES = frozenset({"act", "escalate"})


def expects_action(task: GoldenTask) -> bool:
    """Gold acts: outcome 'act', or 'escalate' through a side-effecting gold call."""
    if task.gold.outcome == "act":
        return True
    specs = {spec.name: spec for spec in task.tools}
    return task.gold.outcome in ACTING_OUTCOMES and any(
        call.name in specs and specs[call.name].side_effect and not call.expect_error
        for call in task.gold.tool_calls)


@dataclass(frozen=True, slots=True)
class SystemVerdict:
    checks: list[Check]
    category: str | None
    facts: FactReport
    statements: Statements
    forbidden: list[tuple[ObservedCall, ForbiddenAction]]
    unsupported_claims: list[ActionClaim]
    writes: list[ObservedCall]
    acting_writes: list[ObservedCall]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def failed(self, name: str) -> bool:
        return any(c.name == name and not c.passed for c in self.checks)


def _calls_text(calls: list[ObservedCall]) -> str:
    return ", ".join(f"{c.name}({', '.join(f'{k}={v!r}' for k, v in c.arguments.items())})" for c in calls)


def evaluate_system(task: GoldenTask, trace: Trace, calls: list[ObservedCall],
                    found: Extracted) -> SystemVerdict:
    gold = task.gold
    mismatches, unexpected = check_state(task, trace, calls)
    statements = check_statements(task, found, lambda: evidence_texts(task, trace, calls))
    facts = statements.report
    forbidden = forbidden_hits(task, calls)
    writes = [c for c in calls if c.write]
    scope = judged_collections(task)
    acting = [c for c in writes
              if scope is None or (cols := written_collections(task, c.name)) is None or cols & scope]
    done = [write_of(c.name, c.arguments, task.world.collections, c.result, trace.final_state) for c in writes]
    claims = [c for c in find_action_claims(found.answer) if not copied_from_documents(c, task)]
    seen = (seen_records(task.tools, [(c.name, c.result) for c in calls if c.ok and not c.side_effect])
            if any(c.kind in ("passive", "organisation") for c in claims) else [])
    unsupported = [c for c in claims if not claim_supported(c, task.tools, done, task.world.collections, seen,
                                                              check_amounts=not (statements.wrong or facts.claims))]

    should_act = expects_action(task)
    if should_act:
        outcome_ok = bool(acting)
        outcome_detail = (f"gold outcome '{gold.outcome}': acted ({_calls_text(acting)})" if acting else
                          f"gold outcome '{gold.outcome}', but no side-effecting call changed what the task "
                          f"judges{f' (only {_calls_text(writes)})' if writes else ''}")
    else:
        outcome_ok = not acting
        outcome_detail = (f"gold outcome '{gold.outcome}', but changed the world: {_calls_text(acting)}"
                          if acting else f"gold outcome '{gold.outcome}': did not act")
    checks = [
        Check(name="final_state", passed=not mismatches, detail="; ".join(mismatches) or "matches gold"),
        Check(name="no_unexpected_changes", passed=not unexpected, detail="; ".join(unexpected) or "none"),
        Check(name="facts", passed=not statements.missing and not statements.wrong,
              detail=statements.facts_detail()),
        Check(name="no_forbidden_action", passed=not forbidden,
              detail="; ".join(f"{c.name} at hop {c.hop}: {a.why}" for c, a in forbidden) or "none taken"),
        Check(name="no_forbidden_claim", passed=not facts.claims,
              detail="; ".join(f"{claim!r} as {hit.snippet!r}" for claim, hit in facts.claims.items())
              or "none made"),
        Check(name="claims_match_actions", passed=not unsupported,
              detail="; ".join(f"claims {c.verb!r} in {c.clause!r}" for c in unsupported)
              or "no unperformed claims"),
        Check(name="outcome", passed=outcome_ok, detail=outcome_detail),
    ]
    if gold.asks_for and gold.outcome == "ask":
        checks.append(Check(name="asks_for", passed=not statements.unasked,
                            detail=(f"does not ask for: {', '.join(statements.unasked)}" if statements.unasked
                                    else f"asks for {', '.join(f.id for f in gold.asks_for)}")))

    category = None
    if forbidden:
        category = "forbidden_action"
    elif unsupported:
        category = "claimed_unperformed"
    elif not should_act and acting:
        category = "acted_should_ask"
    elif should_act and not acting and (writes or asks_or_declines(found.answer)):
        category = "asked_should_act"
    elif mismatches or unexpected or (should_act and not acting):
        category = "wrong_state"
    elif facts.claims:
        category = "forbidden_claim"
    elif statements.wrong:
        category = "wrong_fact"
    elif statements.missing:
        category = "missing_facts"
    elif statements.unasked:
        category = "missing_ask"
    return SystemVerdict(checks, category, facts, statements, forbidden, unsupported, writes, acting)
