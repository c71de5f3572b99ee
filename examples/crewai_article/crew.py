"""The article's role-based crew: a router, a researcher, an executor and a verifier, in sequence.

Plain CrewAI; nothing in this file imports Baton. ``build_crew(request)`` is called once per run
with the task's user-visible parts (``routes``, ``documents``, ``mcp_url``, ...) and returns the
crew that Baton kicks off with ``{request}``, ``{customer}``, ``{today}``, ``{policy}`` ... as
inputs:

1. **router** — classifies the request into one of the task's routes (structured output); the
   executor is then told the topic, as a specialist desk would be;
2. **researcher** — reads the knowledge-base articles a keyword search finds and notes what
   applies (no tools: research only);
3. **executor** — acts through the task's tools, served over MCP, and writes the reply;
4. **verifier** — checks the reply and the actions taken (structured ``pass``/``fail`` verdict).

The LLM is a plain ``LLM(model=...)``: ``OPENAI_BASE_URL`` decides where it goes (Baton points it
at its model gateway). Run it through Baton with configuration only (``runners/systems.toml``)::

    [crewai_article]
    architecture = "crewai"
    hop_purposes = {router = "intent_route", researcher = "retrieve", executor = "act", verifier = "verify"}
    params = {target = "examples/crewai_article/crew.py:build_crew"}
"""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from crewai import LLM, Agent, Crew, Process, Task
from crewai.mcp import MCPServerHTTP
from crewai.tools import BaseTool
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from pydantic import BaseModel, Field, create_model

MODEL = "gpt-4o-mini"
TOP_DOCUMENTS = 3
_WORD = re.compile(r"[a-z0-9]+")
_BRACES = str.maketrans("{}", "()")


class Verdict(BaseModel):
    verdict: Literal["pass", "fail"]
    issues: list[str] = Field(default_factory=list)


def route_model(labels: list[str]) -> type[BaseModel]:
    """The router's structured output: one of this task's route labels."""
    if not labels:
        return create_model("Route", route=(str, ...))
    return create_model("Route", route=(Literal[tuple(labels)], ...))  # type: ignore[valid-type]


def search(documents: list[dict[str, str]], query: str, k: int = TOP_DOCUMENTS) -> list[dict[str, str]]:
    """The ``k`` documents sharing the most words with ``query`` (the researcher's search)."""
    words = set(_WORD.findall(query.lower()))
    scored = [(len(words & set(_WORD.findall(f"{d['title']} {d['text']}".lower()))), i, d)
              for i, d in enumerate(documents)]
    return [d for score, _, d in sorted(scored, key=lambda s: (-s[0], s[1]))[:k] if score > 0]


def tool_lines(messages: list[Any]) -> list[str]:
    """The tool calls in an agent's messages as ``name({arguments}) -> result`` lines."""
    results = {m.get("tool_call_id"): str(m.get("content", "")) for m in messages
               if isinstance(m, dict) and m.get("role") == "tool"}
    lines = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except ValueError:
                arguments = {}
            result = results.get(call.get("id"), "").replace("\n", " ")
            lines.append(f"{function.get('name')}({json.dumps(arguments, sort_keys=True)}) -> {result}")
    return lines


class WorldTool(BaseTool):
    """One of the task's tools, called on the run's world over MCP (a fresh session per call)."""

    url: str

    def _run(self, **arguments: Any) -> str:
        with ThreadPoolExecutor(max_workers=1) as pool:  # its own event loop, whatever the caller runs in
            return pool.submit(asyncio.run, call_world(self.url, self.name, arguments)).result()


async def call_world(url: str, name: str, arguments: dict[str, Any]) -> str:
    async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool(name, arguments)
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    return f"ERROR: {text}" if result.isError else text


def world_tools(agent: Agent, url: str) -> list[BaseTool]:
    """The task's tools from its MCP server, under their own names.

    ``Agent(mcps=[MCPServerHTTP(url)])`` is the short way, but with crewai 1.15.30 and mcp 1.30
    each call's teardown fails ("Attempted to exit cancel scope in a different task than it was
    entered in"), so the agent is told a call failed that the world carried out; and CrewAI names
    those tools ``<server>_<tool>``, while Baton's simulated vendor knows a task's tools by their
    own names. The discovery (names, descriptions, argument schemas) is CrewAI's."""
    return [WorldTool(name=getattr(tool, "original_tool_name", tool.name), description=tool.description,
                      args_schema=tool.args_schema, url=url)
            for tool in agent.get_mcp_tools([MCPServerHTTP(url=url)])]


def build_crew(request: dict[str, Any]) -> Crew:
    """The crew for one customer request (the task's routes, documents and MCP world)."""
    llm = LLM(model=MODEL, temperature=0)
    labels = [r["label"] for r in request.get("routes") or []]
    found = search(request.get("documents") or [], request["request"])
    # CrewAI fills {placeholders} in descriptions: an article's own braces must not look like one
    articles = "\n\n".join(f"[{d['id']}] {d['title']}\n{d['text']}" for d in found).translate(_BRACES) \
        or "(no article matched)"

    router = Agent(role="router", goal="Send each customer request to the desk that handles it.",
                   backstory="You triage incoming customer requests.", llm=llm, allow_delegation=False)
    researcher = Agent(role="researcher", goal="Find what the knowledge base says about the request.",
                       backstory="You read the support knowledge base carefully.", llm=llm, allow_delegation=False)
    executor = Agent(role="executor", goal="Resolve the customer's request with the tools and reply to them.",
                     backstory="You handle customer requests end to end.", llm=llm,
                     allow_delegation=False, max_iter=12)
    if request.get("mcp_url"):
        executor.tools = world_tools(executor, request["mcp_url"])
    verifier = Agent(role="verifier", goal="Catch wrong or incomplete replies before they reach the customer.",
                     backstory="You review replies and the actions behind them.", llm=llm, allow_delegation=False)

    def routed(output: Any) -> None:  # the executor works the chosen desk
        route = getattr(output.pydantic, "route", None) or output.raw
        executor.backstory = f"You handle customer requests end to end.\nTopic: {route}"

    def acted(output: Any) -> None:  # the verifier sees the reply and the actions behind it
        actions = "\n".join(tool_lines(list(output.messages or []))) or "(none)"
        verifier.backstory = f"You review replies and the actions behind them.\nActions taken:\n{actions}"
        verify.description = f"Check the reply against the request: {request['request']}\nReply to check: {output.raw}"

    route = Task(name="router", agent=router, callback=routed, output_pydantic=route_model(labels),
                 description="Classify the customer's request.\nRoutes:\n{routes}\nRequest: {request}",
                 expected_output="The route label.")
    research = Task(name="researcher", agent=researcher,
                    description=f"Request: {{request}}\nWhat do these knowledge-base articles say about it?\n\n"
                                f"{articles}",
                    expected_output="The facts and policies that apply, citing article ids.")
    act = Task(name="executor", agent=executor, context=[route, research], callback=acted,
               description="Today is {today}. Customer: {customer}\nEarlier conversation:\n{conversation}\n"
                           "Policy: {policy}\nRequest: {request}\nTake the actions the request needs, then "
                           "write the reply to the customer.",
               expected_output="The reply to the customer.")
    verify = Task(name="verifier", agent=verifier, output_pydantic=Verdict,
                  description="Check the reply against the request: {request}",
                  expected_output="pass or fail, and the issues found.")
    return Crew(agents=[router, researcher, executor, verifier], tasks=[route, research, act, verify],
                process=Process.sequential, verbose=False)
