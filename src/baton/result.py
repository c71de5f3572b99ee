"""Grades and stored results: what graders return and what the results store holds per run."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from baton.trace import Trace, Usage

RESULT_VERSION = 1

Status = Literal["passed", "failed", "error"]

FailureCategory = str
"""A failure category's name: one of :data:`baton.graders.registry.FAILURE_CATEGORIES` (built-ins
and a user's, each with its precedence; see :mod:`baton.graders.builtin`). Stored as a plain
string, so results written with a plugin's category still load without the plugin."""


class Check(BaseModel):
    """One system-success check of a run (state, facts, policy...)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    passed: bool
    detail: str = ""


class ComponentScore(BaseModel):
    """A hop's score against its gold label. ``score`` is None when the architecture has no such hop."""

    model_config = ConfigDict(extra="forbid")

    component: str = Field(min_length=1, description="the component grader's registered name "
                           "(route, retrieval, tool, answer, verifier, or a user's)")
    score: float | None = None
    passed: bool | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    detail: str = ""


ReliabilityHop = Literal["route", "retrieve", "act", "draft", "verify"]
RELIABILITY_HOPS: tuple[ReliabilityHop, ...] = ("route", "retrieve", "act", "draft", "verify")


class HopReliability(BaseModel):
    """Did one hop of a run do its job, judged against gold (see :mod:`baton.graders.reliability`).

    ``ok`` is None when the hop is not applicable to the run: the system has no such hop, or gold
    gives it nothing to judge. Such runs are counted apart, never as a free success."""

    model_config = ConfigDict(extra="forbid")

    hop: str = Field(min_length=1, description="route, retrieve, act, draft, verify, or the hop a user's "
                     "component grader declares (register_component_grader(..., hop=))")
    ok: bool | None = None
    detail: str = ""

    @property
    def applicable(self) -> bool:
        return self.ok is not None


class AssertionRuling(BaseModel):
    """The judge's ruling on one free-text assertion of the task (1-based ``index``)."""

    index: int
    met: bool
    reason: str = ""


class JudgeVerdict(BaseModel):
    """The LLM judge's record of one run (:mod:`baton.graders.judge`): who judged, with what prompt,
    and the verdict; ``verdict`` is None (and ``error`` says why) when the judge was unavailable
    or answered badly. Results written when this was an untyped dict load unchanged."""

    model_config = ConfigDict(extra="allow")

    vendor: str = ""
    model: str = ""
    prompt: list[dict[str, Any]] = Field(default_factory=list)
    verdict: Literal["pass", "fail"] | None = None
    score: float | None = None
    reasons: str = ""
    missing: list[str] = Field(default_factory=list)
    raw: str = ""
    error: str | None = None
    assertions: list[AssertionRuling] | None = None

    def __getitem__(self, key: str) -> Any:
        """Read access by key, as for the dict record older code and results use."""
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


class RunGrade(BaseModel):
    """The graders' verdict on one trace."""

    model_config = ConfigDict(extra="forbid")

    status: Status
    checks: list[Check] = Field(default_factory=list)
    components: dict[str, ComponentScore] = Field(default_factory=dict)
    failure_category: FailureCategory | None = None
    first_divergent_hop: str | None = Field(default=None, description="route|retrieve|generate|tool|verify")
    judge: JudgeVerdict | None = Field(default=None, description="LLM judge verdict, model and prompt, if enabled.")
    unjudged: list[str] = Field(default_factory=list,
                                description="Free-text assertions of the task that no judge graded.")
    hops: dict[str, HopReliability] = Field(default_factory=dict, description="hop -> did it do its job "
                                            "(absent in results written before hop reliability existed).")
    choices: dict[str, str] = Field(default_factory=dict, description="model-selection hop name -> the "
                                    "branch it chose (reported by choice, never graded against gold).")


class RunKey(BaseModel):
    """Identity of one run in a matrix. Resume uses it to skip finished work."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_id: str
    task_version: int
    system: str
    vendor: str
    trial: int
    mode: str = "system"

    def as_str(self) -> str:
        return f"{self.task_id}@v{self.task_version}|{self.system}|{self.vendor}|{self.mode}|t{self.trial}"


class RunResult(BaseModel):
    """One line of ``results.jsonl``: the run's key, grade and full trace."""

    model_config = ConfigDict(extra="forbid")

    version: int = RESULT_VERSION
    key: RunKey
    seed: int
    status: Status
    simulated: bool
    grade: RunGrade
    trace: Trace
    usage: Usage
    latency_s: float
    finished_at: str
