"""Does an ``ask`` reply ask for what is missing? (``gold.asks_for``)

A field is *asked for* when one of its forms occurs, asserted (not negated, not inside a quote of
the user's words), in a request to the user: a sentence with a question mark or a request cue
("could you", "please send", "I'll need", "what is", "let me know"...), or the lines that follow
a request ending in a colon ("Please reply with:" and the list items after it).
Mentioning a field is not asking for it ("I'll send the confirmation to your email address").
"""

from __future__ import annotations

import re

from baton.graders.spans import AnswerText
from baton.graders.text import canonical
from baton.graders.values import find_phrase
from baton.task import AskField

_REQUEST = re.compile(
    r"\?|\b(?:could you|can you|would you|will you|would you mind|may i (?:have|ask)|"
    r"please (?:send|share|provide|confirm|tell|reply|give|specify|include|let me know|attach|"
    r"upload|enter|check|clarify|add|forward)|kindly|if you (?:could|can)|let me know|tell me|"
    r"send (?:me|us|over|through)|reply with|(?:i|we)(?:'d| will| would| also| still)? need|"
    r"what is|what are|which|do you have)\b")
_COLON_END = re.compile(r":\s*$")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+\u2022]|\d+[.)])\s")


def _request_regions(answer: AnswerText) -> list[tuple[int, int]]:
    """Spans of the answer that ask the user for something."""
    text = answer.text
    regions = []
    for start, end in answer.sentences:
        sentence = text[start:min(len(text), end + 1)]
        if not _REQUEST.search(sentence):
            continue
        regions.append((start, end + 1))
        if _COLON_END.search(text[start:end].rstrip()) or text[end:end + 1] == ":":
            regions.append((end, _list_end(text, end)))
    return regions


def _list_end(text: str, pos: int) -> int:
    """End of the list (or the paragraph) that follows a colon at ``pos``: blank lines and list
    items belong to it, as does the rest of the colon's own line."""
    line_end = text.find("\n", pos)
    if line_end == -1:
        return len(text)
    if text[pos:line_end].strip(" :"):  # "... please send: your member ID and DOB" on one line
        return line_end
    end = line_end
    for m in re.finditer(r"[^\n]*(?:\n|$)", text[line_end + 1:]):
        line = m.group(0)
        if not line:
            break
        if line.strip() and not _LIST_ITEM.match(line):
            break
        end = line_end + 1 + m.end()
    return end


def missing_asks(fields: list[AskField], answer: AnswerText) -> list[str]:
    """Ids of the fields of ``fields`` that ``answer`` does not ask for."""
    if not fields:
        return []
    regions = _request_regions(answer)
    missing = []
    for field in fields:
        asked = False
        for raw in field.forms:
            for start, end in find_phrase(answer.text, canonical(raw)):
                if any(s <= start and end <= e for s, e in regions) and answer.asserted(start, end):
                    asked = True
                    break
            if asked:
                break
        if not asked:
            missing.append(field.id)
    return missing
