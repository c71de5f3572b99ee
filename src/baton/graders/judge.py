"""Optional LLM judge for open-ended answers (off by default).

:func:`judge_answer` asks any :class:`~baton.model.ModelClient` for a structured verdict on a
run's answer, given the task's request, gold outcome, required facts, forbidden claims and the
actions the run performed. It returns a typed record (:class:`~baton.result.JudgeVerdict`) of
the judge's vendor, model, prompt and verdict, which callers store as ``RunGrade.judge`` (:func:`grade_run_with_judge` does both).

The judge is the async grader ``judge`` (:func:`judge`, registered in
:mod:`baton.graders.async_graders`, which imports this module when it first runs): the engine
awaits it, when ``--judge PROFILE`` names its model, through that registry.

The judge's overall verdict is advice, never part of system success. A task's free-text
``gold.assertions`` ("tells the customer the exception needs the billing team") are the
exception: the judge rules on each, and :func:`apply_judge` turns its rulings into the
``assertions`` check (an unmet one fails the run, category ``failed_assertion`` when nothing
outranks it). Without a judge, or when the judge gives no ruling, an assertion stays in
``RunGrade.unjudged``: reported as unjudged, never passed.
"""

from __future__ import annotations

import json
from typing import Any

from baton.graders import grade_run
from baton.graders.async_graders import GradingContext
from baton.graders.calls import observed_calls
from baton.model import InfraError, Message, ModelClient
from baton.result import Check, JudgeVerdict, RunGrade
from baton.task import GoldenTask
from baton.trace import Trace

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "reasons": {"type": "string"},
        "missing": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["verdict", "score", "reasons", "missing"],
    "additionalProperties": False,
}

_SYSTEM = (
    "You grade one answer of a customer-support system against a reference. Judge only what the "
    "answer says and the actions listed as performed. The answer passes if it states every "
    "required fact (any wording), makes none of the forbidden claims, does not claim actions that "
    "were not performed, and takes the expected course (act, answer, refuse, ask or escalate). "
    "Reply with JSON only: {\"verdict\": \"pass\"|\"fail\", \"score\": 0..1, \"reasons\": str, "
    "\"missing\": [required fact ids not stated]}."
)


_ASSERTIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "object",
              "properties": {"index": {"type": "integer"}, "met": {"type": "boolean"},
                             "reason": {"type": "string"}},
              "required": ["index", "met", "reason"], "additionalProperties": False},
}
_ASSERTIONS_INSTRUCTION = (
    " Also rule on each numbered assertion about the answer: \"assertions\": [{\"index\": n, "
    "\"met\": true|false, \"reason\": str}], one per assertion.")


def judge_schema(task: GoldenTask) -> dict[str, Any]:
    """The verdict schema for ``task``: :data:`JUDGE_SCHEMA`, plus per-assertion rulings when the
    task has free-text assertions."""
    if not task.gold.assertions:
        return JUDGE_SCHEMA
    return {**JUDGE_SCHEMA, "properties": {**JUDGE_SCHEMA["properties"], "assertions": _ASSERTIONS_SCHEMA},
            "required": [*JUDGE_SCHEMA["required"], "assertions"]}


def judge_messages(task: GoldenTask, trace: Trace) -> list[Message]:
    """The judge's prompt for one run."""
    gold = task.gold
    performed = [f"{c.name}({json.dumps(c.arguments, sort_keys=True)})"
                 for c in observed_calls(task, trace) if c.write]
    lines = [
        f"Customer request: {task.request}",
        *(f"Earlier {t.role} turn: {t.content}" for t in task.conversation),
        f"Operating policy: {task.policy or '(none)'}",
        f"Expected course: {gold.outcome}",
        "Required facts (id: accepted forms):",
        *(f"- {f.id}: {' | '.join(f.forms)}" for f in gold.facts if f.required),
        *(["Optional facts (need not be stated; if stated, must be right):",
           *(f"- {f.id}: {' | '.join(f.forms)}" for f in gold.facts if not f.required)]
          if any(not f.required for f in gold.facts) else []),
        "Forbidden claims:",
        *(f"- {c if isinstance(c, str) else ' | '.join(c.forms)}" for c in gold.forbidden_claims),
        *(["The reply must ask the user for:", *(f"- {a.id}: {' | '.join(a.forms)}" for a in gold.asks_for)]
          if gold.asks_for else []),
        f"Reference notes: {gold.notes or '(none)'}",
        f"Actions performed: {', '.join(performed) or 'none'}",
        *(["Assertions (rule on each):", *(f"{i}. {a}" for i, a in enumerate(gold.assertions, 1))]
          if gold.assertions else []),
        "Answer to grade:",
        trace.answer,
    ]
    system = _SYSTEM + (_ASSERTIONS_INSTRUCTION if gold.assertions else "")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


