"""Vendor profiles: which endpoint, which model, what it costs, how it speaks structured output.

A profile names the *environment variable* holding the API key, never the key itself.

``kind`` (a registered :mod:`baton.vendor_kinds` entry; a user may add more):
  * ``openai``: any OpenAI-compatible endpoint at ``base_url`` (OpenAI, vLLM, Ollama, a gateway).
  * ``sim``: Baton's simulated vendor; Baton serves it on a loopback port for the run unless
    ``base_url`` points at one already running (``baton sim serve``). ``sim`` holds its knobs.
  * ``local``: the embedded real model (llama-cpp-python's server over a GGUF file), started by
    Baton on a free loopback port and stopped when the run ends.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
StructuredOutput = Literal["json_schema", "json_object_schema", "tools", "prompt"]


class VendorProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: str = Field(default="openai", min_length=1, description="a registered vendor kind "
                      "(baton.vendor_kinds): openai, sim, local or a user's; checked when the vendor is used")
    base_url: str | None = None
    model: str
    api_key_env: str | None = Field(default=None, description="Name of the env var holding the key.")
    price_input_per_mtok: float = Field(default=0.0, ge=0)
    price_output_per_mtok: float = Field(default=0.0, ge=0)
    max_concurrency: int = Field(default=8, ge=1)
    timeout_s: float = Field(default=60.0, gt=0)
    retries: int = Field(default=3, ge=0)
    structured_output: StructuredOutput = "json_schema"
    max_output_tokens: int | None = Field(default=None, ge=1, description="Cap on generated tokens for "
                                          "calls that set none (small local models otherwise ramble).")
    sim: dict[str, Any] = Field(default_factory=dict, description="Simulated vendor knobs (kind='sim').")
    local: dict[str, Any] = Field(default_factory=dict, description="Local server options (kind='local').")

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError("expected the NAME of the environment variable holding the key (letters, "
                             "digits, '_'), e.g. OPENAI_API_KEY; the key itself belongs in that variable")
        return value

    @property
    def simulated(self) -> bool:
        """Whether its kind is a simulated one (False for a kind no longer registered: a stored
        manifest of a plugin's vendor still loads; running it is a clear error, see preflight)."""
        from baton.vendor_kinds import VENDOR_KINDS

        return self.kind in VENDOR_KINDS and VENDOR_KINDS.get(self.kind).simulated

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.price_input_per_mtok + output_tokens * self.price_output_per_mtok) / 1e6
