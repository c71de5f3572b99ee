"""Typed values in canonical text: money, dates, numbers, ids. Each is found with its span.

Typed values compare exactly after normalisation: ``$49`` = ``49.00 usd`` = ``usd 49`` =
``49 dollars`` but never ``$94`` or ``$49.50``; ``2026-06-02`` = ``june 2, 2026`` =
``2 june 2026`` = ``06/02/2026`` (numeric dates with slashes read month first unless the first
number exceeds 12; dotted ones, ``02.06.2026``, day first); ``#5120`` = ``invoice 5120`` = ``inv-5120`` but never ``5102``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# --------------------------------------------------------------------------- numbers

_AMOUNT = r"\d+,\d{2}(?!\d)|(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUMBER = re.compile(r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d)")
_NUMBER_FORM = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?")


def to_decimal(text: str) -> Decimal | None:
    """``"1,234.50"`` -> 1234.50; ``"49,00"`` (decimal comma) -> 49.00."""
    raw = text.strip().rstrip("%")
    if re.fullmatch(r"\d+,\d{2}", raw):
        raw = raw.replace(",", ".")
    try:
        return Decimal(raw.replace(",", ""))
    except InvalidOperation:
        return None


@dataclass(frozen=True, slots=True)
class Found:
    """A typed value found in text: its span and normalised value."""

    start: int
    end: int
    value: object


def find_numbers(text: str) -> list[Found]:
    """Every number in ``text`` (including those inside dates, money and ids)."""
    found = []
    for m in _NUMBER.finditer(text):
        value = to_decimal(m.group(0))
        if value is not None:
            found.append(Found(m.start(), m.end(), value))
    return found


def parse_number(form: str) -> Decimal | None:
    """A form that is just a number ("49", "1,200", "15%")."""
    return to_decimal(form) if _NUMBER_FORM.fullmatch(form) else None


# --------------------------------------------------------------------------- money

_SYMBOLS = {"$": "usd", "us$": "usd", "ca$": "cad", "c$": "cad", "au$": "aud", "a$": "aud",
            "€": "eur", "£": "gbp", "¥": "jpy"}
_CODES = ("usd eur gbp cad aud nzd jpy chf inr sgd hkd mxn brl cny sek nok dkk zar pln").split()
_WORDS = {"dollar": "usd", "buck": "usd", "euro": "eur"}
_SYM = r"(?:us|ca|au|c|a)?\$|€|£|¥"
_CODE = "|".join(_CODES)
_WORD_RE = "|".join(_WORDS)
_MONEY = [
    re.compile(rf"(?<![a-z0-9])(?P<sym>{_SYM})\s?(?P<amt>{_AMOUNT})(?:\s?(?P<code>{_CODE})\b)?"),
    re.compile(rf"\b(?P<code>{_CODE})\s?(?:(?P<sym>{_SYM})\s?)?(?P<amt>{_AMOUNT})"),
    re.compile(rf"(?<![\w.,])(?P<amt>{_AMOUNT})\s?(?:(?P<sym>€|£|¥)|(?P<code>{_CODE})\b|"
               rf"(?P<word>{_WORD_RE})\b(?:\s(?:and\s)?(?P<cents>\d{{1,2}}) cent\b)?)"),
]


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str | None  # ISO code, lower case; None when the text gives none

    def matches(self, other: Money) -> bool:
        if self.amount != other.amount:
            return False
        return self.currency is None or other.currency is None or self.currency == other.currency


def _money(m: re.Match[str]) -> Money | None:
    amount = to_decimal(m.group("amt"))
    if amount is None:
        return None
    groups = m.groupdict()
    if groups.get("cents"):
        amount += Decimal(groups["cents"]) / 100
    currency = None
    if groups.get("code"):
        currency = groups["code"]
    elif groups.get("sym"):
        currency = _SYMBOLS.get(groups["sym"], "usd")
    elif groups.get("word"):
        currency = _WORDS[groups["word"]]
    return Money(amount, currency)


def find_money(text: str) -> list[Found]:
    """Amounts with a currency marker (symbol, ISO code or word), longest match first."""
    found: list[Found] = []
    for pattern in _MONEY:
        for m in pattern.finditer(text):
            money = _money(m)
            if money is not None:
                found.append(Found(m.start(), m.end(), money))
    return _non_overlapping(found)


def parse_money(form: str) -> Money | None:
    """A form that is exactly an amount with a currency ("$49", "49.00 usd", "usd 49")."""
    for pattern in _MONEY:
        m = pattern.fullmatch(form)
        if m:
            return _money(m)
    return None


# --------------------------------------------------------------------------- dates

_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
           "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12}
_MONTH_NAMES = {"january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7,
                "august": 8, "september": 9, "october": 10, "november": 11, "december": 12}
_MONTH = "|".join(sorted([*_MONTH_NAMES, *_MONTHS], key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th)?"
_DATES = [
    ("ymd", re.compile(r"(?<![\w-])(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?![\w-])")),
    ("mdy", re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}}){_ORD}\b(?:,?\s+(\d{{4}})\b)?")),
    ("dmy", re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?({_MONTH})\b\.?(?:,?\s+(\d{{4}})\b)?")),
    ("num", re.compile(r"(?<![\w/.-])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\w/])")),
    # dotted numeric dates are written day first ("02.06.2026" is 2 June)
    ("dot", re.compile(r"(?<![\w/.-])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\w/]|\.\d)")),
]


@dataclass(frozen=True, slots=True)
class Date:
    year: int | None
    month: int
    day: int

    def matches(self, other: Date) -> bool:
        if (self.month, self.day) != (other.month, other.day):
            return False
        return self.year is None or other.year is None or self.year == other.year


def _month(name: str) -> int:
    return _MONTH_NAMES.get(name) or _MONTHS[name]


def _date(kind: str, m: re.Match[str]) -> Date | None:
    a, b, c = m.group(1), m.group(2), m.group(3)
    if kind == "ymd":
        year, month, day = int(a), int(b), int(c)
    elif kind == "mdy":
        year, month, day = (int(c) if c else None), _month(a), int(b)
    elif kind == "dmy":
        year, month, day = (int(c) if c else None), _month(b), int(a)
    elif kind == "dot":
        year, month, day = int(c), int(b), int(a)
    else:
        first, second = int(a), int(b)
        month, day = (second, first) if first > 12 else (first, second)
        year = None if c is None else (int(c) + 2000 if len(c) == 2 else int(c))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return Date(year, month, day)


def find_dates(text: str) -> list[Found]:
    found: list[Found] = []
    for kind, pattern in _DATES:
        for m in pattern.finditer(text):
            date = _date(kind, m)
            if date is not None:
                found.append(Found(m.start(), m.end(), date))
    return _non_overlapping(found)


def parse_date(form: str) -> Date | None:
    """A form that is exactly a date, possibly without a year ("june 2", "08/03")."""
    for kind, pattern in _DATES:
        m = pattern.fullmatch(form)
        if m:
            return _date(kind, m)
    return None


# --------------------------------------------------------------------------- ids

_HAS_DIGIT = re.compile(r"\d")
_ID_TOKEN = re.compile(r"(?<![\w#-])#?[a-z0-9]+(?:[-_/][a-z0-9]+)*")
_ID_FORM = re.compile(r"#?[a-z0-9]+(?:[-_/.][a-z0-9]+)*")
_PREFIXED = re.compile(r"([a-z]+)[-_]?#?(\d+)")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_COMPACT = re.compile(r"[-_/.#\s]")


def compact(token: str) -> str:
    """An id without separators: ``RF-5120-2`` -> ``rf51202``."""
    return _COMPACT.sub("", token.lower())


@dataclass(frozen=True, slots=True)
class IdForm:
    """An identifier form.

    ``digits``: a bare number ("#5120"): matches "5120", "#5120", "inv-5120", "invoice 5120".
    Otherwise the form matches a token equal without separators ("RF-5120-2" = "rf 5120 2"
    glued or dashed); a letters-and-digits form ("inv-5120") also matches the bare digits after
    a word starting with its letters ("invoice #5120").
    """

    form: str
    digits: str | None
    prefix: str | None
    prefix_digits: str | None


def parse_id(form: str, *, numeric: bool) -> IdForm | None:
    """An id form: a token with a digit (``numeric``: a bare number counts as an id too)."""
    if not _ID_FORM.fullmatch(form) or not any(ch.isdigit() for ch in form):
        return None
    bare = form.lstrip("#")
    if bare.isdigit():
        return IdForm(form, bare, None, None) if (numeric or form.startswith("#")) else None
    if _ORDINAL.fullmatch(bare):
        return None
    m = _PREFIXED.fullmatch(bare)
    return IdForm(form, None, m.group(1) if m else None, m.group(2) if m else None)


def find_id_tokens(text: str) -> list[Found]:
    """Tokens that contain a digit, with their text as value."""
    return [Found(m.start(), m.end(), m.group(0)) for m in _ID_TOKEN.finditer(text)
            if _HAS_DIGIT.search(m.group(0))]


_PRECEDING_WORD = re.compile(r"([a-z]+)\W*(?:(?:no|nr|num|number|id)\W*)?$")


def id_matches(idf: IdForm, token: str, before: str, *, prefix_ok: bool = False) -> bool:
    """Whether ``token`` (from find_id_tokens) names the id; ``before`` is the text before it.

    ``prefix_ok`` also accepts longer ids that start with the form ("rf-4409" in "rf-4409-2")."""
    bare = token.lstrip("#")
    if idf.digits is not None:
        return bare == idf.digits or bool(re.fullmatch(rf"[a-z]{{1,12}}[-_]?#?{idf.digits}", bare))
    if compact(bare) == compact(idf.form):
        return True
    if prefix_ok and bare.startswith(idf.form.lstrip("#")) and bare[len(idf.form.lstrip("#")):][:1] in "-_/":
        return True
    if idf.prefix and idf.prefix_digits and bare == idf.prefix_digits:
        word = _PRECEDING_WORD.search(before[-40:])
        return bool(word and word.group(1).startswith(idf.prefix))
    return False


# --------------------------------------------------------------------------- quantities

_QUANTITY = re.compile(r"\d[\d.,]*(?:-\d[\d.,]*)?%?\s+[a-z][a-z ]*")


def is_quantity(form: str) -> bool:
    """A number (or range) followed by words: "3-5 business day", "72 hour", "50 lb"."""
    return bool(_QUANTITY.fullmatch(form))


def find_phrase(text: str, phrase: str) -> Iterator[tuple[int, int]]:
    """Occurrences of canonical ``phrase`` in ``text`` at word edges; a number at its start must
    not continue a range ("10 business day" is not in "5-10 business day")."""
    head = r"(?<![a-z0-9])" if phrase[:1].isalnum() else ""
    if phrase[:1].isdigit():
        head = r"(?<![\w.,$])(?<!\d-)"
    tail = r"(?:s|es|d|ed|ing)?(?![a-z0-9])" if phrase[-1:].isalpha() else (
        r"(?![a-z0-9])" if phrase[-1:].isdigit() else "")
    for m in re.finditer(head + re.escape(phrase) + tail, text):
        yield m.start(), m.end()


# --------------------------------------------------------------------------- helpers


def _non_overlapping(found: list[Found]) -> list[Found]:
    """Keep the longest of overlapping matches, in text order."""
    kept: list[Found] = []
    for item in sorted(found, key=lambda f: (-(f.end - f.start), f.start)):
        if all(item.end <= k.start or item.start >= k.end for k in kept):
            kept.append(item)
    return sorted(kept, key=lambda f: f.start)
