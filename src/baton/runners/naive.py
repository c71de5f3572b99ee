"""naive: one call with the request alone (no documents, no tools)."""

from __future__ import annotations

from baton.runners import prompts
from baton.runners.context import RunContext
from baton.runners.registry import register_architecture


@register_architecture("naive")
async def run_naive(ctx: RunContext) -> None:
    """One call with the request alone."""
    response, hop = await ctx.chat("answerer", kind="generate", name="answer",
                                   messages=prompts.naive(ctx.task), hop_input={"request": ctx.task.request})
    hop.output = {"text": response.text}
    ctx.trace.answer = response.text
