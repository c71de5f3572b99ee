"""The trace of one run: the ordered hops, the final answer, the final world state.

The trace is the only thing graders see of a run. It is plain, versioned, JSON-serialisable data.

Hop kinds and what their ``output`` holds (runners and adapters must follow this, graders rely on it):

=========  ===============================================================================
kind       output keys
=========  ===============================================================================
route      ``route``: the chosen label (str)
retrieve   ``doc_ids``: document ids in rank order; ``record_ids``: world record refs
           ('invoices/5120') looked up; optional ``chunks``: list of {doc_id, text, score}
generate   ``text``: the drafted or final answer; optional ``tool_calls``: list of {name, arguments}
           the model requested
tool       ``name``, ``arguments`` (dict), ``result`` (JSON or null), ``error`` (str or null),
           ``side_effect`` (bool: the tool writes to the world)
verify     ``verdict``: 'pass' | 'fail'; ``issues``: list of str
=========  ===============================================================================

``Hop.name`` says which step of the architecture it is ('route', 'retrieve', 'draft', 'act',
'verify', 'revise', 'answer', or an adapter's node name). ``Hop.isolated`` marks a hop that was
fed gold inputs instead of its upstream hops' outputs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TRACE_VERSION = 1

HopKind = Literal["route", "retrieve", "generate", "tool", "verify"]
HOP_KINDS: tuple[HopKind, ...] = ("route", "retrieve", "generate", "tool", "verify")


class Usage(BaseModel):
    """What a model call (or a sum of them) cost."""

    model_config = ConfigDict(extra="forbid")

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    cached_calls: int = 0
    retries: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd += other.cost_usd
        self.calls += other.calls
        self.cached_calls += other.cached_calls
        self.retries += other.retries


class Hop(BaseModel):
    """One step of a run."""

    model_config = ConfigDict(extra="forbid")

    kind: HopKind
    name: str
    vendor: str | None = Field(default=None, description="Vendor profile that served this hop, if any.")
    model: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)
    latency_s: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    error: str | None = Field(default=None, description="What went wrong in this hop, if anything.")
    infra_error: bool = Field(default=False, description="The error is the vendor's (after retries), "
                                                         "not the system's.")
    isolated: bool = False
    truncated: bool = Field(default=False, description="The model stopped at its output-token limit "
                            "(finish_reason 'length'): what it wrote is cut off.")
    purpose: str | None = Field(default=None, description="What the hop does in its system, as the "
                                "system declares it: 'intent_route', 'model_select', 'retrieve', "
                                "'draft', 'act', 'verify' or 'step'. None: inferred from kind/name.")


class Trace(BaseModel):
    """Everything observable about one run of one task on one system."""

    model_config = ConfigDict(extra="forbid")

    version: int = TRACE_VERSION
    task_id: str
    task_version: int
    system: str = Field(description="Named system configuration, e.g. 'multi_agent@sim-frontier'.")
    architecture: str
    vendors: dict[str, str] = Field(default_factory=dict, description="role -> vendor profile name")
    simulated: bool = Field(default=False, description="Any hop was served by a simulated vendor.")
    trial: int = 0
    seed: int = 0
    mode: str = Field(default="system", description="'system', or 'isolated:<hop name>'.")
    hops: list[Hop] = Field(default_factory=list)
    answer: str = ""
    final_state: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    infra_error: str | None = Field(default=None, description="Set when the run could not be "
                                    "completed for infrastructure reasons (vendor down after retries). "
                                    "Such runs are excluded from success rates.")
    latency_s: float = 0.0
    usage: Usage = Field(default_factory=Usage)

    def hops_of(self, kind: HopKind) -> list[Hop]:
        return [h for h in self.hops if h.kind == kind]

    def tool_calls(self) -> list[Hop]:
        """Tool hops in order (both successful and failed calls)."""
        return self.hops_of("tool")

    def total_usage(self) -> Usage:
        total = Usage()
        for hop in self.hops:
            total.add(hop.usage)
        return total
