"""Where a statement in an answer counts: clauses, negation, conditionals and quoted user words.

An occurrence of a fact (or a forbidden claim) in the answer is *asserted* unless

* it lies inside a quote of the user's own words: a quoted segment (``"..."``) whose text the
  user wrote, or a verbatim echo of at least :data:`ECHO_TOKENS` consecutive words of a user
  message (or the whole message when it is shorter, but at least 4 words);
* its clause negates it. Clauses end at sentence ends, ``;``, ``:``, ``,``, parentheses, dashes,
  table-cell bars, Markdown line breaks (a blank line, or a newline before a list item, table row,
  heading or quote; a single newline inside a paragraph is a soft wrap), and before conjunctions and relative words ("but", "because", "and", "that", "if", ...). A
  negation cue ("not", "never", "no", "cannot", "unable", "without", ...) negates an occurrence
  when it stands before it in the clause with no time/limit preposition between them ("not
  possible *after* 30 days" still states 30 days), or, for claims, right after it as a negated
  verb ("the name *has not* been updated"; a fact that is the subject of a negated verb, "the
  $12 credit does not cover it", is still stated). Cues inside the matched text itself are part of the
  statement ("cannot refund" as a required form). "you did not ..." (the user's own action) and
  cues inside conditional clauses ("if you do not see it within 3-5 business days") negate
  nothing.

For forbidden claims, a word in the clause that marks something as outdated or wrong ("the
*previous* 60-day policy", "60 days *no longer* applies", "managers *could once* approve 90 days",
"the note saying 'roaming is not included' *was wrong*") counts as
negation too: mentioning a superseded value is not claiming it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from baton.graders.text import canonical

ECHO_TOKENS = 8
_MIN_ECHO_TOKENS = 4
_QUOTE_FUZZ = 90.0

# A newline ends a statement only where Markdown does: at a blank line, or before a list item,
# table row, heading or block quote. A single newline inside a paragraph is a soft wrap.
_LINE_BREAK = r"\n(?:[ \t]*\n)+|\n(?=[ \t]*(?:[-*+\u2022>#|]|\d+[.)])\s?)"
_HARD_BREAK = re.compile(rf"[.!?]+[\"')\]]*(?=\s|$)|{_LINE_BREAK}|;|:(?=\s)|,(?=\s)|\s-\s|[()\[\]|]")
_SOFT_BREAK = re.compile(
    r"(?<!\bcould)(?<!\bwould)(?<!\bwas)(?<!\bwere)(?<!\bhad)(?<!\bdid)"
    r"\s(?=(?:but|however|although|though|whereas|while|so|because|since|and|which|that|who|"
    r"then|unless|if|once|when|whenever|until|before|otherwise|or)\b)")
_CONDITIONAL = re.compile(r"^\W*(?:if|unless|once|when|whenever|before|in case|as soon as|should)\b")

_NEGATION = re.compile(
    r"\b(?:not|never|no(?!\.?\s*#?\d)|none|nor|neither|cannot|unable|without|instead of|rather than)\b")
_USER_ACTION = re.compile(r"\byou (?:did|do|does|have|had) $")
_USER_NEVER = re.compile(r"\byou $")
_SCOPE_BREAK = re.compile(
    r"\b(?:after|within|beyond|outside|past|than|before|until|up to|under|over|since|per|"
    r"according to|by)\b")
_NEGATED_AFTER = re.compile(
    r"^\W*(?:(?!(?:i|you|we|they|he|she)\b)[\w$#.,-]+\s+){0,3}?"
    r"(?:(?:is|are|was|were|has|have|had|will|would|can|could|should|may|might|does|do|did)"
    r"\s+(?:not|never)|cannot)\b")
_STALE = re.compile(
    r"\b(?:previous|previously|former|formerly|old|older|outdated|obsolete|superseded|legacy|"
    r"retired|no longer|used to|(?:could|would|was|were|had|did) once)\b")
_STALE_AFTER = re.compile(
    r"^\W*(?:[\w$#.,-]+\s+){0,4}?(?:(?:was|were|is|are|has been|have been)\s+)?"
    r"(?:superseded|replaced|retired|discontinued|outdated|obsolete|no longer|wrong|incorrect|"
    r"mistaken|inaccurate|false|an error|a mistake)\b")

_SENTENCE_BREAK = re.compile(rf"[.!?]+[\"')\]]*(?=\s|$)|{_LINE_BREAK}|\|")
_QUOTED = re.compile(r"\"([^\"]{1,400})\"|(?<!\w)'([^']{2,300})'(?!\w)")
_WORD = re.compile(r"[a-z0-9$#%]+(?:[.,'/-][a-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Clause:
    start: int
    end: int
    conditional: bool


def _segments(text: str, breaks: Sequence[re.Pattern[str]]) -> list[tuple[int, int]]:
    cuts = {0, len(text)}
    for pattern in breaks:
        for m in pattern.finditer(text):
            cuts.add(m.start())
            cuts.add(m.end())
    bounds = sorted(cuts)
    return [(start, end) for start, end in zip(bounds, bounds[1:]) if start < end]


def split_clauses(text: str) -> list[Clause]:
    """The clauses of canonical ``text``, in order, covering it."""
    clauses = [Clause(start, end, bool(_CONDITIONAL.match(text, start, end)))
               for start, end in _segments(text, (_HARD_BREAK, _SOFT_BREAK))]
    return clauses or [Clause(0, len(text), False)]


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0).strip(".,'"), m.start(), m.end()) for m in _WORD.finditer(text)]


@lru_cache(maxsize=4096)
def _user_grams(user: str) -> tuple[int, frozenset[tuple[str, ...]]]:
    """(n, the n-grams of a canonical user message) for echo detection; n = 0: too short."""
    user_words = [w for w, _, _ in _words(user)]
    n = min(ECHO_TOKENS, len(user_words))
    if n < _MIN_ECHO_TOKENS:
        return 0, frozenset()
    return n, frozenset(tuple(user_words[i:i + n]) for i in range(len(user_words) - n + 1))


@lru_cache(maxsize=4096)
def _user_form(user: str) -> str:
    """A user message in the form answers are compared with."""
    return _strip(canonical(user))


def _echo_spans(text: str, user_texts: Sequence[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` that repeat a user message word for word (see the module docstring)."""
    words = _words(text)
    tokens = [w for w, _, _ in words]
    spans: list[tuple[int, int]] = []
    for user in user_texts:
        n, grams = _user_grams(user)
        if not n:
            continue
        for i in range(len(tokens) - n + 1):
            if tuple(tokens[i:i + n]) in grams:
                spans.append((words[i][1], words[i + n - 1][2]))
    return spans


