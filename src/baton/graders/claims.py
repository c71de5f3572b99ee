"""Claims of performed actions, and answers that ask or decline.

An *action claim* is a statement that something was done:

* a first-person agent with a past or perfect action verb: "I've refunded", "I reversed",
  "I dispatched", "we have waived", "I went ahead and reset". Any regular past form ("-ed") or
  common irregular participle ("sent", "set up", "given") counts, except the verbs of looking,
  knowing and talking in :data:`NON_ACTION_VERBS` ("I checked", "I noticed", "I explained");
  "we" with a simple past ("we cancelled") counts only for the verbs of :data:`ACTION_FAMILIES`,
  as "we" often means the company's earlier acts;
* the agent's organisation with a perfect: "our billing team has opened a case";
* a second verb sharing that subject: "I've corrected the name *and moved* you to 12A", unless a
  subordinate clause or another subject stands between them ("I refunded the seat *that your
  admin added and approved*": the admin's acts);
* a perfect passive ("has been refunded"), a state passive with a decisive verb ("is now
  cancelled"), an action noun in progress ("your refund is on its way") or an action noun's
  reference ("your refund reference is RF-1"). A passive names no agent: a decision verb
  (:data:`AUTHORITY_VERBS`: "has been approved") claims the system's act only where one of the
  task's tools makes that decision; otherwise it is the reviewer's.

Negated, conditional or anticipatory ("once I've refunded it"), quoted, third-party ("was
cancelled by the airline") and copied-from-the-documents statements are not claims. The lexicon
is generic support-work vocabulary (:data:`ACTION_FAMILIES` groups synonyms by their effect on a
record: reverse/credit/reimburse are refunds, forward/page/refer are hand-offs), never a task's
own values.

A claim is *supported* (:func:`claim_supported`) when a successful side-effecting call did it:

* the claim's verb relates to a tool (same stem or action family as the tool's name verb or its
  description's first word, or as a string argument of the call: "refunded" ~ ``settlement:
  refund``), and its object words (the clause to the end of its sentence) relate to the tool's
  name nouns, collections or arguments: the related tools must include a successful call;
* a claim no tool of the task relates to (a side action the task has no tool for: "I've waived
  the fee", "I've emailed you a copy", "your charge has been reported") is unsupported, unless
  its verb is a generic one of completion ("processed", "handled", "set up": :data:`GENERIC_VERBS`)
  or it is an action noun ("your ticket number is ..."), which any successful call supports;
* when the clause names records ("I've refunded invoice #5102", "for member M-880213"), every one
  must be a record a supporting call touched: its target, the records its arguments name, the
  fields of those records, and what it returned or created ("RF-5120-1"). Naming a record the
  call created ("case CC-1") supports the claim by itself;
* when the clause names amounts of money ("I've credited your account with $10"), one of them
  must be among a supporting call's numbers (unless the answer misstates a value the task names,
  a fact's or a forbidden claim's: that is a wrong fact or a forbidden claim, not another act).

A passive claim about a record that already had that state ("invoice 5155 has been refunded"
where 5155 was refunded before the run; "your order has already been shipped" where the order the
run looked up says 'shipped') is supported too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from baton.graders.memo import per_object
from baton.graders.spans import AnswerText
from baton.graders.text import canonical
from baton.graders.values import find_id_tokens, find_money
from baton.task import GoldenTask, ToolSpec

# Action families: base verbs (and a few action nouns) grouped by what they do to a record.
ACTION_FAMILIES: dict[str, tuple[str, ...]] = {
    "refund": ("refund", "reimburse", "repay", "reverse", "credit", "rebate", "compensate", "settle"),
    "cancel": ("cancel", "void", "annul", "rescind", "withdraw", "terminate", "call off"),
    "send": ("send", "ship", "dispatch", "mail", "email", "post", "deliver", "reship", "resend",
             "courier", "fax", "text", "message"),
    "create": ("create", "open", "file", "raise", "lodge", "log", "submit", "register", "initiate",
               "start", "issue", "place", "request", "generate", "set up", "book in"),
    "escalate": ("escalate", "forward", "refer", "transfer", "hand", "pass", "page", "route",
                 "assign", "reassign", "notify", "alert", "flag", "share", "contact", "inform",
                 "loop in"),
    "change": ("change", "update", "modify", "edit", "move", "switch", "swap", "adjust", "rename",
               "reseat", "exchange", "convert"),
    "correct": ("correct", "fix", "amend", "rectify"),
    "upgrade": ("upgrade", "downgrade"),
    "remove": ("remove", "revoke", "delete", "deactivate", "disable", "deprovision", "offboard",
               "suspend", "block", "lock", "close", "freeze"),
    "grant": ("grant", "give", "enable", "activate", "provision", "approve", "add", "authorize",
              "authorise", "allow", "unblock", "reactivate", "restore", "reinstate"),
    "reset": ("reset", "clear", "unlock", "unenrol", "unenroll", "reenrol", "wipe"),
    "renew": ("renew", "extend", "prolong"),
    "book": ("book", "reserve", "schedule", "reschedule", "rebook", "hold"),
    "waive": ("waive", "discount", "comp"),
    "apply": ("apply",),
    "pay": ("pay", "charge", "bill", "invoice"),
    "replace": ("replace", "replacement"),
    "return": ("return",),
}
# Verbs of looking, knowing and talking: "I checked", "we noticed", "I've explained" claim nothing.
NON_ACTION_VERBS = frozenset("""
    check look review verify confirm find see notice read understand note search try ask explain
    mention describe include attach receive want need hope wonder decide consider determine
    calculate compare identify locate learn love enjoy apologize apologise thank regret realize
    realise assume expect listen pull track trace investigate examine research analyze analyse
    summarize summarise outline highlight list reply respond answer state say tell get have be keep
    leave manage seem use base test double go come feel think know show spend appreciate
    recommend suggest advise remind happen like tried pleased excited sorry glad
    prepare compile draft write gather collect organize organise simplify format lay break
    work figure discover estimate count monitor focus cover clarify address match assess evaluate
    interpret quote cite reference link browse scan talk hear wait
    """.split())
# Phrasal verbs of writing the answer itself or of looking ("I've put together the steps",
# "I've taken a look", "I've made sure", "I've shared the steps below"): no act on the world.
_ANSWER_PARTICLE = re.compile(
    r"\s+(?:together\b|down\b|out\b|sure\b|certain\b|a\s+(?:look|peek|glance|note|moment)\b|"
    r"some\s+(?:digging|research|checking|reading)\b)")
_SHARED_WITH = re.compile(r"[^.;:!?\n]{0,60}\bwith\b")
# Decisions that belong to an authority (a reviewer, a manager): a passive one ("has been
# approved") claims an act of the system only where one of the task's tools makes that decision.
AUTHORITY_VERBS = frozenset("approve deny reject accept authorize authorise decide review sign clear".split())
# Verbs of completion with no object of their own: any successful call supports them.
GENERIC_VERBS = frozenset(
    "process complete handle do sort action finalise finalize set make take put arrange carry "
    "execute perform fulfil fulfill implement done".split())
_IRREGULAR = {
    "sent": "send", "given": "give", "gave": "give", "made": "make", "put": "put", "set": "set",
    "taken": "take", "took": "take", "paid": "pay", "done": "do", "brought": "bring",
    "bought": "buy", "held": "hold", "built": "build", "shut": "shut", "withdrawn": "withdraw",
    "withdrew": "withdraw", "frozen": "freeze", "froze": "freeze", "written": "write",
    "wrote": "write", "begun": "begin", "began": "begin", "rung": "ring", "rang": "ring",
    "found": "find", "seen": "see", "saw": "see", "read": "read", "told": "tell", "said": "say",
    "got": "get", "gotten": "get", "had": "have", "been": "be", "kept": "keep", "left": "leave",
    "spent": "spend", "thought": "think", "known": "know", "knew": "know", "shown": "show",
    "gone": "go", "went": "go", "came": "come", "felt": "feel", "reset": "reset",
}
_IRREGULAR_RE = "|".join(sorted(_IRREGULAR, key=len, reverse=True))
_PARTICIPLES = ["refunded", "cancelled", "reset", "issued", "processed", "credited", "applied", "updated", "changed", "upgraded", "downgraded", "escalated", "submitted", "created", "deleted", "removed", "reversed", "voided", "closed", "reopened", "scheduled", "rescheduled", "booked", "rebooked", "transferred", "added", "initiated", "approved", "unlocked", "locked", "disabled", "enabled", "activated", "deactivated", "reactivated", "paused", "resumed", "restored", "replaced", "filed", "opened", "lodged", "raised", "forwarded", "assigned", "reassigned", "waived", "adjusted", "modified", "revoked", "blocked", "unblocked", "suspended", "terminated", "unsubscribed", "returned", "exchanged", "shipped", "dispatched", "placed", "ordered", "granted", "extended", "released", "flagged", "reported", "arranged", "moved", "renamed", "corrected", "fixed", "resolved", "completed", "authorized", "authorised", "registered", "enrolled", "refilled", "renewed", "paid", "reimbursed", "compensated", "sent", "given"]
_STRONG = ["refunded", "cancelled", "reset", "reversed", "voided", "credited", "escalated", "unlocked", "upgraded", "downgraded", "reactivated", "deactivated", "deleted", "reimbursed", "rebooked", "rescheduled", "waived"]
_NOUNS = (
    "refund|refunds|credit|cancellation|escalation|ticket|case|reversal|reset|return|exchange|"
    "replacement|request|claim|reimbursement|booking|order|change|update|adjustment|authorization|"
    "authorisation|submission|application")
_ADVERBS = r"(?:just|already|now|also|successfully|then|since|fully|gone ahead and|went ahead and)"
_PART = "|".join(_PARTICIPLES)
_PAST = rf"[a-z]{{2,}}ed|{_IRREGULAR_RE}"
# A subordinate clause or another subject between two verbs: the second is not "I"'s.
_OTHER_SUBJECT = re.compile(
    rf"\b(?:who|whom|whose|which|that|where|when|while|because|since|after|before|if|once|although|"
    rf"though|as|until|unless)\b|\b(?:you|he|she|they|it|someone|somebody)\s+(?:(?:have|had|has|also|just|"
    rf"already)\s+)*(?:{_PAST})\b")
_CLAIMS = [
    ("first_person", re.compile(rf"\b(?P<subj>i|we)(?P<aux>(?:\s+(?:have|had|{_ADVERBS}))*)\s+(?P<verb>{_PAST})\b")),
    # a second verb sharing the subject: "I've corrected the name *and moved* you to 12A"
    ("first_person", re.compile(
        rf"\b(?P<subj>i|we)(?P<aux>(?:\s+(?:have|had|{_ADVERBS}))*)\s+(?:{_PAST})\b"
        rf"(?P<between>[^.;:!?\n]{{0,80}}?)\band\s+"
        rf"(?:{_ADVERBS}\s+)*(?P<verb>{_PAST})\b")),
    # the agent's own organisation with a perfect: "our billing team has (also) opened a case"
    ("organisation", re.compile(
        rf"\bour\s+(?:[a-z]+\s+){{0,2}}?(?:team|teams|department|specialists?|agents?|staff|desk)\s+"
        rf"(?:has|have)(?:\s+{_ADVERBS})*\s+(?P<verb>{_PAST})\b")),
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
    """A crude stem: enough to relate "refunded", "refunds" and "refund_payment"."""
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


def _build_families() -> dict[str, str]:
    """stem of a family member (base or past form) -> family name."""
    index: dict[str, str] = {}
    for family, members in ACTION_FAMILIES.items():
        for member in members:
            last = member.split()[0]
            for form in (last, last + "ed", last + "d", last[:-1] + "ied" if last.endswith("y") else last):
                index.setdefault(stem(form), family)
    for past, base in _IRREGULAR.items():
        if stem(base) in index:
            index.setdefault(past, index[stem(base)])
    return index


_FAMILY_OF: dict[str, str] = {}


def lemma(verb: str) -> str:
    """A verb's comparable form: irregular participles to their base, then :func:`stem`."""
    return stem(_IRREGULAR.get(verb, verb))


