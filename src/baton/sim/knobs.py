"""The simulated vendor's knobs: error rates, latency and fault rates (``VendorProfile.sim``)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

Rate = float


class SimKnobs(BaseModel):
    """How a simulated model misbehaves. Rates are probabilities per call (0..1).

    Latency is either fixed (``latency_ms``) or lognormal (``latency_median_ms`` and
    ``latency_p95_ms``). ``rate_timeout`` makes the server stall for ``stall_s`` seconds, which
    should exceed the client's ``timeout_s``; a 429 carries ``Retry-After: retry_after_s``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wrong_label: Rate = Field(default=0.0, ge=0, le=1)
    wrong_argument: Rate = Field(default=0.0, ge=0, le=1)
    missing_argument: Rate = Field(default=0.0, ge=0, le=1)
    dropped_fact: Rate = Field(default=0.0, ge=0, le=1)
    invented_fact: Rate = Field(default=0.0, ge=0, le=1)
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
    def _check_latency(self) -> SimKnobs:
        if (self.latency_median_ms is None) != (self.latency_p95_ms is None):
            raise ValueError("latency_median_ms and latency_p95_ms go together")
        if self.latency_median_ms is not None and self.latency_p95_ms < self.latency_median_ms:  # type: ignore[operator]
            raise ValueError("latency_p95_ms must be >= latency_median_ms")
        if self.rate_429 + self.rate_500 + self.rate_timeout > 1:
            raise ValueError("rate_429 + rate_500 + rate_timeout must be <= 1")
        return self

    def latency_s(self, z: float) -> float:
        """Latency of one call, given a standard normal draw ``z``."""
        if self.latency_ms is not None:
            return self.latency_ms / 1000
        if self.latency_median_ms is None:
            return 0.0
        sigma = (math.log(self.latency_p95_ms) - math.log(self.latency_median_ms)) / 1.6449  # type: ignore[arg-type]
        return math.exp(math.log(self.latency_median_ms) + sigma * z) / 1000
