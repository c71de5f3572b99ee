"""What a domain's ``tools.py`` imports: the :func:`tool` decorator and :class:`ToolError`.

A domain may define its tools as typed Python functions over its world, next to ``domain.yaml``::

    from baton.tools import ToolError, tool

    @tool(writes=True)
    def renew_loan(db: dict, loan_id: str, weeks: Literal[1, 2, 3] = 2) -> dict:
        \"\"\"Extend a library loan.

        Args:
            loan_id: The loan id, such as 'L-17'.
            weeks: How many weeks to add.
        \"\"\"
        loan = db["loans"].get(loan_id)
        if loan is None:
            raise ToolError("loan not found")
        ...

The first parameter receives the world: ``collection -> record id -> record`` (plain dicts the
function reads and changes in place). The other parameters are the tool's arguments: their type
hints give the JSON Schema the model sees and validate each call; the docstring's first paragraph
is the tool's description and its ``Args:`` section describes the arguments. A keyword-only
parameter ``today`` receives the world's date. ``writes`` must be declared: it is what graders
and the MCP world (``readOnlyHint``) rely on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from baton.world import ToolError

__all__ = ["tool", "ToolError", "ToolMeta", "TOOL_ATTRIBUTE"]

TOOL_ATTRIBUTE = "__baton_tool__"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class ToolMeta:
    """What :func:`tool` records on a function."""

    writes: bool
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None


def tool(*, writes: bool, name: str | None = None, description: str | None = None,
         parameters: dict[str, Any] | None = None) -> Callable[[F], F]:
    """Mark a function of a domain's ``tools.py`` as a tool.

    ``writes``: whether the tool changes the world (required). ``name`` (default: the function's
    name), ``description`` (default: the docstring) and ``parameters`` (a JSON Schema; default:
    generated from the type hints) override what Baton derives from the function.
    """
    if not isinstance(writes, bool):
        raise TypeError("tool(writes=...) must be True or False")

    def mark(func: F) -> F:
        setattr(func, TOOL_ATTRIBUTE, ToolMeta(writes, name, description, parameters))
        return func

    return mark