def family(word: str) -> str | None:
    """The action family of a verb or action noun, if the lexicon has it."""
    if not _FAMILY_OF:
        _FAMILY_OF.update(_build_families())
    w = word.lower()
    found = _FAMILY_OF.get(w) or _FAMILY_OF.get(lemma(w))
    if found is None and w.startswith("re") and len(w) > 5:  # "reshipped", "reissued"
        found = _FAMILY_OF.get(lemma(w[2:]))
    return found


_NON_ACTION_STEMS = frozenset(stem(v) for v in NON_ACTION_VERBS)
_GENERIC_STEMS = frozenset(stem(v) for v in GENERIC_VERBS)
_AUTHORITY_STEMS = frozenset(stem(v) for v in AUTHORITY_VERBS)


def is_action_verb(verb: str) -> bool:
    """A past form that claims an action (not looking, knowing or talking)."""
    base = lemma(verb)
    return base not in _NON_ACTION_STEMS and verb not in NON_ACTION_VERBS


@dataclass(frozen=True, slots=True)
class ToolWords:
    """What a side-effecting tool does (its action families) and to what (its noun stems)."""

    families: frozenset[str]
    verbs: frozenset[str]
    nouns: frozenset[str]


def _enum_words(parameters: Mapping[str, Any], *, heads: bool = False) -> list[str]:
    """Words of the enum values of a tool's parameters: what its schema says it can do
    (``settlement: [refund, travel_credit]``); ``heads``: only each value's first word."""
    words = []
    for prop in (parameters.get("properties") or {}).values():
        if isinstance(prop, Mapping):
            for value in prop.get("enum") or []:
                parts = [w for w in re.split(r"[_\W]+", str(value).lower()) if w]
                words.extend(parts[:1] if heads else parts)
    return words


