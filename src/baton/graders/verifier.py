"""The verifier: was its verdict right about what it was shown?

The state the first verify hop judged is the run up to that hop: the latest generate hop's text
before it (the draft) and the tool calls made before it, or, when none was made yet, the calls
the draft requested (a plan verified before acting). That state is *failing* when it took a
forbidden action, its calls diverge from gold (a gold call missing, out of order, or an extra
side effect), or the draft fails a fact check of system success (a gold fact missing or wrong, a
forbidden claim: the same checks as the draft hop's reliability,
:func:`baton.graders.reliability.draft_checks`).

Per run: ``flagged`` (verdict 'fail'), ``pre_failing``, ``catch`` (flagged, when pre_failing;
else None) and ``false_alarm`` (flagged, when not pre_failing; else None). Averaged over runs,
``catch`` is the catch rate and ``false_alarm`` the false-alarm rate. The score is 1.0 when the
verdict was right.
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.graders.calls import ObservedCall, forbidden_hits
from baton.graders.tools import expected_calls, match_tool_calls
from baton.result import ComponentScore
from baton.task import GoldenTask
from baton.trace import Trace


_VERDICTS = {"pass": "pass", "passed": "pass", "ok": "pass", "true": "pass",
             "fail": "fail", "failed": "fail", "false": "fail"}


@dataclass(frozen=True, slots=True)
class VerifierOutcome:
    flagged: bool
    pre_failing: bool
    reasons: list[str]

    @property
    def correct(self) -> bool:
        return self.flagged == self.pre_failing


def _planned(task: GoldenTask, trace: Trace, draft_index: int | None) -> list[ObservedCall]:
    if draft_index is None:
        return []
    specs = {spec.name: spec for spec in task.tools}
    planned = []
    for call in trace.hops[draft_index].output.get("tool_calls") or []:
        if not isinstance(call, dict) or not call.get("name"):
            continue
        name = str(call["name"])
        args = call.get("arguments")
        planned.append(ObservedCall(draft_index, name, args if isinstance(args, dict) else {}, None, None,
                                    bool(specs[name].side_effect) if name in specs else False))
    return planned


def judge_pre_verify(task: GoldenTask, trace: Trace, calls: list[ObservedCall], verify_index: int,
                     user_texts: list[str]) -> tuple[bool, list[str]]:
    """(whether the state the verifier judged was failing, why)."""
    draft_index = next((i for i in range(verify_index - 1, -1, -1)
                        if trace.hops[i].kind == "generate" and trace.hops[i].output.get("text")), None)
    before = [c for c in calls if c.hop < verify_index]
    judged = before or _planned(task, trace, draft_index)
    reasons = []
    if forbidden_hits(task, judged):
        reasons.append("forbidden action")
    gold_calls = expected_calls(task)
    match = match_tool_calls(task, gold_calls, judged, task.gold.ordered)
    if not match.passed(len(gold_calls)):
        reasons.append("tool calls diverge from gold")
    from baton.graders.reliability import draft_checks  # it imports the system grader

    draft = str(trace.hops[draft_index].output.get("text")) if draft_index is not None else ""
    reasons += [f"draft fails {c.name} ({c.detail})" for c in draft_checks(task, trace, calls, draft, user_texts)
                if not c.passed]
    return bool(reasons), reasons


def verifier_outcome(task: GoldenTask, trace: Trace, calls: list[ObservedCall],
                     user_texts: list[str]) -> VerifierOutcome | None:
    """None when the trace has no verify hop with a 'pass'/'fail' verdict."""
    index = next((i for i, h in enumerate(trace.hops) if h.kind == "verify"), None)
    if index is None:
        return None
    verdict = _VERDICTS.get(str(trace.hops[index].output.get("verdict", "")).strip().lower())
    if verdict is None:
        return None
    failing, reasons = judge_pre_verify(task, trace, calls, index, user_texts)
    return VerifierOutcome(verdict == "fail", failing, reasons)


def grade_verifier(outcome: VerifierOutcome | None, has_verify_hop: bool) -> ComponentScore | None:
    if outcome is None:
        if not has_verify_hop:
            return None
        return ComponentScore(component="verifier", score=None, passed=None,
                              detail="verify hop without a 'pass'/'fail' verdict")
    flagged, failing = float(outcome.flagged), outcome.pre_failing
    said = "fail" if outcome.flagged else "pass"
    state = f"failing ({'; '.join(outcome.reasons)})" if failing else "fine"
    return ComponentScore(
        component="verifier", score=float(outcome.correct), passed=outcome.correct,
        metrics={"flagged": flagged, "pre_failing": float(failing),
                 "catch": flagged if failing else None, "false_alarm": None if failing else flagged},
        detail=f"said {said}; the state it judged was {state}")
