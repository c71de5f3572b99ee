"""Secrets never reach what Baton writes: result lines, manifests, reports, logs and errors.

:func:`redact` blanks out two kinds of secret:

* anything shaped like an API key or credential: ``sk-…`` / ``sk-proj-…`` (OpenAI and most
  gateways), ``sk-ant-…``, ``AKIA…`` (AWS), ``ghp_…`` / ``github_pat_…``, ``xox?-…`` (Slack),
  ``hf_…``, ``AIza…`` (Google), JWTs, and the token of an ``Authorization: Bearer …`` header;
* the *value* of every environment variable named by a vendor profile's ``api_key_env``
  (:func:`register_key_variables`, done when profiles are loaded), whatever it looks like.

Redaction is applied where data leaves the process (the results store, the manifest, the
``baton: error:`` line, log records), so a model reply that quotes the key, or an error message
that echoes it, is stored with ``[REDACTED]`` in its place. Replacements keep JSON valid: every
pattern matches only characters that need no escaping in a JSON string.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable

__all__ = ["MASK", "looks_like_key", "redact", "redact_bytes", "register_key_variables",
           "install_log_redaction"]

MASK = "[REDACTED]"
_MIN_SECRET_LEN = 8  # shorter env values ("1", "true") would blank out ordinary text

_KEY_PATTERNS = [
    r"\bsk-(?:ant-|proj-|svcacct-|or-v1-)?[A-Za-z0-9_\-]{16,}",  # OpenAI, Anthropic, OpenRouter
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",                          # AWS access key id
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",                          # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{30,}",
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",                       # Slack
    r"\bhf_[A-Za-z0-9]{30,}",                                  # Hugging Face
    r"\bAIza[0-9A-Za-z_\-]{35}",                               # Google API key
    r"\bgsk_[A-Za-z0-9]{30,}",                                 # Groq
    r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWT
]
_KEY = re.compile("|".join(f"(?:{p})" for p in _KEY_PATTERNS))
_BEARER = re.compile(r"(?i)\b(bearer\s+)(?=[A-Za-z_\-.=+/~]*\d)([A-Za-z0-9_\-.=+/~]{8,})")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access[_-]?token|secret|password|"
                           r"auth|sig|signature)=)([^&#\s\"']+)")

_key_variables: set[str] = set()


def register_key_variables(names: Iterable[str | None]) -> None:
    """Remember environment variable names that hold API keys (``api_key_env`` of profiles):
    their values are redacted wherever they appear."""
    _key_variables.update(name for name in names if name)


def _secret_values() -> list[str]:
    values = {os.environ.get(name, "") for name in _key_variables}
    return sorted((v for v in values if len(v) >= _MIN_SECRET_LEN), key=len, reverse=True)


def looks_like_key(text: str) -> bool:
    """Whether ``text`` contains something shaped like an API key or credential."""
    return bool(_KEY.search(text) or _BEARER.search(text) or _QUERY_SECRET.search(text))


def redact(text: str) -> str:
    """``text`` with every known key value and anything shaped like a key replaced by ``[REDACTED]``."""
    for value in _secret_values():
        if value in text:
            text = text.replace(value, MASK)
    text = _KEY.sub(MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)


def redact_bytes(data: bytes) -> bytes:
    """:func:`redact` over UTF-8 bytes (serialized result lines). Cheap when nothing matches."""
    values = _secret_values()
    if not values and not _might_hold_key(data):
        return data
    text = data.decode("utf-8", errors="surrogateescape")
    return redact(text).encode("utf-8", errors="surrogateescape")


_HINTS = (b"sk-", b"AKIA", b"ASIA", b"gh", b"github_pat_", b"xox", b"hf_", b"AIza", b"gsk_", b"eyJ",
          b"earer", b"EARER", b"=")


def _might_hold_key(data: bytes) -> bool:
    return any(hint in data for hint in _HINTS)


class _RedactingFilter(logging.Filter):
    """Rewrites a record's message with its secrets redacted (attached to handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = _RedactingFilter()


def install_log_redaction() -> None:
    """Redact every record that reaches a handler of the root logger or of ``baton`` loggers,
    including Python's last-resort handler (what prints warnings when logging is unconfigured)."""
    handlers = list(logging.getLogger().handlers) + list(logging.getLogger("baton").handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
