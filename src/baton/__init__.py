"""Baton: end-to-end task success for AI systems, next to the component scores vendors quote."""

__version__ = "0.1.0"