def _verdict(parsed: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(parsed, dict):
        return None, "the judge did not return a JSON object"
    verdict, score = parsed.get("verdict"), parsed.get("score")
    if verdict not in ("pass", "fail"):
        return None, f"verdict must be 'pass' or 'fail', got {verdict!r}"
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
        return None, f"score must be a number in [0, 1], got {score!r}"
    missing = parsed.get("missing") or []
    record = {"verdict": verdict, "score": float(score), "reasons": str(parsed.get("reasons", "")),
              "missing": [str(m) for m in missing] if isinstance(missing, list) else []}
    rulings = parsed.get("assertions")
    if isinstance(rulings, list):
        record["assertions"] = [
            {"index": r["index"], "met": r["met"], "reason": str(r.get("reason", ""))} for r in rulings
            if isinstance(r, dict) and isinstance(r.get("index"), int) and not isinstance(r.get("index"), bool)
            and isinstance(r.get("met"), bool)]
    return record, None


async def judge_answer(task: GoldenTask, trace: Trace, client: ModelClient) -> JudgeVerdict:
    """Ask ``client`` for a verdict on ``trace.answer``; never raises for the judge's failures.

    Returns the typed record (vendor, model, prompt, verdict, score, reasons, missing, raw,
    error, assertions); ``verdict`` is None (and ``error`` says why) when the judge was
    unavailable or answered badly.
    """
    messages = judge_messages(task, trace)
    record: dict[str, Any] = {"vendor": client.vendor_name, "model": client.model_name,
                              "prompt": messages, "verdict": None, "score": None, "reasons": "",
                              "missing": [], "raw": "", "error": None}
    try:
        response = await client.chat(messages, schema=judge_schema(task), schema_name="judge_verdict",
                                     temperature=0.0)
    except InfraError as exc:
        record["error"] = f"judge unavailable: {exc}"
        return JudgeVerdict.model_validate(record)
    record["raw"] = response.text
    parsed = response.parsed
    if parsed is None and response.text:
        try:
            parsed = json.loads(response.text)
        except json.JSONDecodeError:
            parsed = None
    verdict, error = _verdict(parsed)
    if verdict is None:
        record["error"] = error if response.error is None else f"{response.error}; {error}"
    else:
        record.update(verdict)
    return JudgeVerdict.model_validate(record)


def apply_judge(task: GoldenTask, grade: RunGrade, record: JudgeVerdict | dict[str, Any]) -> RunGrade:
    """``grade`` with the judge's ``record`` stored, and its rulings on ``gold.assertions`` turned
    into the ``assertions`` check (see the module docstring). Assertions it gave no ruling on stay
    unjudged."""
    if grade.status == "error":
        return grade
    verdict = record if isinstance(record, JudgeVerdict) else JudgeVerdict.model_validate(record)
    update: dict[str, Any] = {"judge": verdict}
    assertions = task.gold.assertions
    rulings = {r.index: r for r in verdict.assertions or []} if verdict.verdict else {}
    judged = [(i, text, rulings[i]) for i, text in enumerate(assertions, 1) if i in rulings]
    if assertions and judged:
        unmet = [(i, text, r) for i, text, r in judged if not r.met]
        detail = "; ".join(f"unmet: {text!r} ({r.reason})" for _, text, r in unmet) or \
            f"{len(judged)} assertion(s) met (LLM judge)"
        checks = [*grade.checks, Check(name="assertions", passed=not unmet, detail=detail)]
        update.update(checks=checks, unjudged=[text for i, text in enumerate(assertions, 1) if i not in rulings])
        if unmet:
            update.update(status="failed", failure_category=grade.failure_category or "failed_assertion",
                          first_divergent_hop=grade.first_divergent_hop or "generate")
    return grade.model_copy(update=update)


async def judge(task: GoldenTask, trace: Trace, context: GradingContext) -> JudgeVerdict:
    """The LLM judge as an async grader: :func:`judge_answer` with the context's model."""
    if context.model is None:
        raise ValueError("the judge needs a model (--judge PROFILE)")
    return await judge_answer(task, trace, context.model)


async def grade_run_with_judge(task: GoldenTask, trace: Trace, client: ModelClient) -> RunGrade:
    """:func:`~baton.graders.grade_run` plus the judge's record in ``RunGrade.judge`` and its
    rulings on the task's assertions (infrastructure-error runs are not judged)."""
    grade = grade_run(task, trace)
    if grade.status == "error":
        return grade
    return apply_judge(task, grade, await judge_answer(task, trace, client))
