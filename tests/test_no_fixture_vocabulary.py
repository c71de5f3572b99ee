"""No task id, record id or distinctive word of ``fixtures/`` appears in ``src/baton/``.

Code that passes because it was written against our golden set is a defect (a simulator with one
domain's phrases, a grader with one task's ids). What counts as *distinctive*:

* task slugs, domain names with a separator, document ids, route labels, tool names and
  collection names of the golden set, record ids (four characters or more) and e-mail addresses;
* names: words of five letters or more that the fixtures capitalise in mid-sentence and never
  write in lower case (people, companies, places, products), unless they occur in the Python
  standard library's own source, our offline stand-in for a general English word list.

Ordinary words ("refund", "invoice", "booking") are not flagged: they belong to any support desk.
"""

from __future__ import annotations

import re
import sysconfig
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
SRC = ROOT / "src" / "baton"
# Names that the fixtures use and Baton legitimately names too (libraries Baton integrates with).
ALLOWED = {"hugging", "teams"}  # "teams": an ordinary plural that the fixtures also capitalise (a product)
_MID_SENTENCE_NAME = re.compile(r"(?<=[a-z,;] )([A-Z][a-z]{4,})(?![\w-])")
_LOWER_WORD = re.compile(r"(?<![\w-])([a-z]{5,})(?![\w-])")


@lru_cache(maxsize=1)
def general_words() -> frozenset[str]:
    """Lower-case words of five letters or more in the standard library's source (not its tests)."""
    words: set[bytes] = set()
    pattern = re.compile(rb"[a-z]{5,}")
    for path in Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"):
        if "test" in path.parts or "tests" in path.parts or "site-packages" in path.parts:
            continue
        words.update(pattern.findall(path.read_bytes().lower()))
    return frozenset(w.decode() for w in words)


def _walk(value: Any, found: set[str]) -> None:
    """Add every e-mail address found in ``value`` (nested dicts and lists) to ``found``."""
    if isinstance(value, dict):
        for item in value.values():
            _walk(item, found)
    elif isinstance(value, list):
        for item in value:
            _walk(item, found)
    elif isinstance(value, str) and re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", value):
        found.add(value)


def fixture_identifiers() -> set[str]:
    """Slugs, labels, tool and collection names, document and record ids, e-mail addresses."""
    found: set[str] = set()
    for domain_file in FIXTURES.glob("*/domain.yaml"):
        data = yaml.safe_load(domain_file.read_text()) or {}
        found.add(str(data.get("domain", domain_file.parent.name)))
        found.update(str(r["label"]) for r in data.get("routes") or ())
        found.update(str(t["name"]) for t in data.get("tools") or ())
        for collection, records in ((data.get("world") or {}).get("collections") or {}).items():
            found.add(str(collection))
            found.update(str(rid) for rid in (records or {}) if len(str(rid)) >= 4)
        _walk(data, found)
    for task_file in FIXTURES.glob("*/tasks/*.yaml"):
        data = yaml.safe_load(task_file.read_text()) or {}
        found.add(str(data.get("id", "")).split("/")[-1])
        for collection, records in ((data.get("world") or {}).get("collections") or {}).items():
            found.update(str(rid) for rid in (records or {}) if len(str(rid)) >= 4)
        _walk(data, found)
    for doc in FIXTURES.glob("*/docs/*.md"):
        found.add(doc.stem)
        match = re.search(r"^id:\s*(\S+)", doc.read_text(), re.M)
        if match:
            found.add(match.group(1))
    # a one-word route label or domain ("other", "travel") is an ordinary word
    return {w for w in found if w and ("_" in w or "-" in w or "@" in w or any(ch.isdigit() for ch in w))}


def fixture_names() -> set[str]:
    """Words the fixtures capitalise in mid-sentence, never write in lower case, and English lacks."""
    capitalised, lower = set(), set()
    for path in FIXTURES.rglob("*"):
        if path.suffix in (".yaml", ".md"):
            text = path.read_text()
            capitalised.update(w.lower() for w in _MID_SENTENCE_NAME.findall(text))
            lower.update(_LOWER_WORD.findall(text))
    return capitalised - lower - general_words() - ALLOWED


def _hits(words: set[str], *, ignore_case: bool) -> list[str]:
    sources = {path: path.read_text() for path in SRC.rglob("*") if path.suffix in (".py", ".toml", ".md", ".j2",
                                                                                      ".html", ".yaml")}
    flags = re.I if ignore_case else 0
    hits = []
    for word in sorted(words):
        pattern = re.compile(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", flags)
        hits += [f"{word!r} in {path.relative_to(ROOT)}" for path, text in sources.items() if pattern.search(text)]
    return hits


def test_the_vocabulary_lists_are_not_empty() -> None:
    ids, names = fixture_identifiers(), fixture_names()
    assert len(ids) > 50 and len(names) > 20
    assert "refund" not in names and "invoice" not in names  # ordinary words stay allowed


def test_no_fixture_identifier_in_the_package() -> None:
    hits = _hits(fixture_identifiers(), ignore_case=False)
    assert not hits, "fixture identifiers in src/baton: " + "; ".join(hits)


def test_no_distinctive_fixture_word_in_the_package() -> None:
    hits = _hits(fixture_names(), ignore_case=True)
    assert not hits, "distinctive fixture words in src/baton: " + "; ".join(hits)
