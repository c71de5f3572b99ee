"""A Python function as the system under test (architecture ``callable``).

A small tool-using agent: it lists the run's tools over MCP (``request.mcp_url``), lets a model
call them (at most four rounds), and returns the model's reply with one hop event per model call.
Baton records every tool call the world served and grades the world the agent leaves behind.

Configure it as a system (``runners/systems.toml`` or ``[tool.baton.systems.*]``)::

    [callable_example]
    architecture = "callable"
    params = {target = "examples/callable_agent.py:answer"}

``request.chat_client(role)`` is the Baton model client of that role on the run's vendor; any
other client (``openai.AsyncOpenAI`` pointed at a profile's ``base_url``) works the same way.
"""

from __future__ import annotations

import json
import time

from mcp import Client

from baton.runners import AdapterRequest, AdapterResponse, HopEvent

MAX_ROUNDS = 4


async def answer(request: AdapterRequest) -> AdapterResponse:
    started = time.perf_counter()
    model = request.chat_client("actor")
    system = (f"You are a customer support agent. Policy: {request.policy or 'be helpful'}\n"
              f"Today: {request.today}. Use the tools to look records up and act; then reply to the customer "
              "with what was done, quoting amounts, reference numbers and timing from the tool results.")
    messages: list[dict] = [{"role": "system", "content": system}, *request.messages()]
    hops: list[HopEvent] = []
    async with Client(request.mcp_url) as mcp:
        listed = await mcp.list_tools()
        tools = [{"type": "function", "function": {"name": t.name, "description": t.description or "",
                                                   "parameters": t.input_schema}} for t in listed.tools]
        for _ in range(MAX_ROUNDS):
            at = time.perf_counter() - started
            reply = await model.chat(messages, tools=tools)
            calls = [{"name": c.name, "arguments": c.arguments} for c in reply.tool_calls]
            hops.append(HopEvent(kind="generate", name="agent", output={"text": reply.text, "tool_calls": calls},
                                 latency_s=reply.latency_s, started_s=at, usage=reply.usage,
                                 vendor=reply.vendor, model=reply.model, error=reply.error))
            if not reply.tool_calls:
                return AdapterResponse(answer=reply.text, hops=hops)
            messages.append({"role": "assistant", "content": reply.text or "", "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                for c in reply.tool_calls]})
            for call in reply.tool_calls:
                result = await mcp.call_tool(call.name, call.arguments)
                text = " ".join(getattr(block, "text", "") for block in result.content)
                messages.append({"role": "tool", "tool_call_id": call.id,
                                 "content": f"ERROR: {text}" if result.is_error else text})
    return AdapterResponse(answer="", hops=hops)
