"""Errors Baton reports to the user as one clear message (never a traceback)."""

from __future__ import annotations


class BatonError(Exception):
    """A user-facing error: bad input, bad configuration, a refused operation."""


class ConfigError(BatonError):
    """A configuration file or profile is invalid. The message names the file and the field."""
