"""Claims of performed actions, and answers that ask or decline.

An *action claim* is a statement that something was done: a first-person past or perfect action
verb ("I've refunded", "we cancelled", "I went ahead and reset", "I've corrected the name and
moved you"), a perfect passive ("has been
refunded", "have been processed"), a state passive with a decisive verb ("is now cancelled",
"was successfully refunded"), an action noun in progress ("your refund is on its way") or an
action noun's reference ("your refund reference is RF-1"). Negated, conditional or anticipatory
("once I've refunded it", "before I reset it"), quoted, third-party ("was cancelled by the airline") and copied-from-the-documents
statements are not claims. The lexicon is generic: side-effecting verbs and nouns of support
work, never a task's own values.

A claim is *supported* when a successful side-effecting tool call could have performed it: if
words of the claim's clause (to the end of its sentence: "moved you to 12A, a window seat") share a stem
with side-effecting tools of the task (name tokens,
the collections they write), one of those tools must have succeeded, otherwise any successful
side-effecting call will do; and when the clause names existing records ("I've refunded invoice
#4417"), that call's arguments must name one of them. A passive claim about a record that
already had that state ("invoice 4455 has been refunded" where 4455 was refunded before the
run) is supported too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from baton.graders.memo import per_object
from baton.graders.spans import AnswerText
from baton.graders.text import canonical
from baton.graders.values import find_id_tokens
from baton.task import GoldenTask, ToolSpec

_PARTICIPLES = ["refunded", "cancelled", "reset", "issued", "processed", "credited", "applied", "updated", "changed", "upgraded", "downgraded", "escalated", "submitted", "created", "deleted", "removed", "reversed", "voided", "closed", "reopened", "scheduled", "rescheduled", "booked", "rebooked", "transferred", "added", "initiated", "approved", "unlocked", "locked", "disabled", "enabled", "activated", "deactivated", "reactivated", "paused", "resumed", "restored", "replaced", "filed", "opened", "lodged", "raised", "forwarded", "assigned", "reassigned", "waived", "adjusted", "modified", "revoked", "blocked", "unblocked", "suspended", "terminated", "unsubscribed", "returned", "exchanged", "shipped", "dispatched", "placed", "ordered", "granted", "extended", "released", "flagged", "reported", "arranged", "moved", "renamed", "corrected", "fixed", "resolved", "completed", "authorized", "authorised", "registered", "enrolled", "refilled", "renewed", "paid", "reimbursed", "compensated", "sent", "given"]
_STRONG = ["refunded", "cancelled", "reset", "reversed", "voided", "credited", "escalated", "unlocked", "upgraded", "downgraded", "reactivated", "deactivated", "deleted", "reimbursed", "rebooked", "rescheduled", "waived"]
_NOUNS = (
    "refund|refunds|credit|cancellation|escalation|ticket|case|reversal|reset|return|exchange|"
    "replacement|request|claim|reimbursement|booking|order|change|update|adjustment|authorization|"
    "authorisation|submission|application")
_ADVERBS = r"(?:just|already|now|also|successfully|then|since|fully|gone ahead and|went ahead and)"
_PART = "|".join(_PARTICIPLES)
_CLAIMS = [
    ("first_person", re.compile(rf"\b(?:i|we)(?:\s+(?:have|had|{_ADVERBS}))*\s+(?P<verb>{_PART})\b")),
    # a second verb sharing the subject: "I've corrected the name *and moved* you to 12A"
    ("first_person", re.compile(
        rf"\b(?:i|we)(?:\s+(?:have|had|{_ADVERBS}))*\s+[a-z]+ed\b[^.;:!?\n]{{0,80}}?\band\s+"
        rf"(?:{_ADVERBS}\s+)*(?P<verb>{_PART})\b")),
    ("passive", re.compile(
        rf"\b(?:has|have|had)\s+(?:{_ADVERBS}\s+)*been\s+(?:{_ADVERBS}\s+|partially\s+)*(?P<verb>{_PART})\b")),
    ("passive", re.compile(
        rf"\b(?:(?:is|are)\s+(?:(?:now|fully|successfully|already)\s+)*|(?:was|were)\s+(?:just\s+)?"
        rf"(?:now|fully|successfully)\s+)(?P<verb>{'|'.join(_STRONG)})\b")),
    ("noun", re.compile(
        rf"\b(?P<verb>{_NOUNS})\b[^.;:!?]{{0,40}}?\b(?:is|are)\s+(?:now\s+)?(?:on (?:its|the|their) way|"
        rf"being processed|underway|in progress|complete|completed|confirmed)\b")),
    ("noun", re.compile(
        rf"\b(?P<verb>{_NOUNS})\s+(?:reference|confirmation|ref|id|number|code)(?:\s+(?:number|code|id))?"
        rf"\s*(?:is|:|#)\s*#?[a-z0-9-]*\d")),
]

_THIRD_PARTY = re.compile(r"\s+by\s+(?!(?:me|us|our|my)\b)")
_ASKS = re.compile(
    r"\?|\b(?:could you|can you|would you|will you|please (?:provide|confirm|share|send|tell|let|reply|"
    r"give|specify|check|clarify)|let me know|i need|i will need|we need|i would need|"
    r"do you (?:want|have|know)|what is your|which one)\b")
_DECLINES = re.compile(
    r"\b(?:cannot|unable to|not able to|not eligible|ineligible|not possible|unfortunately|"
    r"i am afraid|not allowed|not permitted|against (?:our|the) policy|not refundable|non-refundable|"
    r"(?:i|we) (?:(?:have|had|did|do|will|would|could|can|am|was|should) )?(?:not|never))\b")
_PLEASANTRY = re.compile(
    r"anything else|any other (?:question|issue|concern)|further (?:question|help|assistance)|"
    r"help you with|is there anything|any (?:more )?questions|let me know if (?:you have|there is)|"
    r"feel free|happy to help|glad to help")
_WORDS = re.compile(r"[a-z]{3,}")
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ied", "ies", "ed", "es", "s", "e")


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A crude stem: enough to relate "refunded", "refunds" and "refund_invoice"."""
    w = word.lower()
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    if len(w) >= 4 and w[-1] == w[-2]:
        w = w[:-1]
    return w


