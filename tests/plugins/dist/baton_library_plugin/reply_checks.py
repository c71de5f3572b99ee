"""The README's worked example (Extending Baton): a user's check, one file and one decorator,
found through a ``baton.plugins`` entry point."""

import re

from baton.graders.registry import register_check
from baton.result import Check

PLACEHOLDER = re.compile(r"\[[A-Z][A-Za-z _]*\]|\{\{.*?\}\}")   # "[Customer Name]", "{{order_id}}"


@register_check("no_template_placeholders", category="template_leak")
def no_template_placeholders(task, trace) -> Check:
    """The reply contains no unfilled template placeholder."""
    found = PLACEHOLDER.findall(trace.answer)
    return Check(name="no_template_placeholders", passed=not found,
                 detail=f"unfilled: {', '.join(found)}" if found else "none")
