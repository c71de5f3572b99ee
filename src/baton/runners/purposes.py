"""Setting ``Hop.purpose`` on a finished trace from its system's declaration.

``SystemConfig.hop_purposes`` maps hop (node) names to purposes; built-in architectures (naive,
rag, multi_agent) declare theirs by hop name (:data:`BUILTIN_PURPOSES`). A purpose the
architecture or adapter already set on a hop is kept.
"""

from __future__ import annotations

from baton.errors import ConfigError
from baton.graders.purposes import PURPOSES, inferred_purpose
from baton.systems import SystemConfig
from baton.trace import Trace

BUILTIN_ARCHITECTURES = frozenset({"naive", "rag", "multi_agent"})
BUILTIN_PURPOSES = {"route": "intent_route", "retrieve": "retrieve", "draft": "draft", "act": "act",
                    "answer": "draft", "revise": "draft", "verify": "verify"}


def check_hop_purposes(system: SystemConfig) -> None:
    """A :class:`ConfigError` for a declared purpose Baton does not know."""
    for name, purpose in system.hop_purposes.items():
        if purpose not in PURPOSES:
            raise ConfigError(f"system {system.name!r}: hop_purposes.{name}: unknown purpose {purpose!r}; "
                              f"expected one of {', '.join(PURPOSES)}")


def apply_hop_purposes(trace: Trace, system: SystemConfig) -> None:
    """Fill ``purpose`` on hops that have none: the system's declaration by hop name first, then,
    for built-in architectures, the purpose their hop names and kinds stand for."""
    builtin = system.architecture in BUILTIN_ARCHITECTURES
    for hop in trace.hops:
        if hop.purpose:
            continue
        declared = system.hop_purposes.get(hop.name)
        if declared is not None:
            hop.purpose = declared
        elif builtin:
            hop.purpose = (BUILTIN_PURPOSES.get(hop.name, inferred_purpose(hop))
                           if hop.kind != "tool" else inferred_purpose(hop))