@lru_cache(maxsize=65536)
def _related(a: str, b: str) -> bool:
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short)


def tool_stems(spec: ToolSpec) -> frozenset[str]:
    """Stems of a tool's name tokens and of the collections it reads or writes."""
    effect = spec.primary_effect
    created = effect.create.collection if effect is not None and effect.create is not None else None
    return _tool_stems(spec.name, effect.collection if effect is not None else "", created)


@lru_cache(maxsize=4096)
def _tool_stems(name: str, collection: str, created: str | None) -> frozenset[str]:
    words = [*re.split(r"[_\W]+", name), collection, *([created] if created else [])]
    return frozenset(stem(w) for w in words if len(w) >= 4)


@dataclass(frozen=True, slots=True)
class ActionClaim:
    """One claim of a performed action in the answer."""

    kind: str  # first_person | passive | noun
    verb: str
    clause: str
    start: int
    end: int
    scope: str = ""  # the clause to the end of its sentence: where the claim's object is named


def find_action_claims(answer: AnswerText) -> list[ActionClaim]:
    """Asserted claims of performed actions, in answer order."""
    claims = []
    for kind, pattern in _CLAIMS:
        for m in pattern.finditer(answer.text):
            clause = answer.clause_at(m.start("verb"))
            if clause.conditional or answer.is_quoted(m.start(), m.end()):
                continue
            if answer.is_negated(m.start("verb"), m.end("verb")) or _negated_inside(m.group(0)):
                continue
            if kind == "passive" and _THIRD_PARTY.match(answer.text, m.end()):
                continue
            claims.append(ActionClaim(kind, m.group("verb"), answer.text[clause.start:clause.end].strip(),
                                      m.start(), m.end(), answer.text[clause.start:answer.sentence_end(clause.start)]))
    claims.sort(key=lambda c: c.start)
    return claims


@lru_cache(maxsize=4096)
def _canonical_doc(text: str) -> str:
    return " ".join(canonical(text).split())


def copied_from_documents(claim: ActionClaim, task: GoldenTask) -> bool:
    """The claim's clause is a sentence of the task's documents or policy, copied: the knowledge
    base speaking ("we have updated our refund policy"), not the system claiming an action."""
    clause = " ".join(claim.clause.split())
    if len(clause) < 15:
        return False
    texts = [doc.text for doc in task.documents] + ([task.policy] if task.policy else [])
    return any(clause in _canonical_doc(text) for text in texts)


