"""two_step: a word-overlap lookup over the task's documents, then one reply call.

Its own hop, ``lookup``, can run isolated (``isolated:lookup``): the lookup alone."""

from __future__ import annotations

import re
import time

from baton.runners.context import RunContext
from baton.runners.registry import Architecture
from baton.trace import Hop

_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 3}


async def run_two_step(ctx: RunContext) -> None:
    started = time.perf_counter()
    asked = _words(ctx.task.request)
    ranked = sorted(ctx.task.documents, key=lambda d: -len(asked & _words(d.title + " " + d.text)))
    found = [d for d in ranked[:1] if asked & _words(d.title + " " + d.text)]
    isolated = ctx.isolated == "lookup"
    ctx.add(Hop(kind="retrieve", name="lookup", input={"query": ctx.task.request},
                output={"doc_ids": [d.id for d in found], "record_ids": [], "chunks": []},
                latency_s=time.perf_counter() - started, isolated=isolated))
    if isolated:
        return
    context = "\n\n".join(d.text for d in found) or "(nothing found)"
    messages = [{"role": "system", "content": "Answer from the context only.\n\nContext:\n" + context},
                {"role": "user", "content": ctx.task.request}]
    response, hop = await ctx.chat("answerer", kind="generate", name="reply", messages=messages,
                                   hop_input={"doc_ids": [d.id for d in found]})
    hop.output = {"text": response.text}
    ctx.trace.answer = response.text


TWO_STEP = Architecture("two_step", run_two_step, isolated_hops=("lookup",),
                        description="word-overlap lookup, then one reply call")
