"""Grouping: which issue an event belongs to.

``fingerprint(payload)`` is deterministic and versioned. Version 1 uses the
first rule that applies:

1. an explicit ``payload.fingerprint``, as given;
2. the in-app stack frames (filename and function name, never line or
   column numbers) plus the exception type;
3. the exception type plus its normalized value;
4. the normalized message.

Normalization replaces what varies between occurrences of the same error
with placeholders: ISO timestamps, UUIDs, hex addresses and long hex ids,
and numbers. So ``"timeout after 31ms"`` and ``"timeout after 45ms"`` group
together. The stored value is ``"v1:"`` plus the SHA-256 of the rule's
material (67 characters), so it stays bounded whatever the input; a future
version gets a new prefix rather than silently regrouping old issues.
"""

from __future__ import annotations

import hashlib
import re

from .models import EventPayload

__all__ = ["FINGERPRINT_VERSION", "fingerprint", "normalize", "title"]

FINGERPRINT_VERSION = 1
TITLE_MAX = 200

_VARYING = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
     "<uuid>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{16,}\b"), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
]  # fmt: skip
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """The text with its varying parts replaced by placeholders."""
    for pattern, placeholder in _VARYING:
        text = pattern.sub(placeholder, text)
    return _SPACES.sub(" ", text).strip()


def _material(payload: EventPayload) -> list[str]:
    if payload.fingerprint is not None:
        return ["explicit", payload.fingerprint]
    exc = payload.exception
    in_app = [
        f"{f['filename']}:{f['function_name']}" for f in payload.stacktrace if f.get("in_app")
    ]
    if exc is not None and in_app:
        return ["frames", exc.type_name, *in_app]
    if exc is not None:
        return ["exception", exc.type_name, normalize(exc.value)]
    return ["message", normalize(payload.message)]


def fingerprint(payload: EventPayload) -> str:
    """``v1:`` plus a SHA-256 hex digest; see the module docstring."""
    digest = hashlib.sha256("\x00".join(_material(payload)).encode("utf-8", "surrogatepass"))
    return f"v{FINGERPRINT_VERSION}:{digest.hexdigest()}"


def title(payload: EventPayload) -> str:
    """An issue's title: ``Type: value`` of the exception, else the message."""
    exc = payload.exception
    if exc is not None:
        text = f"{exc.type_name}: {exc.value}" if exc.value else exc.type_name
    else:
        text = payload.message.strip().splitlines()[0] if payload.message.strip() else ""
    text = text or "<no message>"
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1] + "…"
