"""What a request asks for: injected instructions removed, paraphrases mapped to common support
verbs, and the write tools whose name or description matches.

The synonym table covers everyday customer-support phrasing (money back ~ refund, charged twice ~
duplicate, swap ~ exchange, locked out ~ reset); it knows no domain, tool or id."""

from __future__ import annotations

import re
from functools import lru_cache

from baton.sim.text import name_tokens, overlap, stem, tokens

# canonical word -> phrases that mean it (lower-case; matched on word boundaries, prefix allowed)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "refund": ("refund", "money back", "reimburs", "pay me back", "charged twice", "charged me twice",
               "double charg", "overcharg", "credit back", "get back"),
    "duplicate": ("charged twice", "charged me twice", "double charg", "twice", "two charges", "charged two times",
                  "duplicate"),
    "unauthorized": ("didn't authori", "did not authori", "didn't approve", "unauthori", "fraud",
                     "without permission", "never ordered", "didn't make"),
    "cancel": ("cancel", "call off", "by mistake", "no longer need", "don't need", "stop"),
    "return": ("return", "send back", "send it back", "take back"),
    "exchange": ("exchange", "swap", "different size", "another size", "other size", "bigger size", "smaller size",
                 "too small", "too big", "too snug", "too tight", "too large", "for a large", "for a medium",
                 "for a small"),
    "replacement": ("replacement", "replace", "new one", "another one", "send me a new", "reship"),
    "damaged": ("crack", "broken", "broke", "damage", "shatter", "dent", "arrived smashed", "torn"),
    "missing": ("missing", "weren't in", "wasn't in", "not in the box", "never arrived", "didn't arrive",
                "did not arrive", "not included"),
    "reset": ("reset", "unlock", "locked out", "new phone", "forgot", "lost my phone"),
    "change": ("change", "move me", "move it", "update", "switch", "modify"),
    "correct": ("spelled", "misspel", "typo", "correct", "wrong name", "fix the name", "fix my name"),
    "revoke": ("revoke", "remove", "disable", "deactivat", "offboard", "last day", "left the company", "leaver",
               "cut off"),
    "offboard": ("offboard", "last day", "left the company", "leaving the company", "leaver", "resigned",
                 "no longer works", "quit"),
    "submit": ("submit", "push it through", "push this through", "get it moving", "gets to review",
               "get it to review", "send it to review", "send it for review", "file it", "start the"),
    "escalate": ("escalate", "specialist", "supervisor", "talk to a human", "senior agent", "a manager"),
    "urgent": ("urgent", "asap", "as soon as possible", "expedite", "right away", "rush"),
}
_PHRASES = [(canon, re.compile(r"(?<![a-z])" + re.escape(p))) for canon, ps in SYNONYMS.items() for p in ps]
_GENERIC_VERBS = frozenset(tokens("issue create make submit process send add do perform apply request start "
                                  "initiate open file set update post execute run handle place get"))

# an instruction addressed to the assistant inside customer text or a document
_INJECTION = re.compile(
    r"(ignore (?:all |any |your |the |previous |prior )*(?:previous |prior )?(?:instructions|rules|policy|policies)"
    r"|disregard (?:all |your |the )*(?:instructions|rules|policy|policies)"
    r"|(?:system|admin|administrator|security|supervisor) (?:note|notice|override|message|mode|instruction)"
    r"|priority override|you are now|new instructions|note to ai|note to (?:the )?assistant"
    r"|(?:policy|rules|limits?) (?:is |are )?(?:suspended|lifted|do not apply|does not apply|no longer appl))", re.I)
_BLOCK_END = re.compile(r"\[\s*end[^\]]*\]|\n\s*\n", re.I)


def expand(text: str) -> tuple[str, ...]:
    """``text``'s tokens plus the canonical words of the synonym phrases it contains."""
    return _expand(text)


@lru_cache(maxsize=4096)
def _expand(text: str) -> tuple[str, ...]:
    low = text.lower().replace("\u2019", "'")
    extra = [stem(canon) for canon, pattern in _PHRASES if pattern.search(low)]
    return tokens(text) + tuple(dict.fromkeys(extra))


@lru_cache(maxsize=4096)
def strip_injection(text: str) -> tuple[str, bool]:
    """``text`` without instructions aimed at the assistant ('ignore your policy...', '[SYSTEM NOTICE]
    ...'): each is cut from its start to the end of its block (an ``[END ...]`` marker, a blank line,
    or the end). Returns (clean text, whether anything was cut)."""
    out, cut, pos = [], False, 0
    for m in _INJECTION.finditer(text):
        if m.start() < pos:
            continue
        start = _block_start(text, m.start())
        start = max(start, pos)
        end_m = _BLOCK_END.search(text, m.end())
        end = end_m.end() if end_m else len(text)
        out.append(text[pos:start])
        pos, cut = end, True
    out.append(text[pos:])
    return "".join(out).strip(), cut


def _block_start(text: str, at: int) -> int:
    """Where the injected block containing ``at`` starts: an opening bracket or separator line just
    before it, else the start of its sentence."""
    window = text[max(0, at - 80):at]
    for marker in ("[", "---"):
        i = window.rfind(marker)
        if i != -1:
            return max(0, at - 80) + i
    stops = [text.rfind(c, 0, at) for c in ".!?\n"]
    return max(stops) + 1 if max(stops) >= 0 else 0


_CANON = frozenset(stem(c) for c in SYNONYMS)
_READ_PREFIXES = ("get", "find", "list", "lookup", "look", "search", "fetch", "read", "query", "check", "show",
                  "retriev", "view", "describ")
_READ_DESCRIPTIONS = ("look up", "looks up", "list", "find", "get ", "gets ", "search", "fetch", "retrieve",
                      "return the", "show")


def is_read(name: str, description: str = "") -> bool:
    """Whether a tool only reads (``get_order``, 'Look up ...'), judged from its name and description."""
    first = name.lower().replace("-", "_").split("_")[0]
    return first.startswith(_READ_PREFIXES) or description.lower().lstrip().startswith(_READ_DESCRIPTIONS)


@lru_cache(maxsize=1024)
def action_words(tool_name: str) -> tuple[str, ...]:
    """A write tool's action words, most telling first: its name's tokens without ids and filler,
    the leading generic verb dropped when a support verb follows (``issue_refund`` -> refund,
    ``submit_prior_auth`` -> submit, prior, auth)."""
    toks = tuple(t for t in name_tokens(tool_name) if t not in ("id", "to", "human", "agent"))
    if len(toks) > 1 and toks[0] in _GENERIC_VERBS and any(t in _CANON for t in toks[1:]):
        toks = toks[1:]
    return toks or name_tokens(tool_name)


def intent_score(request_tokens: tuple[str, ...], tool_name: str, description: str) -> float:
    """How strongly a request asks for a write tool: its action word (with its synonyms) weighs
    most, then other name words, then the first sentence of its description."""
    words = action_words(tool_name)
    if not words:
        return 0.0
    lead = overlap(request_tokens, expand(words[0])) > 0
    rest = overlap(request_tokens, words[1:])
    first = description.split(". ")[0]
    desc = overlap(request_tokens, tokens(first))
    if not lead and not (rest and desc >= 2) and desc < 3:
        return 0.0
    return 3.0 * lead + 1.0 * rest + 0.5 * desc


def verb_phrase(tool_name: str) -> str:
    """The tool's name as words, for messages ('refund invoice', 'submit prior auth')."""
    return tool_name.replace("_", " ").replace("-", " ")
