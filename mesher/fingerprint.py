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

Version 2 groups events from the Sentry SDKs the way Sentry does
(:func:`fingerprint_v2`, fed by ``mesher._sentry_event``):

- an explicit fingerprint list wins; its ``{{ default }}`` entries stand for
  the default grouping below, the other entries are taken literally;
- every exception of the chain: its type and its frames (module, else
  filename, plus function; never line numbers), directly recursive frames
  collapsed; its normalized value only when it has no frames. Only in-app
  frames count, unless no frame of the event is in-app. A synthetic
  exception's type (``mechanism.synthetic``: the SDK made it up to carry a
  stack, from a message or a signal) never counts;
- else the crashed (or only) thread's stack;
- else the event's own stack trace (the top-level ``stacktrace``);
- else the message template (``logging.error("... %s", x)`` before formatting);
- else the message, normalized by :func:`normalize_v2`, which also replaces
  emails, IP addresses and URLs.

Its stored value is ``"v2:"`` plus a SHA-256; version 1 is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .models import EventPayload

__all__ = [
    "FINGERPRINT_VERSION",
    "default_material_v2",
    "fingerprint",
    "fingerprint_v2",
    "is_synthetic",
    "normalize",
    "normalize_v2",
    "title",
]

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


# --- version 2: events from the Sentry SDKs -----------------------------------

# Sentry's "parameterization", in its order: the most specific patterns first.
_VARYING_V2 = [
    # The lookbehinds start a match only where a run starts, so that a long
    # run without "@" or "://" is scanned once, not once per character.
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"(?<![a-zA-Z0-9+.-])[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+"), "<url>"),
    (re.compile(r"\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b"), "<ip>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                r"[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"),
     "<ts>"),
    (re.compile(r"\b\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\b"), "<ts>"),
    (re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])"), "<ip>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"-?\d+(\.\d+)?"), "<n>"),
]  # fmt: skip
_DEFAULT = re.compile(r"\{\{\s*default\s*\}\}", re.IGNORECASE)


def normalize_v2(text: str) -> str:
    """Like :func:`normalize`, also replacing emails, URLs and IP addresses."""
    for pattern, placeholder in _VARYING_V2:
        text = pattern.sub(placeholder, text)
    return _SPACES.sub(" ", text).strip()


def _frame_parts(frames: Sequence[Mapping[str, Any]], in_app_only: bool) -> list[str]:
    parts: list[str] = []
    previous = None
    for frame in frames:
        if in_app_only and frame.get("in_app") is not True:
            continue
        where = frame.get("module") or frame.get("filename") or frame.get("abs_path") or ""
        what = frame.get("function")
        if not what:
            line = frame.get("context_line")
            what = f"line:{line.strip()}" if isinstance(line, str) else ""
        part = f"{where}:{what}"
        if part != previous:  # directly recursive frames count once
            parts.append(part)
        previous = part
    return parts


def _frames_of(exc: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    stacktrace = exc.get("stacktrace")
    frames = stacktrace.get("frames") if isinstance(stacktrace, Mapping) else None
    return [f for f in frames if isinstance(f, Mapping)] if isinstance(frames, list) else []


def is_synthetic(exc: Mapping[str, Any]) -> bool:
    """Did the SDK make this exception up (``mechanism.synthetic``)?"""
    mechanism = exc.get("mechanism")
    return isinstance(mechanism, Mapping) and mechanism.get("synthetic") is True


def default_material_v2(
    exceptions: Sequence[Mapping[str, Any]],
    thread_frames: Sequence[Mapping[str, Any]] | None,
    template: str | None,
    message: str,
    stack_frames: Sequence[Mapping[str, Any]] | None = None,
) -> list[Any]:
    """What version 2 groups by when there is no explicit fingerprint."""
    stacks = [_frames_of(exc) for exc in exceptions]
    threads = [f for f in thread_frames or () if isinstance(f, Mapping)]
    own = [f for f in stack_frames or () if isinstance(f, Mapping)]
    in_app_only = any(f.get("in_app") is True for s in [*stacks, threads, own] for f in s)
    material: list[Any] = []
    for exc, frames in zip(exceptions, stacks, strict=True):
        parts = _frame_parts(frames, in_app_only)
        kind = "" if is_synthetic(exc) else str(exc.get("type") or "")
        if parts:
            material.append(["exception", kind, parts])
        else:
            material.append(["exception", kind, normalize_v2(str(exc.get("value") or ""))])
    if not any(len(m[2]) and isinstance(m[2], list) for m in material):
        parts = _frame_parts(threads, in_app_only)
        if parts:
            material.append(["thread", parts])
        elif parts := _frame_parts(own, in_app_only):
            material.append(["stacktrace", parts])
    if material:
        return material
    if template:
        return [["template", template]]
    if message.strip():
        return [["message", normalize_v2(message)]]
    return [["fallback"]]


def fingerprint_v2(
    explicit: Sequence[Any] | None,
    exceptions: Sequence[Mapping[str, Any]],
    thread_frames: Sequence[Mapping[str, Any]] | None,
    template: str | None,
    message: str,
    stack_frames: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """``v2:`` plus a SHA-256 hex digest; see the module docstring."""
    default = None
    material: list[Any]
    args = (exceptions, thread_frames, template, message, stack_frames)
    if explicit:
        material = ["explicit"]
        for entry in explicit:
            text = entry if isinstance(entry, str) else json.dumps(entry, default=repr)
            if _DEFAULT.fullmatch(text.strip()):
                if default is None:
                    default = default_material_v2(*args)
                material.append(["default", default])
            else:
                material.append(text)
        if all(isinstance(m, list) for m in material[1:]):
            material = ["default", default]  # only {{ default }}: the default grouping
    else:
        material = ["default", default_material_v2(*args)]
    text = json.dumps(material, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass"))
    return f"v2:{digest.hexdigest()}"