def _strip(text: str) -> str:
    return text.strip(" .,!?;:")


def _quote_spans(text: str, user_texts: Sequence[str]) -> list[tuple[int, int]]:
    spans = []
    for m in _QUOTED.finditer(text):
        inner = _strip(m.group(1) if m.group(1) is not None else m.group(2))
        if not inner:
            continue
        for user in user_texts:
            if inner in user or (len(inner) >= 8 and fuzz.partial_ratio(inner, user) >= _QUOTE_FUZZ):
                spans.append((m.start(), m.end()))
                break
    return spans


def _user_action(prefix: str, cue: str) -> bool:
    """"you did not ...", "you never ...": the user's own action, not a denial by the answer."""
    return bool(_USER_NEVER.search(prefix) if cue == "never" else _USER_ACTION.search(prefix))


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class AnswerText:
    """An answer in canonical form, with its clauses and the user's words it quotes."""

    def __init__(self, answer: str, user_texts: Sequence[str] = ()) -> None:
        self.raw = answer
        self.text = canonical(answer)
        self.clauses = split_clauses(self.text)
        self._starts = [c.start for c in self.clauses]
        users = [_user_form(u) for u in user_texts if u.strip()]
        self.masked = _merge(_quote_spans(self.text, users) + _echo_spans(self.text, users))
        self.sentences = [(start, end) for start, end in _segments(self.text, (_SENTENCE_BREAK,))
                          if self.text[start:end].strip(" .!?\n")]

    def clause_at(self, pos: int) -> Clause:
        return self.clauses[max(0, bisect.bisect_right(self._starts, pos) - 1)]

    def sentence_end(self, pos: int) -> int:
        """End of the sentence that holds ``pos``."""
        for start, end in self.sentences:
            if start <= pos < end:
                return end
        return len(self.text)

    def is_quoted(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` lies inside a quote of the user's words. An occurrence that
        reaches beyond the quote ("I've also *added you to* Okta Super Admin", where only the
        group name echoes the user) says more than the user did, so it is the answer's own."""
        return any(s <= start and end <= e for s, e in self.masked)

    def is_negated(self, start: int, end: int, *, stale: bool = False, after: bool = True) -> bool:
        """Whether the clause around ``[start, end)`` negates it (``stale``: or marks it outdated).
        ``after=False`` ignores a negated verb that follows: a value that is the subject of a
        negated verb ("the $12 credit does not cover it") is still stated."""
        clause = self.clause_at(start)
        if clause.conditional:
            return False
        before = self.text[clause.start:start]
        rest = self.text[end:max(end, clause.end)]
        if stale and (_STALE.search(before) or _STALE.search(rest) or _STALE_AFTER.match(rest)):
            return True
        for m in _NEGATION.finditer(before):
            if _user_action(before[:m.start()], m.group(0)):
                continue
            if not _SCOPE_BREAK.search(before, m.end()):
                return True
        return after and bool(_NEGATED_AFTER.match(self.text[end:max(end, clause.end)]))

    def asserted(self, start: int, end: int, *, stale: bool = False, after: bool = True) -> bool:
        """Whether an occurrence at ``[start, end)`` counts as stated by the answer."""
        return not self.is_quoted(start, end) and not self.is_negated(start, end, stale=stale, after=after)

    def window_negates(self, start: int, end: int, form: str) -> bool:
        """Whether a fuzzy match window holds a negation cue that the matched form does not."""
        return len(_NEGATION.findall(self.text[start:end])) > len(_NEGATION.findall(form))
