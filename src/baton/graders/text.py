"""Canonical text: the one normal form that answers, fact forms and user words are compared in.

:func:`canonical` lower-cases and folds Unicode (dashes, quotes, spaces), expands contractions
("can't" -> "cannot", "didn't" -> "did not", "I've" -> "i have"), writes number words as digits
("forty-nine" -> "49", "three to five" -> "3-5"), unwraps Markdown inline code, writes numeric ranges one way ("3 to 5",
"between 3 and 5", "3 - 5" -> "3-5"), and writes quantities one way ("30-day" -> "30 day",
"5 business days" -> "5 business day", "working days" -> "business days", "percent" -> "%").
Because the same function is applied to both sides, matching can then be exact.
"""

from __future__ import annotations

import re
import unicodedata

_DASHES: dict[int, str | None] = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d"), "-")
_DASHES.update(dict.fromkeys(map(ord, "\u2014\u2015\ufe58"), " - "))  # em dashes separate clauses
_QUOTES = {ord(c): '"' for c in "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033"}
_QUOTES.update({ord(c): "'" for c in "\u2018\u2019\u201a\u201b\u2032\u0060\u00b4"})
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u3000"), " ")
_TRANSLATE = {**_DASHES, **_QUOTES, **_SPACES, ord("\u200b"): None}

_CONTRACTIONS = [
    (re.compile(r"\bcan'?t\b|\bcan not\b"), "cannot"),
    (re.compile(r"\bwon'?t\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\bain't\b"), "is not"),
    (re.compile(r"\b(\w+)n't\b"), r"\1 not"),
    (re.compile(r"\b(i|you|we|they|who)'ve\b"), r"\1 have"),
    (re.compile(r"\bi'm\b"), "i am"),
    (re.compile(r"\b(you|we|they)'re\b"), r"\1 are"),
    (re.compile(r"\b(i|you|we|they|he|she|it)'ll\b"), r"\1 will"),
    (re.compile(r"\b(it|that|there|what|here)'s\b"), r"\1 is"),
]

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
_NUMBER_RUN = re.compile(rf"\b(?:{_NUMBER_WORD})(?:(?:-|\s+|\s+and\s+)(?:{_NUMBER_WORD}))*\b")
_TOKEN = re.compile(rf"{_NUMBER_WORD}|and|-|\s+")
# "one" alone is usually a pronoun ("the one you booked"); it is a number before a unit.
_ONE_UNIT = re.compile(
    r"\s*(?:-\s*)?(?:business|calendar|working|day|days|week|weeks|month|months|year|years|hour|"
    r"hours|minute|minutes|dollar|dollars|euro|euros|pound|pounds|cent|cents|percent|time|times|"
    r"item|items|night|nights|seat|seats|bag|bags|unit|units|lb|lbs|kg|to|or)\b")

_NUM = r"\d+(?:[.,]\d+)*"
_RANGES = [
    (re.compile(rf"\bbetween ({_NUM}) and ({_NUM})\b"), r"\1-\2"),
    (re.compile(rf"(?<![\w.])({_NUM})\s*(?:-|-?to-?|through|thru)\s*({_NUM})(?![\w.])"), r"\1-\2"),
]
_HYPHEN_UNIT = re.compile(r"(\d)-([a-z])")
_GLUED_UNIT = re.compile(r"(?<![\w-])(\d+(?:\.\d+)?)(kg|lbs?|km|mi|cm|mm|ml|gb|mb|tb|hrs?|mins?)\b")
_PLURAL_UNIT = re.compile(
    r"(\d(?:[\d.,-]*\d)?%?\s+(?:(?:business|calendar|working|extra|more|full|additional|"
    r"consecutive|checked|free|total)\s+)?)(?!(?:has|was|is|its|this|thus|plus|less|us|yes|does|"
    r"gas|bus|as)\b)([a-z]*[a-rt-z])s\b")
_SYNONYMS = [
    (re.compile(r"\bworking (day)"), r"business \1"),
    (re.compile(r"\s?\b(?:percent|per cent)\b"), "%"),
    (re.compile(r"\bcanceled\b"), "cancelled"),
    (re.compile(r"\bcanceling\b"), "cancelling"),
]
_WHITESPACE = re.compile(r"[ \t]+")


# Markdown inline code (`RF-5120-1`, ``$49``): formatting, not a quotation. Its backticks are
# dropped before quotes are folded, so a code span never reads as a quote of the user's words.
_CODE_SPAN = re.compile(r"(`+)([^`\n]+?)\1")


def fold(text: str) -> str:
    """Unicode compatibility form, inline code unwrapped, ASCII dashes/quotes/spaces, lower case."""
    if "`" in text:
        text = _CODE_SPAN.sub(r"\2", text)
    return unicodedata.normalize("NFKC", text).translate(_TRANSLATE).lower()


def _number_value(tokens: list[str]) -> int:
    total, current = 0, 0
    for word in tokens:
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        else:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return total + current


def _joins(last: str, tok: str, sep: str) -> bool:
    """Whether number word ``tok`` continues the number ending in ``last`` ("forty" + "nine")."""
    if "and" in sep:
        return last in _SCALES and (tok in _UNITS or tok in _TENS)
    if tok in _UNITS and _UNITS[tok] < 10 and last in _TENS:
        return True
    if (tok in _UNITS or tok in _TENS) and last in _SCALES:
        return True
    return tok in _SCALES and (last in _UNITS or last in _TENS or (last == "hundred" and tok != "hundred"))


def _digits(match: re.Match[str]) -> str:
    text, end = match.string, match.end()
    out: list[str] = []
    group: list[str] = []
    sep = ""

    def flush(is_last: bool) -> None:
        if group == ["one"] and not (is_last and _ONE_UNIT.match(text, end)):
            out.append("one")
        elif group:
            out.append(str(_number_value(group)))

    for tok in _TOKEN.findall(match.group(0)):
        if tok.isspace() or tok in ("-", "and"):
            sep += tok if tok != "and" else " and "
            continue
        if group and not _joins(group[-1], tok, sep):
            flush(False)
            out.append(re.sub(r"\s+", " ", sep))
            group = []
        group.append(tok)
        sep = ""
    flush(True)
    return "".join(out)


def number_words_to_digits(text: str) -> str:
    """Write English number words as digits: "forty-nine" -> "49", "three to five" -> "3 to 5"."""
    return _NUMBER_RUN.sub(_digits, text)


def canonical(text: str) -> str:
    """The canonical form of ``text`` (see the module docstring)."""
    out = fold(text)
    for pattern, repl in _CONTRACTIONS:
        out = pattern.sub(repl, out)
    out = number_words_to_digits(out)
    for pattern, repl in _RANGES:
        out = pattern.sub(repl, out)
    out = _HYPHEN_UNIT.sub(r"\1 \2", out)
    out = _GLUED_UNIT.sub(r"\1 \2", out)
    for pattern, repl in _SYNONYMS:
        out = pattern.sub(repl, out)
    out = _PLURAL_UNIT.sub(r"\1\2", out)
    return _WHITESPACE.sub(" ", out).strip()
