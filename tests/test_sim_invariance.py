"""Invariance: rewording the golden set without changing its meaning changes no outcome.

Every request and document is rewritten: synonyms for everyday words, clauses in another order,
ids in another format (``#`` before a bare number, quotes around a code). Fact values, forbidden
claims and ids keep their value. The simulated vendor knows gold, not wording, so with a
zero-error profile each system passes or fails exactly the tasks it did before.
"""

from __future__ import annotations

import re

import pytest

from baton.client import ClientPool
from baton.fixtures import load_tasks
from baton.graders import grade_run
from baton.runners import run_task
from baton.systems import BUILTIN_SYSTEMS
from baton.task import Document, GoldenTask
from baton.vendors import VendorProfile

PERFECT = {"perfect": VendorProfile(name="perfect", kind="sim", model="perfect")}
SYNONYMS = {"please": "kindly", "want": "would like", "need": "require", "help": "assist", "hi": "hello",
            "thanks": "many thanks", "quickly": "promptly", "also": "as well", "just": "only", "get": "obtain",
            "show": "display", "make": "create", "check": "verify", "tell": "inform", "able": "in a position",
            "customer": "client", "before": "prior to", "after": "following", "about": "regarding"}
_WORD = re.compile(r"\b[A-Za-z]+\b")
_BARE_NUMBER_ID = re.compile(r"(?<![\w#$.,-])(\d{4,})(?![\w.,]*\d)(?!\s*(?:%|am|pm))")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _protected(task: GoldenTask) -> set[str]:
    words: set[str] = set()
    for text in [*(f for fact in task.gold.facts for f in fact.forms), *task.gold.forbidden_claims]:
        words.update(w.lower() for w in _WORD.findall(text))
    return words


def _synonyms(text: str, protected: set[str]) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        new = SYNONYMS.get(word.lower())
        if new is None or word.lower() in protected:
            return word
        return new.capitalize() if word[0].isupper() else new
    return _WORD.sub(swap, text)


def _reorder(text: str) -> str:
    """The sentences of a request in another order (the last first)."""
    sentences = _SENTENCE.split(text.strip())
    return " ".join([sentences[-1], *sentences[:-1]]) if len(sentences) > 1 else text


def _ids(text: str) -> str:
    return _BARE_NUMBER_ID.sub(lambda m: f"#{m.group(1)}", text)


def reword(task: GoldenTask) -> GoldenTask:
    protected = _protected(task)
    request = _ids(_reorder(_synonyms(task.request, protected)))
    if request == task.request:  # nothing to swap or reorder: a greeting changes no meaning
        request = f"Good day. {request}"
    documents = [Document(id=d.id, title=d.title, text=_synonyms(d.text, protected), path=d.path)
                 for d in task.documents]
    return task.model_copy(update={"request": request, "documents": documents})


async def _statuses(tasks: list[GoldenTask], system: str) -> dict[str, str]:
    async with ClientPool(PERFECT, tasks=tasks) as pool:
        return {t.id: grade_run(t, await run_task(t, BUILTIN_SYSTEMS[system], "perfect", clients=pool)).status
                for t in tasks}


def test_the_rewrite_changes_every_request() -> None:
    tasks = load_tasks("fixtures")
    changed = [t for t in tasks if reword(t).request != t.request]
    assert len(changed) == len(tasks)


@pytest.mark.e2e
@pytest.mark.parametrize("system", ["multi_agent", "rag", "naive"])
async def test_rewording_the_golden_set_changes_no_outcome(system: str) -> None:
    tasks = load_tasks("fixtures")
    before = await _statuses(tasks, system)
    after = await _statuses([reword(t) for t in tasks], system)
    changed = {task_id: (before[task_id], after[task_id]) for task_id in before if before[task_id] != after[task_id]}
    assert not changed, changed
