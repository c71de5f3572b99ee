"""Hop reliability: for every hop of a run, one yes/no "did this hop do its job", judged from gold.

A hop is *not applicable* (``ok`` None, counted apart, never a free success) when the system has
no hop of that purpose (:mod:`baton.graders.purposes`) or gold gives it nothing to judge.

* ``route``: the first ``intent_route`` hop chose gold's route label. Model-selection hops are
  never judged here (their choice is recorded in ``RunGrade.choices``).
* ``retrieve``: every gold evidence document was retrieved by the retrieval step (retrieve hops
  and the lookups made as part of it: tool hops whose purpose is ``retrieve``), and, on a task
  without tools, every gold evidence record too. On a task with tools, records are looked up
  through them, which is acting (gold's tool calls name the lookups a correct run makes), so
  records are judged there, not twice, and alike in every mode and architecture. Not
  applicable when gold lists no evidence of the judged kinds.
* ``act``: every gold tool call was made (in order when gold is ordered) with no extra
  side-effecting call and no forbidden action (:func:`baton.graders.tools.match_tool_calls`).
  Applicable whenever the system has an acting hop: on a task whose gold makes no call, its job
  is to write nothing.
* ``draft``: the reply passes every fact check of system success (:data:`DRAFT_CHECK_PREFIXES`:
  ``facts``, ``no_forbidden_claim`` and any other ``fact*`` / ``*wrong_fact*`` check the system
  grader defines), computed by :func:`baton.graders.system.evaluate_system`, never by a second
  matcher. The reply judged is the one the first verify hop saw (the last drafted text before
  it), else the final answer. Not applicable when gold has no fact and no forbidden claim.
* ``verify``: the first verify hop's verdict was right: ``fail`` on a failing state, ``pass`` on a
  passing one (:mod:`baton.graders.verifier`). Not applicable without a verify hop or verdict.
"""

from __future__ import annotations

from baton.graders.calls import ObservedCall, forbidden_hits
from baton.graders.facts import Extracted
from baton.graders.purposes import chosen_label, hop_purpose
from baton.graders.retrieval import retrieved_evidence
from baton.graders.spans import AnswerText
from baton.graders.system import SystemVerdict, evaluate_system
from baton.graders.tools import match_tool_calls
from baton.result import Check, HopReliability
from baton.task import GoldenTask
from baton.trace import Trace

DRAFT_CHECK_NAMES = ("facts", "no_forbidden_claim")
DRAFT_CHECK_PREFIXES = ("fact", "no_wrong_fact", "wrong_fact", "no_forbidden_claim")


def is_draft_check(check: Check) -> bool:
    """Whether a system-success check judges the reply's facts (the draft hop's job)."""
    return check.name in DRAFT_CHECK_NAMES or check.name.startswith(DRAFT_CHECK_PREFIXES) \
        or "wrong_fact" in check.name


def _na(hop: str, why: str) -> HopReliability:
    return HopReliability(hop=hop, ok=None, detail=f"not applicable: {why}")  # type: ignore[arg-type]


def draft_text_index(trace: Trace) -> int | None:
    """Index of the reply the first verify hop judged (the last generate hop with text before it);
    None without a verify hop."""
    verify = next((i for i, h in enumerate(trace.hops) if h.kind == "verify"), None)
    if verify is None:
        return None
    return next((i for i in range(verify - 1, -1, -1)
                 if trace.hops[i].kind == "generate" and trace.hops[i].output.get("text")), None)


def draft_checks(task: GoldenTask, trace: Trace, calls: list[ObservedCall], text: str,
                 user_texts: list[str]) -> list[Check]:
    """The system grader's fact checks of ``text`` as a reply."""
    verdict = evaluate_system(task, trace, calls, Extracted(AnswerText(text, user_texts)))
    return [c for c in verdict.checks if is_draft_check(c)]


def gold_judges_reply(task: GoldenTask) -> bool:
    """Gold gives the reply something to judge: a fact or a forbidden claim."""
    return bool(task.gold.facts or task.gold.forbidden_claims)


def route_reliability(task: GoldenTask, trace: Trace) -> HopReliability:
    hops = [h for h in trace.hops if hop_purpose(h) == "intent_route"]
    if not hops:
        return _na("route", "no intent-routing hop")
    chosen = chosen_label(hops[0])
    ok = chosen is not None and chosen.casefold() == task.gold.route.casefold()
    return HopReliability(hop="route", ok=ok, detail=f"chose {chosen!r}, gold {task.gold.route!r}")


