"""The simulated vendor's knobs: mistake rates per capability, latency and faults (``VendorProfile.sim``).

Every rate is a probability per *decision* (0..1). A profile that sets no rate is a perfect model:
it knows the gold of the task a request belongs to and makes no mistake. The capabilities:

==================== =================================================================================
``wrong_label``      route: picks another offered label
``wrong_argument``   act, per side-effecting call: a near-duplicate record id visible in context, another
                     number visible in context, or another enum value
``missing_argument`` act, per side-effecting call: leaves out an argument (an optional one if the call
                     has one; a missing required one fails the call, and the model usually retries)
``skipped_call``     act, per side-effecting call: replies as if done without making the call
``extra_call``       act, once when the actions are done: one more side-effecting call on a record
                     visible in context
``dropped_fact``     every reply: leaves out one fact it could see
``invented_fact``    every reply: states one fact with a wrong value taken from nearby text
``stale_claim``      every reply: repeats an outdated statement that is visible in its context
``verify_miss``      verify: approves a reply or actions that do not meet the gold (1 - catch rate)
``verify_false_alarm`` verify: rejects a reply and actions that do meet the gold
``malformed_json``   any JSON output (structured output, tool arguments): cut short
==================== =================================================================================

Mistakes of one capability share one draw per decision, so their rates add up (where they add up
to more than 1, the ones listed first win: a profile with every rate at 1 is always wrong), and
``k`` decisions at rate ``r`` succeed with probability ``(1 - r) ** k``. Latency is fixed
(``latency_ms``) or lognormal (``latency_median_ms`` and ``latency_p95_ms``). ``rate_timeout``
makes the server stall for ``stall_s`` seconds (more than the client's ``timeout_s``); a 429
carries ``Retry-After: retry_after_s``.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

Rate = float

ACT_MISTAKES = ("wrong_argument", "missing_argument", "skipped_call")
TEXT_MISTAKES = ("dropped_fact", "invented_fact", "stale_claim")
MISTAKE_RATES = ("wrong_label", *ACT_MISTAKES, "extra_call", *TEXT_MISTAKES, "verify_miss",
                 "verify_false_alarm", "malformed_json")


class SimKnobs(BaseModel):
    """How a simulated model misbehaves (see the module docstring for each rate)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wrong_label: Rate = Field(default=0.0, ge=0, le=1)
    wrong_argument: Rate = Field(default=0.0, ge=0, le=1)
    missing_argument: Rate = Field(default=0.0, ge=0, le=1)
    skipped_call: Rate = Field(default=0.0, ge=0, le=1)
    extra_call: Rate = Field(default=0.0, ge=0, le=1)
    dropped_fact: Rate = Field(default=0.0, ge=0, le=1)
    invented_fact: Rate = Field(default=0.0, ge=0, le=1)
    stale_claim: Rate = Field(default=0.0, ge=0, le=1)
    verify_miss: Rate = Field(default=0.0, ge=0, le=1)
    verify_false_alarm: Rate = Field(default=0.0, ge=0, le=1)
    malformed_json: Rate = Field(default=0.0, ge=0, le=1)
    latency_ms: float | None = Field(default=None, ge=0)
    latency_median_ms: float | None = Field(default=None, gt=0)
    latency_p95_ms: float | None = Field(default=None, gt=0)
    rate_429: Rate = Field(default=0.0, ge=0, le=1)
    rate_500: Rate = Field(default=0.0, ge=0, le=1)
    rate_timeout: Rate = Field(default=0.0, ge=0, le=1)
    retry_after_s: float = Field(default=0.1, ge=0)
    stall_s: float = Field(default=30.0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> SimKnobs:
        if (self.latency_median_ms is None) != (self.latency_p95_ms is None):
            raise ValueError("latency_median_ms and latency_p95_ms go together")
        if self.latency_median_ms is not None and self.latency_p95_ms < self.latency_median_ms:  # type: ignore[operator]
            raise ValueError("latency_p95_ms must be >= latency_median_ms")
        if self.rate_429 + self.rate_500 + self.rate_timeout > 1:
            raise ValueError("rate_429 + rate_500 + rate_timeout must be <= 1")
        return self

    @property
    def perfect(self) -> bool:
        """Whether no mistake rate is set."""
        return all(getattr(self, name) == 0 for name in MISTAKE_RATES)

    def latency_s(self, z: float) -> float:
        """Latency of one call, given a standard normal draw ``z``."""
        if self.latency_ms is not None:
            return self.latency_ms / 1000
        if self.latency_median_ms is None:
            return 0.0
        sigma = (math.log(self.latency_p95_ms) - math.log(self.latency_median_ms)) / 1.6449  # type: ignore[arg-type]
        return math.exp(math.log(self.latency_median_ms) + sigma * z) / 1000
