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

_KEY_PATTERNS: list[tuple[tuple[str, ...], str]] = [  # (literal hints, pattern): a pattern runs only if a hint occurs
    (("sk-",), r"\bsk-(?:ant-|proj-|svcacct-|or-v1-)?[A-Za-z0-9_\-]{16,}"),  # OpenAI, Anthropic, OpenRouter
    (("AKIA", "ASIA"), r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),                   # AWS access key id
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"\bgh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub tokens
    (("github_pat_",), r"\bgithub_pat_[A-Za-z0-9_]{30,}"),
    (("xox",), r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),                        # Slack
    (("hf_",), r"\bhf_[A-Za-z0-9]{30,}"),                                   # Hugging Face
    (("AIza",), r"\bAIza[0-9A-Za-z_\-]{35}"),                               # Google API key
    (("gsk_",), r"\bgsk_[A-Za-z0-9]{30,}"),                                 # Groq
    (("eyJ",), r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWT
]
_KEYS = [(hints, re.compile(pattern)) for hints, pattern in _KEY_PATTERNS]
_BEARER = re.compile(r"(?i)\b(bearer\s+)(?=[A-Za-z_\-.=+/~]*\d)([A-Za-z0-9_\-.=+/~]{8,})")
_QUERY_NAMES = ("api_key", "api-key", "apikey", "key", "token", "access_token", "access-token", "secret",
                "password", "auth", "sig", "signature")
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


def _might_have_query_secret(lowered: str) -> bool:
    return "=" in lowered and any(f"{name}=" in lowered for name in _QUERY_NAMES)


def looks_like_key(text: str) -> bool:
    """Whether ``text`` contains something shaped like an API key or credential."""
    lowered = text.lower()
    return (any(any(h in text for h in hints) and regex.search(text) for hints, regex in _KEYS)
            or ("bearer" in lowered and bool(_BEARER.search(text)))
            or (_might_have_query_secret(lowered) and bool(_QUERY_SECRET.search(text))))


def redact(text: str) -> str:
    """``text`` with every known key value and anything shaped like a key replaced by ``[REDACTED]``.

    Each pattern runs only when one of its literal hints occurs in the text, so text without
    anything key-like costs a few substring searches."""
    for value in _secret_values():
        if value in text:
            text = text.replace(value, MASK)
    for hints, regex in _KEYS:
        if any(h in text for h in hints):
            text = regex.sub(MASK, text)
    lowered = text.lower()
    if "bearer" in lowered:
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    if _might_have_query_secret(lowered):
        text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_bytes(data: bytes) -> bytes:
    """:func:`redact` over UTF-8 bytes (serialized result lines)."""
    text = data.decode("utf-8", errors="surrogateescape")
    clean = redact(text)
    return data if clean == text else clean.encode("utf-8", errors="surrogateescape")


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