def retrieve_reliability(task: GoldenTask, trace: Trace, calls: list[ObservedCall]) -> HopReliability:
    if not any(hop_purpose(h) == "retrieve" for h in trace.hops):
        return _na("retrieve", "no retrieval hop")
    documents = {d.id for d in task.documents}
    judged = [e for e in task.gold.evidence if e in documents or not task.tools]
    if not judged:
        return _na("retrieve", "gold lists no evidence document" if task.tools else "gold lists no evidence")
    own = [c for c in calls if hop_purpose(trace.hops[c.hop]) == "retrieve"]
    docs_trace = trace.model_copy(update={"hops": [h for h in trace.hops if hop_purpose(h) == "retrieve"]})
    got = set(retrieved_evidence(task, docs_trace, []))
    got.update(retrieved_evidence(task, trace.model_copy(update={"hops": []}), own))
    missing = [e for e in judged if e not in got]
    return HopReliability(hop="retrieve", ok=not missing,
                          detail=f"missing {', '.join(missing)}" if missing else f"retrieved {', '.join(judged)}")


def act_reliability(task: GoldenTask, trace: Trace, calls: list[ObservedCall]) -> HopReliability:
    if not any(hop_purpose(h) == "act" for h in trace.hops):
        return _na("act", "no acting hop")
    match = match_tool_calls(task, task.gold.tool_calls, calls, task.gold.ordered)
    forbidden = forbidden_hits(task, calls)
    problems = [f"missing {g.name}" for g in match.unmatched_gold]
    problems += [f"extra side effect {o.name}" for o in match.extra_writes]
    problems += [f"forbidden {c.name}" for c, _ in forbidden]
    if not match.order_ok:
        problems.append("gold calls out of order")
    ok = match.passed(len(task.gold.tool_calls)) and not forbidden
    return HopReliability(hop="act", ok=ok, detail="; ".join(problems) or "gold calls made, nothing extra")


def draft_reliability(task: GoldenTask, trace: Trace, calls: list[ObservedCall], verdict: SystemVerdict,
                      user_texts: list[str]) -> HopReliability:
    if not gold_judges_reply(task):
        return _na("draft", "gold has no fact and no forbidden claim")
    if not any(hop_purpose(h) == "draft" for h in trace.hops) and not trace.answer.strip():
        return _na("draft", "no drafting hop")
    index = draft_text_index(trace)
    text = str(trace.hops[index].output.get("text")) if index is not None else trace.answer
    checks = ([c for c in verdict.checks if is_draft_check(c)] if text == trace.answer
              else draft_checks(task, trace, calls, text, user_texts))
    if not checks:
        return _na("draft", "the system grader has no fact check")
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.passed]
    where = "the reply the verifier judged" if index is not None else "the final answer"
    return HopReliability(hop="draft", ok=not failed, detail="; ".join(failed) or f"{where} states every fact")


def verify_reliability(outcome: object | None) -> HopReliability:
    """``outcome``: a :class:`baton.graders.verifier.VerifierOutcome` or None."""
    if outcome is None:
        return _na("verify", "no verify hop with a pass/fail verdict")
    flagged, failing = outcome.flagged, outcome.pre_failing  # type: ignore[attr-defined]
    said = "fail" if flagged else "pass"
    state = "failing" if failing else "passing"
    return HopReliability(hop="verify", ok=flagged == failing, detail=f"said {said} on a {state} state")


def model_choices(trace: Trace) -> dict[str, str]:
    """Model-selection hop name -> the branch it chose (first occurrence of each hop name)."""
    choices: dict[str, str] = {}
    for hop in trace.hops:
        if hop_purpose(hop) == "model_select" and hop.name not in choices:
            label = chosen_label(hop)
            if label is not None:
                choices[hop.name] = label
    return choices


def hop_reliability(task: GoldenTask, trace: Trace, calls: list[ObservedCall], verdict: SystemVerdict,
                    verifier: object | None, user_texts: list[str]) -> dict[str, HopReliability]:
    """Every hop's verdict for one run (see the module docstring)."""
    items = [route_reliability(task, trace), retrieve_reliability(task, trace, calls),
             act_reliability(task, trace, calls), draft_reliability(task, trace, calls, verdict, user_texts),
             verify_reliability(verifier)]
    return {item.hop: item for item in items}