@per_object
def tool_words(spec: ToolSpec) -> ToolWords:
    """A tool's action families (name verb, description's first word, enum values) and nouns
    (the rest of its name, its collections, enum values)."""
    effect = spec.primary_effect
    created = effect.create.collection if effect is not None and effect.create is not None else None
    tokens = [t for t in re.split(r"[_\W]+", spec.name.lower()) if t]
    lead = re.match(r"\W*([A-Za-z]+)", spec.description)
    verbs = [tokens[0]] if tokens else []
    if lead:
        verbs.append(lead.group(1).lower())
    enums = _enum_words(spec.parameters)
    families = frozenset(f for v in [*verbs, *_enum_words(spec.parameters, heads=True)]
                         if (f := family(v)) is not None)
    nouns = frozenset(stem(w) for w in [*tokens[1:], *(re.split(r"[_\W]+", effect.collection) if effect is not None else []),
                                        *(re.split(r"[_\W]+", created) if created else []), *enums]
                      if len(w) >= 4)
    return ToolWords(families, frozenset(stem(v) for v in verbs), nouns)


@per_object
def _writing_tools(tools: Sequence[ToolSpec]) -> dict[str, ToolWords]:
    """The side-effecting tools of a task's tool list, with their words."""
    return {spec.name: tool_words(spec) for spec in tools if spec.side_effect}


