"""A system under test: an architecture plus the vendor that plays each role.

Systems are named configurations (``runners/systems.toml`` in a project, or
``[tool.baton.systems.NAME]`` in its pyproject.toml). The run matrix crosses systems with
vendors: a system's ``roles`` pin some roles to a vendor; every other role uses the vendor of
the matrix cell. So ``multi_agent`` on ``sim-frontier`` runs every role on sim-frontier, while a
system ``multi_agent_small_router`` with ``roles = {router = "local-smollm2"}`` runs the router on
the local model and the rest on the cell's vendor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

ROLES = ("router", "drafter", "actor", "verifier", "answerer")
HOP_PURPOSES = ("intent_route", "model_select", "retrieve", "draft", "act", "verify", "step")


class SystemConfig(BaseModel):
    """A named system configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    architecture: str = Field(description="'naive', 'rag', 'multi_agent', or an adapter: "
                                          "'callable', 'http', 'langgraph'.")
    roles: dict[str, str] = Field(default_factory=dict, description="role -> vendor profile name")
    params: dict[str, Any] = Field(default_factory=dict, description="Architecture parameters, "
                                   "e.g. top_k, chunk_size, chunk_overlap, max_revisions, target.")
    description: str | None = None
    hop_purposes: dict[str, str] = Field(default_factory=dict, description="hop (node) name -> what it "
                                         "does: 'intent_route', 'model_select', 'retrieve', 'draft', "
                                         "'act', 'verify' or 'step'; only hops with gold are graded "
                                         "against gold.")

    _origin: tuple[str, Path] | None = PrivateAttr(default=None)

    def with_origin(self, source: str, base_dir: Path) -> SystemConfig:
        """This system, remembering the file that declared it and the folder its relative
        adapter targets resolve against (not part of the configuration or its hash)."""
        copy = self.model_copy()
        copy._origin = (source, Path(base_dir))
        return copy

    @property
    def source(self) -> str | None:
        """The file (and table) that declared this system; None for builtin or in-code systems."""
        return self._origin[0] if self._origin else None

    @property
    def base_dir(self) -> Path | None:
        """The project folder relative adapter targets resolve against; None: the working directory."""
        return self._origin[1] if self._origin else None

    @field_validator("hop_purposes")
    @classmethod
    def _known_purposes(cls, value: dict[str, str]) -> dict[str, str]:
        for hop, purpose in value.items():
            if purpose not in HOP_PURPOSES:
                raise ValueError(f"hop {hop!r}: unknown purpose {purpose!r}; expected one of {', '.join(HOP_PURPOSES)}")
        return value

    def vendor_for(self, role: str, default_vendor: str) -> str:
        return self.roles.get(role, default_vendor)

    def label(self, vendor: str) -> str:
        """Display name of this system on a vendor, e.g. 'multi_agent @ sim-frontier'."""
        return f"{self.name} @ {vendor}"


BUILTIN_SYSTEMS: dict[str, SystemConfig] = {
    "naive": SystemConfig(name="naive", architecture="naive",
                          description="One call with the request alone."),
    "rag": SystemConfig(name="rag", architecture="rag",
                        description="BM25 retrieval over the task's documents, then one call."),
    "multi_agent": SystemConfig(name="multi_agent", architecture="multi_agent",
                                description="route -> retrieve -> draft -> act (MCP tools) -> verify."),
}
