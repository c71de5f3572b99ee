"""Lexical tools of the simulated vendor: tokens, sentences, sections, entities, BM25.

Everything here is generic text processing; nothing knows about any particular domain."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SUFFIXES = ("ational", "ations", "ation", "ings", "ing", "edly", "ied", "ies", "ed", "es", "ly", "s", "e")
STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being
it its this that these those i me my we our you your he she they them their his her can could would should
will shall may might do does did have has had not no so than then there here what which who whom how when
where why please any all some just also into about up out over only own same too very s t don't can't
i'm i've it's let me us am want wants wanted need needs like help hi hello hey thanks thank know tell
pls ok okay""".split())
_GENERIC_NAME_TOKENS = frozenset({"id", "ids", "number", "no", "num", "ref", "code", "key", "value"})


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude suffix stripper: enough to match refund/refunded, charge/charges, cancel/cancelled."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=16384)
def tokens(text: str) -> tuple[str, ...]:
    """Lower-cased, stop-word-free, stemmed word tokens (memoised: prompts repeat across calls)."""
    return tuple(stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS)


@lru_cache(maxsize=16384)
def name_tokens(name: str) -> tuple[str, ...]:
    """Tokens of an identifier like ``refund_invoice`` or ``customerId``."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ")
    return tokens(spaced)


def significant(name_toks: Iterable[str]) -> list[str]:
    return [t for t in name_toks if t not in _GENERIC_NAME_TOKENS]


def fuzzy_eq(a: str, b: str) -> bool:
    """Same token, or one long stem contains the other (authoriz ~ unauthoriz)."""
    if a == b:
        return True
    if len(a) > len(b):
        a, b = b, a
    if len(a) >= 3 and b.startswith(a):
        return True
    return len(a) >= 5 and a in b


def overlap(query: Sequence[str] | set[str], target: Iterable[str]) -> int:
    """How many target tokens (distinct) some query token matches."""
    qset = set(query)
    n = 0
    for t in set(target):
        if t in qset or (len(t) >= 3 and any(fuzzy_eq(t, q) for q in qset)):
            n += 1
    return n


_SENT_SPLIT = re.compile(r"(?<=[.!?])(?<!\b\d\.)\s+(?=[A-Z0-9\"'*(\[])|\n+|\s+#{1,6}\s+|\s+[-*]\s+(?=[A-Z*])")
_MARKUP = re.compile(r"^[\s>#*\-\u2022]+|[*_`]+")


@lru_cache(maxsize=4096)
def sentences(text: str) -> tuple[str, ...]:
    """Sentences and lines of ``text``, markdown bullets and emphasis stripped."""
    out = []
    for raw in _SENT_SPLIT.split(text):
        s = _MARKUP.sub("", raw).strip()
        if len(s) > 2 and not s.startswith("---"):
            out.append(s)
    return tuple(out)


_HEADER = re.compile(r"^\s*(?:#+\s*)?([A-Za-z][A-Za-z /_-]{0,40}):\s*(.*)$")


def sections(text: str) -> list[tuple[str, str]]:
    """Split on header lines (``Question:``, ``## Context:``); ('', text) when there are none."""
    out: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m and len(m.group(1).split()) <= 4:
            out.append((m.group(1).strip().lower(), [m.group(2)] if m.group(2) else []))
        else:
            out[-1][1].append(line)
    return [(h, "\n".join(body).strip()) for h, body in out if h or "\n".join(body).strip()]


# --- entities ------------------------------------------------------------------------------

@dataclass(slots=True)
class Entity:
    """A value found in the conversation: its text, its shape, the words around it, its source."""

    value: str
    kind: str  # id | code | amount | number | email | date | text
    context: frozenset[str]
    source: str  # user | system | tool | assistant
    key: str = ""  # the JSON key it came from (tool results)
    relevance: float = 0.0  # how well its record matches the question (tool results)
    group: int = -1  # which JSON object it came from (tool results): values of one record share it
    lineage: tuple[int, ...] = ()  # that object and the objects around it, innermost first
    origin: str = ""  # the tool whose result it came from

    def number(self) -> float | None:
        try:
            return float(self.value.replace(",", "").lstrip("$€£"))
        except ValueError:
            return None


_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_DATE = r"\d{4}-\d{2}-\d{2}"
_CODE = (r"\b(?=[A-Z\d-]*\d)(?=[A-Z\d-]*[A-Z])[A-Z\d]+(?:-[A-Z\d]+)+\b"  # C-1001, LA214-2026-10-18
         r"|\b(?=[A-Z]*\d)(?=\d*[A-Z])[A-Z\d]{5,}\b")  # KQ7M2X
_MONEY = (r"[$€£]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|dollars)\b"
          r"|\b(?:USD|EUR|GBP)\s?\d[\d,]*(?:\.\d+)?")
_HASH_ID = r"#\s?[A-Za-z0-9][\w-]*"
_NUMBER = r"\b\d+(?:\.\d+)?\b"
_ENTITY = re.compile(
    f"(?P<email>{_EMAIL})|(?P<code>{_CODE})|(?P<date>{_DATE})|(?P<amount>{_MONEY})|"
    f"(?P<id>{_HASH_ID})|(?P<number>{_NUMBER})")
_NOT_ID_NOUNS = STOPWORDS | frozenset("""year years day days month months week weeks hour hours minute minutes
since until before after than per about around over under within last next top""".split())
_MONEY_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")
_PRECEDING = re.compile(r"[A-Za-z]+")


def text_entities(text: str, source: str) -> list[Entity]:
    """Emails, dates, codes (C-1001), amounts ($49, 49.00 USD), #ids and numbers in ``text``."""
    out = []
    for m in _ENTITY.finditer(text):
        kind = m.lastgroup or "number"
        value = m.group()
        if kind == "amount":
            value = _MONEY_NUM.search(value).group().replace(",", "")  # type: ignore[union-attr]
        elif kind == "id":
            value = value.lstrip("#").strip()
        window = text[max(0, m.start() - 40): m.start()]
        window = window[max(window.rfind(c) for c in ".\n?!,;") + 1:]
        words = _PRECEDING.findall(window)[-3:]
        context = frozenset(stem(w.lower()) for w in words if w.lower() not in STOPWORDS)
        if kind == "number" and len(value) >= 3 and "." not in value and words \
                and words[-1].lower() not in _NOT_ID_NOUNS and not (1900 <= int(value) <= 2100):
            kind = "id"  # 'invoice 4471', 'order number 12345'
        out.append(Entity(value, kind, context, source))
    return out


def json_entities(obj: Any, source: str = "tool", parent: str = "", _groups: list[int] | None = None,
                  _lineage: tuple[int, ...] = ()) -> list[Entity]:
    """Scalar values of a JSON document, each with its key (and parent key) as context, the
    number of the object it belongs to as ``group`` and the enclosing objects as ``lineage``."""
    counter = _groups if _groups is not None else [0]
    out: list[Entity] = []
    if isinstance(obj, dict):
        group = counter[0]
        counter[0] += 1
        lineage = (group, *_lineage)
        for key, value in obj.items():
            key = str(key)
            if isinstance(value, (dict, list)):
                if isinstance(value, dict) and re.fullmatch(r"[A-Z]{0,5}-?\d[\w-]*", key):
                    # records keyed by id: {"4471": {...}}
                    ctx = frozenset(name_tokens(parent) + ("id",))
                    out.append(Entity(key, _scalar_kind("id", key), ctx, source, "id", group=counter[0],
                                      lineage=(counter[0], *lineage)))
                out.extend(json_entities(value, source, key, counter, lineage))
            elif value is not None:
                ctx = frozenset(name_tokens(key) + name_tokens(parent))
                out.append(Entity(_scalar_text(value), _scalar_kind(key, value), ctx, source, key, group=group,
                                  lineage=lineage))
    elif isinstance(obj, list):
        for item in obj:
            out.extend(json_entities(item, source, parent, counter, _lineage))
    return out


_STALE = re.compile(r"supersed|outdated|obsolete|retired|archived|deprecated|no longer (?:valid|appl|in effect)"
                    r"|not (?:company )?policy|unverified|previous (?:version|policy)|replaced by", re.I)
_DOC_LINE = re.compile(r"^\s*\[([^\]]+)\]\s*(.*)$")


def stale_line(line: str) -> bool:
    """A quoted document line (``[doc-id] Title: text``) whose id or opening marks it as
    superseded, outdated, retired or not policy."""
    m = _DOC_LINE.match(line)
    if not m or m.group(1).startswith("record"):
        return False
    return bool(_STALE.search(m.group(1)) or _STALE.search(m.group(2)[:160]))


@lru_cache(maxsize=4096)
def current_text(text: str) -> str:
    """``text`` without its stale document lines (see :func:`stale_line`)."""
    if "[" not in text:
        return text
    return "\n".join(line for line in text.splitlines() if not stale_line(line))


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.2f}"
    return str(value)


