"""What each hop of a trace does in its system: its declared ``Hop.purpose``, or one inferred.

Purposes: ``intent_route`` (chooses the task's intent label; graded against ``gold.route``),
``model_select`` (chooses a model or branch; reported by choice, never graded against gold),
``retrieve``, ``draft``, ``act``, ``verify`` and ``step`` (plain glue, never graded).

A hop without a declared purpose gets one from its kind and name: ``route`` -> intent_route,
``retrieve`` -> retrieve, ``verify`` -> verify, a ``tool`` hop named ``retrieve`` -> retrieve
(a lookup made by the retrieval step), other tool hops -> act, a ``generate`` hop named ``act``
or requesting tool calls -> act, other generate hops -> draft.
"""

from __future__ import annotations

from typing import Literal

from baton.systems import HOP_PURPOSES
from baton.trace import Hop

Purpose = Literal["intent_route", "model_select", "retrieve", "draft", "act", "verify", "step"]
PURPOSES: tuple[str, ...] = HOP_PURPOSES


def inferred_purpose(hop: Hop) -> Purpose:
    """The purpose a hop's kind and name imply (see the module docstring)."""
    if hop.kind == "route":
        return "intent_route"
    if hop.kind == "retrieve":
        return "retrieve"
    if hop.kind == "verify":
        return "verify"
    if hop.kind == "tool":
        return "retrieve" if hop.name == "retrieve" else "act"
    if hop.name == "act" or hop.output.get("tool_calls"):
        return "act"
    return "draft"


def hop_purpose(hop: Hop) -> str:
    """The hop's declared purpose, else the inferred one. An undeclared value is returned as is
    (graders grade only the purposes they know)."""
    return hop.purpose if hop.purpose else inferred_purpose(hop)


def chosen_label(hop: Hop) -> str | None:
    """The label a routing hop chose: ``output['route']`` (or ``label``, ``choice``, ``model``)."""
    for key in ("route", "label", "choice", "model"):
        value = hop.output.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
