"""The article's critique loop as an AutoGen team: a drafter answers the customer, looking records
up and acting with the support tools, and a critic reviews each draft ("a second agent validates
output"); the loop ends when the critic approves, or after three rounds. Nothing in this file knows
about Baton.

In production the team gets its model client and its tools from the caller::

    team = make_team(OpenAIChatCompletionClient(model="gpt-4o"),
                     McpWorkbench(StreamableHttpServerParams(url="https://tools.internal/mcp")))
    result = await team.run(task="My invoice #4471 shows a charge I didn't authorize, can you refund it?")

Run through Baton with configuration only (``runners/systems.toml``)::

    [autogen_critique]
    architecture = "autogen"
    hop_purposes = {drafter = "draft", critic = "verify"}
    params = {target = "examples/autogen_critique/team.py:make_team"}

Baton calls ``make_team`` once per run with a model client served by its model gateway (each call
metered and attributed to the agent that made it) and a workbench over the task's world (MCP).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import FunctionalTermination, MaxMessageTermination
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StructuredMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core.models import ChatCompletionClient
from autogen_core.tools import Workbench
from pydantic import BaseModel

from critique_prompts import CRITIC, DRAFTER  # a sibling module: the team's folder is importable

ROUNDS = 3


class Review(BaseModel):
    """The critic's structured verdict on a draft."""

    verdict: Literal["pass", "fail"]
    issues: list[str]


def approved(messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> bool:
    return any(isinstance(m, StructuredMessage) and isinstance(m.content, Review) and m.content.verdict == "pass"
               for m in messages)


def make_team(model_client: ChatCompletionClient, workbench: Workbench) -> RoundRobinGroupChat:
    drafter = AssistantAgent("drafter", model_client=model_client, workbench=workbench, system_message=DRAFTER,
                             max_tool_iterations=8, reflect_on_tool_use=True)
    critic = AssistantAgent("critic", model_client=model_client, system_message=CRITIC, output_content_type=Review)
    # the task message, then a draft and a review per round
    done = FunctionalTermination(approved) | MaxMessageTermination(1 + 2 * ROUNDS)
    return RoundRobinGroupChat([drafter, critic], termination_condition=done,
                               custom_message_types=[StructuredMessage[Review]])