MONEY_KEYS = ("amount", "price", "total", "cost", "balance", "fee", "paid", "charge", "fare", "refunded")


def _scalar_kind(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "text"
    if isinstance(value, (int, float)):
        return "amount" if any(t in key.lower() for t in MONEY_KEYS) \
            else "number"
    text = str(value)
    if re.fullmatch(_EMAIL, text):
        return "email"
    if re.fullmatch(_DATE, text):
        return "date"
    if re.fullmatch(r"[A-Z]{1,5}-\d[\w-]*", text) or re.fullmatch(_CODE, text):
        return "code"
    if re.fullmatch(r"\d+", text):
        return "id"
    lkey = key.lower()
    if " " not in text and (lkey == "id" or lkey.endswith(("_id", "id", "locator", "reference", "ref", "_number"))):
        return "id"
    return "text"


# --- numbers a text asserts (for verification) -----------------------------------------------

_CLAIM = re.compile(r"[A-Z]{1,5}-\d[\w-]*|\d[\d,]*(?:\.\d+)?")


def claims(text: str) -> list[str]:
    """Numbers, amounts and codes stated in ``text``, normalised (49.00 -> 49, 1,200 -> 1200)."""
    out = []
    for m in _CLAIM.finditer(text):
        out.append(normalise_claim(m.group()))
    return out


def normalise_claim(token: str) -> str:
    if token[0].isdigit():
        token = token.replace(",", "")
        try:
            num = float(token)
        except ValueError:
            return token
        return str(int(num)) if num.is_integer() else repr(num)
    return token.upper()


# --- BM25 ----------------------------------------------------------------------------------

def bm25_rank(query: Sequence[str], docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25 scores of tokenised ``docs`` for a tokenised ``query`` (a small, allocation-light form)."""
    n = len(docs)
    if n == 0:
        return []
    avgdl = sum(len(d) for d in docs) / n or 1.0
    qset = set(query)
    df: Counter[str] = Counter()
    tfs = []
    for d in docs:
        tf = Counter(t for t in d if t in qset)
        tfs.append(tf)
        df.update(tf.keys())
    scores = []
    for d, tf in zip(docs, tfs, strict=True):
        s = 0.0
        norm = k1 * (1 - b + b * len(d) / avgdl)
        for t, f in tf.items():
            idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
            s += idf * f * (k1 + 1) / (f + norm)
        scores.append(s)
    return scores
