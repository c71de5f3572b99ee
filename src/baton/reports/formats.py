"""The report formats ``baton report --format`` accepts (kept light: the CLI imports it)."""

from __future__ import annotations

from baton.errors import BatonError

FORMATS = ("html", "md", "csv", "json")


def parse_formats(text: str) -> tuple[str, ...]:
    """``"html,md"`` -> ``("html", "md")``; unknown names are an error listing the known ones."""
    names = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise BatonError(f"--format: unknown format {', '.join(unknown) or '(none)'}; "
                         f"expected a comma-separated list of {', '.join(FORMATS)}")
    return names