def _negated_inside(text: str) -> bool:
    return bool(re.search(r"\b(?:not|never)\b", text))


def claim_supported(claim: ActionClaim, tools: Sequence[ToolSpec], writes: Sequence[Write],
                    initial: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a successful side-effecting call (``writes``) could have done what ``claim`` says."""
    if claim.kind == "passive" and _already_so(claim, initial):
        return True
    stems = {stem(claim.verb)} | {stem(w) for w in _WORDS.findall(claim.scope or claim.clause)}
    related = {spec.name for spec in tools if spec.side_effect
               and any(_related(a, b) for a in stems for b in tool_stems(spec))}
    candidates = [w for w in writes if w.name in related] if related else list(writes)
    named = _named_records(claim, initial)
    if named:
        candidates = [w for w in candidates if named & w.ids]
    return bool(candidates)


@dataclass(frozen=True, slots=True)
class Write:
    """A successful side-effecting call: its tool and the record ids its arguments name."""

    name: str
    ids: frozenset[str]


@per_object
def _id_index(initial: Mapping[str, Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], dict[str, str]]]:
    """Per collection: its records, and normalised id -> the first record id that normalises so."""
    index = []
    for records in initial.values():
        ids: dict[str, str] = {}
        for rid in records:
            ids.setdefault(_record_key(rid), rid)
        index.append((records, ids))
    return index


def _lookups(initial: Mapping[str, Mapping[str, Any]], raw: Any) -> Iterator[tuple[Mapping[str, Any], str]]:
    """(records, record id) for each collection of ``initial`` with a record that ``raw`` names,
    as :func:`baton.world.lookup_record_id` finds it."""
    wanted = None
    for records, ids in _id_index(initial):
        if isinstance(raw, str) and raw in records:
            yield records, raw
            continue
        if wanted is None:
            wanted = _record_key(raw)
        rid = ids.get(wanted)
        if rid is not None:
            yield records, rid


def _record_key(value: Any) -> str:
    """A record id as :func:`baton.world.lookup_record_id` compares it."""
    return str(value).strip().lstrip("#").strip().casefold()


def _key(value: Any) -> str:
    return str(value).strip().lstrip("#").casefold()


def write_of(name: str, arguments: Mapping[str, Any], initial: Mapping[str, Mapping[str, Any]]) -> Write:
    """The ids a write touches: its argument values, and the values of the records they name
    (refunding invoice 4471 touches its customer C-1001 too)."""
    values = [v for v in arguments.values() if isinstance(v, (str, int)) and not isinstance(v, bool)]
    ids = {_key(v) for v in values}
    for value in values:
        for records, rid in _lookups(initial, str(value)):
            if isinstance(records[rid], Mapping):
                ids.update(_key(v) for v in records[rid].values() if isinstance(v, (str, int)))
    return Write(name, frozenset(ids))


def _named_records(claim: ActionClaim, initial: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Ids of existing records that the claim's clause names ("I've refunded invoice #4417")."""
    named = set()
    for token in find_id_tokens(claim.clause):
        for _, rid in _lookups(initial, str(token.value)):
            named.add(_key(rid))
    return named


def _already_so(claim: ActionClaim, initial: Mapping[str, Mapping[str, Any]]) -> bool:
    """The clause names a record whose initial fields already say what the claim says."""
    verb = stem(claim.verb)
    for token in find_id_tokens(claim.clause):
        for records, rid in _lookups(initial, str(token.value)):
            values = " ".join(str(v) for v in records[rid].values() if isinstance(v, str))
            if any(_related(verb, stem(w)) for w in _WORDS.findall(values.lower())):
                return True
    return False


def asks_or_declines(answer: AnswerText) -> bool:
    """The answer asks the user for something or declines to act (pleasantries aside)."""
    for start, end in answer.sentences:
        sentence = answer.text[start:end]
        if _PLEASANTRY.search(sentence):
            continue
        for pattern in (_ASKS, _DECLINES):
            for m in pattern.finditer(answer.text, start, end + 1):
                if not answer.is_quoted(m.start(), m.end()):
                    return True
    return False