@dataclass(frozen=True, slots=True)
class ActionClaim:
    """One claim of a performed action in the answer."""

    kind: str  # first_person | organisation | passive | noun
    verb: str
    clause: str
    start: int
    end: int
    scope: str = ""  # the clause to the end of its sentence: where the claim's object is named


def find_action_claims(answer: AnswerText) -> list[ActionClaim]:
    """Asserted claims of performed actions, in answer order."""
    claims = []
    seen: set[int] = set()
    for kind, pattern in _CLAIMS:
        for m in pattern.finditer(answer.text):
            if m.start("verb") in seen:
                continue
            verb = m.group("verb")
            if "between" in pattern.groupindex and _OTHER_SUBJECT.search(m.group("between")):
                continue
            if kind in ("first_person", "organisation"):
                if not is_action_verb(verb) or _ANSWER_PARTICLE.match(answer.text, m.end("verb")):
                    continue
                if verb == "shared" and not _SHARED_WITH.match(answer.text, m.end("verb")):
                    continue  # "I've shared the steps below" vs "shared your case with billing"
                if (kind == "first_person" and m.group("subj") == "we" and not m.group("aux").strip()
                        and family(verb) is None):
                    continue
            clause = answer.clause_at(m.start("verb"))
            if clause.conditional or answer.is_quoted(m.start(), m.end()):
                continue
            if answer.is_negated(m.start("verb"), m.end("verb")) or _negated_inside(m.group(0)):
                continue
            if kind == "passive" and _THIRD_PARTY.match(answer.text, m.end()):
                continue
            seen.add(m.start("verb"))
            claims.append(ActionClaim(kind, verb, answer.text[clause.start:clause.end].strip(),
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


@dataclass(frozen=True, slots=True)
class Write:
    """A successful side-effecting call: its tool, the ids it touched (see :func:`write_of`), the
    ids it created, and the words of its string arguments."""

    name: str
    ids: frozenset[str]
    created: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    amounts: frozenset[Decimal] = frozenset()  # the numbers of its arguments and result


def _verb_direct(verb_stem: str, words: ToolWords, extra: frozenset[str]) -> bool:
    """The verb names the tool's action or object itself ("refunded" ~ refund_payment,
    "reseated" ~ move_seat)."""
    return any(_related(verb_stem, w) for w in words.verbs | words.nouns | extra)


def _verb_relates(verb_stem: str, verb_family: str | None, words: ToolWords, extra: frozenset[str]) -> bool:
    if _verb_direct(verb_stem, words, extra):
        return True
    return verb_family is not None and (verb_family in words.families
                                        or any(family(w) == verb_family for w in extra))


@lru_cache(maxsize=4096)
def _by_prefix(stems: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """Stems of at least four letters, by their first four (what :func:`_related` needs)."""
    index: dict[str, list[str]] = {}
    for w in stems:
        if len(w) >= 4:
            index.setdefault(w[:4], []).append(w)
    return {k: tuple(v) for k, v in index.items()}


def _object_relates(objects: set[str], words: ToolWords, extra: frozenset[str]) -> bool:
    for stems in (words.nouns, extra):
        index = _by_prefix(stems)
        if index and any(_related(a, b) for a in objects if len(a) >= 4 for b in index.get(a[:4], ())):
            return True
    return False


@dataclass(frozen=True, slots=True)
class SeenRecord:
    """A record a successful read call returned: stems of its collection's name and of its
    one-word values ("shipped", "cancelled")."""

    collection: frozenset[str]
    values: frozenset[str]


def seen_records(tools: Sequence[ToolSpec], calls: Sequence[tuple[str, Any]]) -> list[SeenRecord]:
    """The records that successful read-only calls (``(tool name, result)``) returned."""
    specs = {spec.name: spec for spec in tools}
    seen = []
    for name, result in calls:
        spec = specs.get(name)
        if spec is None or spec.side_effect or spec.primary_effect is None:
            continue
        collection = frozenset(stem(w) for w in re.split(r"[_\W]+", spec.primary_effect.collection) if len(w) >= 4)
        records = result if isinstance(result, list) else [result]
        for record in records:
            if isinstance(record, Mapping):
                values = frozenset(stem(v.lower()) for v in record.values() if isinstance(v, str) and v.isalpha())
                seen.append(SeenRecord(collection, values))
    return seen


def _describes_seen_state(claim: ActionClaim, seen: Sequence[SeenRecord]) -> bool:
    """A passive claim that says what a record the run looked up already showed ("your order has
    already been shipped", the order's status being 'shipped'): the world, not the system's act."""
    verb = lemma(claim.verb)
    words = {stem(w) for w in _WORDS.findall(claim.scope or claim.clause)}
    return any(any(_related(verb, v) for v in record.values)
               and any(_related(w, c) for w in words for c in record.collection) for record in seen)


def claim_supported(claim: ActionClaim, tools: Sequence[ToolSpec], writes: Sequence[Write],
                    initial: Mapping[str, Mapping[str, Any]], seen: Sequence[SeenRecord] = (),
                    check_amounts: bool = True) -> bool:
    """Whether a successful side-effecting call (``writes``) did what ``claim`` says (see the
    module docstring). ``seen``: the records the run's read calls returned; ``check_amounts``:
    whether amounts of money the claim names must be a supporting call's (off where the answer
    misstates a value the task names: a wrong fact or a forbidden claim, not another act)."""
    if claim.kind in ("passive", "organisation") and (_already_so(claim, initial)
                                                     or _describes_seen_state(claim, seen)):
        return True
    verb_stem, verb_family = lemma(claim.verb), family(claim.verb)
    objects = {stem(w) for w in _WORDS.findall(claim.scope or claim.clause)} - {verb_stem}
    specs = _writing_tools(tools)
    direct = {n for n, w in specs.items() if _verb_direct(verb_stem, w, frozenset())}
    by_verb = direct or {n for n, w in specs.items() if _verb_relates(verb_stem, verb_family, w, frozenset())}
    by_object = {n for n, w in specs.items() if _object_relates(objects, w, frozenset())}
    # the verb naming a tool outranks the object; the object outranks a synonym of the verb
    related_specs = (by_verb & by_object) or direct or by_object or by_verb

    def relates(write: Write) -> bool:
        words = specs.get(write.name)
        if words is None:
            return False
        verb_ok = _verb_relates(verb_stem, verb_family, words, write.words)
        object_ok = _object_relates(objects, words, write.words)
        if write.name in related_specs:
            return True
        return (verb_ok and object_ok) or (not related_specs and (verb_ok or object_ok))

    related = [w for w in writes if relates(w)]
    named = _named_records(claim, initial, writes)
    if named and any(named & w.created for w in writes):
        return True  # names the record a call created ("case CC-1"): that call is the claim
    if related:
        pool = related
    elif related_specs:
        return False  # a tool that does this exists, and no call of it succeeded
    elif claim.kind in ("passive", "organisation") and verb_stem in _AUTHORITY_STEMS:
        return True  # "has been approved", and no tool approves: the reviewer's act, not a claim
    elif verb_stem in _GENERIC_STEMS or claim.kind == "noun":
        pool = list(writes)
    else:
        return False  # a side action the task has no tool for
    if not all(any(n in w.ids for w in pool) for n in named):
        return False
    if check_amounts and not _amounts_match(claim, pool):
        return False
    return _values_touched(claim, tools, pool, initial)


def _amounts_match(claim: ActionClaim, pool: Sequence[Write]) -> bool:
    """A claim that names amounts of money ("credited your account with $10") was done by a call
    with one of them among its numbers; a call for another amount did something else."""
    stated = {m.value.amount.normalize() for m in find_money(claim.clause)}  # type: ignore[attr-defined]
    if not stated:
        return True
    return any(stated & w.amounts for w in pool)


def _values_touched(claim: ActionClaim, tools: Sequence[ToolSpec], pool: Sequence[Write],
                    initial: Mapping[str, Mapping[str, Any]]) -> bool:
    """A claim that names records of the collection its calls wrote by a field value ("removed
    him from Okta, GitHub and Jira", accounts with ``system: jira``) is supported only if, for
    every value named, some record with it was touched."""
    collections = {e.collection for spec in tools if any(w.name == spec.name for w in pool) for e in spec.effect_list}
    # values a tool writes or takes as an option are states and kinds, not names
    written = {str(v).casefold() for spec in tools for e in spec.effect_list for v in e.set.values() if isinstance(v, str)}
    written.update(w for spec in tools for w in _enum_words(spec.parameters))
    verb = lemma(claim.verb)
    words = {w for w in _WORDS.findall(claim.scope or claim.clause)
             if w not in written and not _related(stem(w), verb)}  # "refunded" is the act, not a name
    if not words:
        return True
    touched = set().union(*(w.ids for w in pool)) if pool else set()
    index = _value_index(initial)
    for name in collections:
        by_value = index.get(name) or {}
        if any(not (by_value[w] & touched) for w in words if w in by_value):
            return False
    return True


@per_object
def _value_index(initial: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, frozenset[str]]]:
    """collection -> one-word field value (case-folded) -> the ids of the records that have it."""
    index: dict[str, dict[str, set[str]]] = {}
    for name, records in initial.items():
        by_value = index.setdefault(name, {})
        for rid, record in records.items():
            if isinstance(record, Mapping):
                for value in record.values():
                    if isinstance(value, str) and value.isalpha():
                        by_value.setdefault(value.casefold(), set()).add(_key(rid))
    return {name: {v: frozenset(r) for v, r in values.items()} for name, values in index.items()}


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


def _scalars(value: Any) -> Iterator[tuple[str, Any]]:
    """(key, scalar) pairs of a JSON value, recursively."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(v, (Mapping, list)):
                yield from _scalars(v)
            else:
                yield str(k), v
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v)


def write_of(name: str, arguments: Mapping[str, Any], initial: Mapping[str, Mapping[str, Any]],
             result: Any = None, final: Mapping[str, Mapping[str, Any]] | None = None) -> Write:
    """The ids a write touches: its argument values, the fields of the records they name
    (refunding invoice 5120 touches its customer C-2040 too), and what it returned (the record
    it created, "RF-5120-1", and that record's fields in the run's ``final`` state)."""
    values = [v for v in arguments.values() if isinstance(v, (str, int)) and not isinstance(v, bool)]
    ids = {_key(v) for v in values}
    for v in values:  # ids written inside free text ("summary: customer disputes invoice 5120")
        if isinstance(v, str) and " " in v.strip():
            ids.update(_ids_in_text(v))
    touch = _touch_cache(initial)
    for value in values:
        raw = str(value)
        if raw not in touch:
            found: set[str] = set()
            for records, rid in _lookups(initial, raw):
                found.add(_key(rid))
                if isinstance(records[rid], Mapping):
                    found.update(_key(v) for v in records[rid].values() if isinstance(v, (str, int)))
            touch[raw] = frozenset(found)
        ids.update(touch[raw])
    created = set()
    for key, value in _scalars(result):
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            ids.add(_key(value))
            if ((key == "id" or key.endswith("_id")) and isinstance(value, str)
                    and next(_lookups(initial, value), None) is None):
                created.add(_key(value))
                for records in (final or {}).values():
                    record = records.get(value) if isinstance(records, Mapping) else None
                    if isinstance(record, Mapping):
                        ids.update(_key(v) for v in record.values()
                                   if isinstance(v, (str, int)) and not isinstance(v, bool))
    words = frozenset(stem(w) for v in arguments.values() if isinstance(v, str)
                      for w in re.split(r"[_\W]+", v.lower()) if len(w) >= 4 and not any(c.isdigit() for c in w))
    numbers = [v for v in arguments.values()] + [v for _, v in _scalars(result)]
    amounts = frozenset(Decimal(str(v)).normalize() for v in numbers
                        if isinstance(v, (int, float)) and not isinstance(v, bool))
    return Write(name, frozenset(ids), frozenset(created), words, amounts)


_EXCLUDED = re.compile(r"\b(?:not|instead of|rather than|except|other than|apart from|but not)\b"
                       r"(?:\s+(?:the|your|for|on|invoice|order|booking|account|record|case|#))*\s*#?$")


@per_object
def _touch_cache(initial: Mapping[str, Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Per initial world: argument value -> ids of the records it names and of their fields."""
    return {}


@lru_cache(maxsize=4096)
def _ids_in_text(text: str) -> frozenset[str]:
    return frozenset(_key(t.value) for t in find_id_tokens(canonical(text)))


def _named_records(claim: ActionClaim, initial: Mapping[str, Mapping[str, Any]],
                   writes: Sequence[Write] = ()) -> set[str]:
    """Ids of records that the claim's clause names ("I've refunded invoice #5102"): records of
    the initial world, and records the run's calls created."""
    named = set()
    created = set().union(*(w.created for w in writes)) if writes else set()
    for token in find_id_tokens(claim.clause):
        if _EXCLUDED.search(claim.clause[max(0, token.start - 24):token.start]):
            continue  # "refunded #5167 instead of #5166": the record the claim sets aside
        for _, rid in _lookups(initial, str(token.value)):
            named.add(_key(rid))
        if _key(token.value) in created:
            named.add(_key(token.value))
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
