"""One Sentry event, normalized for storage: trim, don't refuse.

:func:`normalize_event` turns an event payload as a Sentry SDK sends it into
a :class:`SentryEvent`: the filterable columns, and the JSONB columns as JSON
text made once. What is too long is cut, what is invalid is dropped, and
both are recorded in the event's ``_meta`` the way Sentry (Relay) does:

- a cut string: ``{"": {"rem": [["!limit", "s", kept, kept + 3]], "len": original}}``
  (the string keeps ``kept`` characters, then ``...``);
- a cut list or object: ``{"": {"len": original_count}}``;
- a container past the depth limit, replaced by null: ``{"": {"rem": [["!limit", "x"]]}}``;
- an invalid value dropped: ``{"": {"err": [code], "val": original}}``, ``val``
  only when the original is small.

Paths in ``_meta`` follow the payload (``exception.values.0.value``,
``tags.3``, ``extra.big``). The SDK's own ``_meta`` is kept as sent, and
these notes are merged into it.

Values of keys that name secrets (``_SENSITIVE_KEY``: passwords, tokens,
API keys, cookies, sessions, ...) become ``[Filtered]``, noted as
``{"": {"rem": [["@password:filter", "s"]]}}``; in objects, in ``[name,
value]`` pair lists (headers and cookies sent as pairs) and in a request's
``query_string`` given as text. ``modules``, ``sdk`` and ``_meta`` are not
filtered: package names and versions are not secrets.

The older shapes Relay still reads are read too: the ``sentry.interfaces.*``
aliases, ``logentry`` (or ``message``) as a plain string, a breadcrumb's
``ty``, and a top-level ``stacktrace`` (moved into the exception when there
is exactly one, as Relay does).

Only a payload that is not a JSON object, a transaction, or an event still
over ``MAX_EVENT_BYTES`` once trimmed is refused (:class:`EventRefused`, an
:class:`~mesher.errors.InvalidInput` with a :class:`~mesher.models.SkipReason`).

Speed matters (the write path COPYs these texts right away), so there is no
Pydantic here and no copy of the payload: a parsed payload is owned, trimmed
in place and serialized once per column. NUL characters and lone surrogates
are looked for in the raw bytes first; only an event that has them pays for
the walk that removes them.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus
from uuid import UUID

import pydantic_core

from ._sentry_envelope import MAX_EVENT_BYTES, MAX_RAW_EVENT_BYTES
from .errors import InvalidInput
from .fingerprint import TITLE_MAX, fingerprint_v2, is_synthetic
from .models import MAX_TAG_NAME, MAX_TAG_VALUE, Severity, SkipReason

__all__ = [
    "MAX_BREADCRUMBS",
    "MAX_DEPTH",
    "MAX_FRAMES",
    "MAX_ITEMS_PER_CONTAINER",
    "MAX_STRING",
    "EventRefused",
    "SentryEvent",
    "normalize_event",
]

#: Longest string kept anywhere (message, exception value, databag values).
MAX_STRING = 8192
#: Names: exception type and module, frame filename and function, categories.
MAX_NAME = 256
#: One source line (context_line, pre_context and post_context entries).
MAX_SOURCE_LINE = 1024
#: Frames kept per stack trace (the middle is cut, as Sentry does).
MAX_FRAMES = 250
#: Breadcrumbs kept (the most recent ones).
MAX_BREADCRUMBS = 100
#: Exceptions kept in a chain (the last ones: the main exception is last).
MAX_EXCEPTIONS = 25
#: Depth of free-form data (vars, extra, contexts, request, ...) below its root.
MAX_DEPTH = 8
#: Entries kept per list or object in free-form data.
MAX_ITEMS_PER_CONTAINER = 200
#: A rejected value is copied into ``_meta`` only when at most this long.
MAX_META_VALUE = 256

# Column limits: Sentry's own for release, environment and dist (an invalid
# one is dropped, since a cut release names another release); the others are cut.
_DROP_IF_INVALID = {"release": 200, "environment": 64, "dist": 64}
_CUT = {"platform": 64, "server_name": MAX_NAME, "logger": MAX_NAME, "transaction": 200}

_LEVELS = {
    "fatal": Severity.FATAL,
    "critical": Severity.FATAL,
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "info": Severity.INFO,
    "log": Severity.INFO,
    "notice": Severity.INFO,
    "debug": Severity.DEBUG,
    "trace": Severity.DEBUG,
}

# What the top level keeps out of data_json: it went to a column or its own JSON.
_CONSUMED = frozenset(
    {
        *("event_id", "timestamp", "level", "message", "tags", "extra", "user", "_meta"),
        *("release", "environment", "dist", "platform", "server_name", "logger"),
        *("transaction", "exception", "breadcrumbs", "logentry", "stacktrace"),
    }
)
# Relay's legacy aliases: read when the current key is absent, dropped when
# both are sent (as Relay does).
_ALIASES = {
    "sentry.interfaces.Exception": "exception",
    "sentry.interfaces.Message": "logentry",
    "sentry.interfaces.User": "user",
    "sentry.interfaces.Http": "request",
    "sentry.interfaces.Breadcrumbs": "breadcrumbs",
    "sentry.interfaces.Stacktrace": "stacktrace",
    "sentry.interfaces.Contexts": "contexts",
    "sentry.interfaces.Template": "template",
}
# Top-level parts that hold no personal data: trimmed, never filtered.
_UNFILTERED = frozenset({"modules", "sdk"})

# Raw-byte signs of a NUL or of a surrogate written as an escape.
_SUSPECT = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]")  # NUL; any surrogate, high or low
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_FRAME_LIMITS = {
    **dict.fromkeys(("filename", "abs_path", "function", "module", "package"), MAX_NAME),
    "context_line": MAX_SOURCE_LINE,
}
_CONTEXT_KEYS = frozenset(("pre_context", "post_context"))


class EventRefused(InvalidInput):
    """An event that is not stored: ``code`` says why (a stable
    :class:`~mesher.models.SkipReason`), the message says it in words."""

    def __init__(self, code: SkipReason, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class SentryEvent:
    """An event ready for the write path; the ``*_json`` fields are JSON text."""

    client_event_id: UUID
    occurred_at: datetime | None
    level: Severity
    message: str
    title: str
    fingerprint: str
    release: str | None
    environment: str | None
    dist: str | None
    platform: str | None
    server_name: str | None
    logger: str | None
    transaction: str | None
    handled: bool | None
    sdk_name: str | None
    sdk_version: str | None
    tags: dict[str, str]
    exception_json: str | None
    stacktrace_json: str
    breadcrumbs_json: str
    tags_json: str
    extra_json: str
    user_json: str
    exceptions_json: str | None
    data_json: str


# --- _meta ------------------------------------------------------------------------


# A path in the payload: keys and indexes, where the first element may be the
# parent's path (so the hot loops build (parent, key) pairs, not new tuples).
_Path = tuple[Any, ...]


def _flat(path: _Path) -> list[str | int]:
    if path and type(path[0]) is tuple:
        return [*_flat(path[0]), *path[1:]]
    return list(path)


class _Meta:
    """Sentry's ``_meta`` tree, built only when something was changed."""

    __slots__ = ("tree",)

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def _at(self, path: _Path) -> dict[str, Any]:
        node = self.tree
        for part in _flat(path):
            node = node.setdefault(str(part), {})
        entry: dict[str, Any] = node.setdefault("", {})
        return entry

    def cut(self, path: _Path, original_len: int, kept: int | None) -> None:
        entry = self._at(path)
        if kept is not None:
            entry.setdefault("rem", []).append(["!limit", "s", kept, kept + 3])
        entry["len"] = original_len

    def filtered(self, path: _Path) -> None:
        self._at(path).setdefault("rem", []).append(["@password:filter", "s"])

    def removed(self, path: _Path) -> None:
        self._at(path).setdefault("rem", []).append(["!limit", "x"])

    def invalid(self, path: _Path, code: str, value: Any) -> None:
        entry = self._at(path)
        entry.setdefault("err", []).append(code)
        small = _small(value)
        if small is not None:
            entry["val"] = small


def _small(value: Any) -> Any:
    """The value, when small and plain enough to repeat in ``_meta``."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _scrub(value) if len(value) <= MAX_META_VALUE else None
    if isinstance(value, (list, tuple)) and len(value) <= 4:
        # Scalars only: a nested list is not small, however short.
        items = [None if isinstance(v, (list, tuple, dict)) else _small(v) for v in value]
        usable = all(i is not None or v is None for i, v in zip(items, value, strict=True))
        if usable and sum(len(v) if isinstance(v, str) else 8 for v in items) <= MAX_META_VALUE:
            return items
    return None


# --- strings and free-form data -------------------------------------------------


def _scrub(text: str) -> str:
    """No NUL (PostgreSQL refuses it) and no lone surrogate (not UTF-8)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii() and _LONE_SURROGATE.search(text):
        # Pairs become their character; each lone surrogate one U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _cut(text: str, limit: int, meta: _Meta, path: _Path) -> str:
    if len(text) <= limit:
        return text
    meta.cut(path, len(text), limit - 3)
    return text[: limit - 3] + "..."


# Keys whose values are secrets, as Sentry's default data scrubbing sees them
# (its "@password" rule): their values become FILTERED, noted in _meta.
_SENSITIVE_KEY = re.compile(
    r"pass(word|wd)|secret|api_?key|token|authorization|credential|private_?key|cookie"
    r"|session_?id|csrf|xsrf|^auth$",
    re.IGNORECASE,
)
FILTERED = "[Filtered]"

# Keys repeat from event to event (the same code has the same variable and
# header names), so each key is matched once: a bounded memo of the answers.
_SENSITIVE_SEEN: dict[str, bool] = {}
_SENSITIVE_SEEN_MAX = 65_536


def _sensitive(key: str) -> bool:
    """Does the key name a secret? (``_SENSITIVE_KEY``, memoized)"""
    hit = _SENSITIVE_SEEN.get(key)
    if hit is None:
        hit = _SENSITIVE_KEY.search(key) is not None
        if len(_SENSITIVE_SEEN) < _SENSITIVE_SEEN_MAX:
            _SENSITIVE_SEEN[key] = hit
    return hit


class _Bags:
    """Trims free-form data in place: depth, breadth and string length; and
    (with ``filters``) replaces the values of keys that name secrets
    (passwords, tokens, cookies), in objects and in ``[name, value]`` pairs.
    A value already ``[Filtered]`` is left alone, so that a second pass over
    the same data adds no note.

    The hot loops pass paths as ``(parent_path, key)`` pairs, flattened only
    when a note is written (see :func:`_flat`)."""

    __slots__ = ("filters", "meta")

    def __init__(self, meta: _Meta, filters: bool = True) -> None:
        self.meta = meta
        self.filters = filters

    def value(self, value: Any, path: _Path, depth: int = MAX_DEPTH) -> Any:
        t = type(value)
        if t is dict:
            return self.obj(value, path, depth)
        if t is list:
            return self.seq(value, path, depth)
        if t is str:
            return _cut(value, MAX_STRING, self.meta, path)
        return value

    def obj(self, d: dict[str, Any], path: _Path, depth: int) -> Any:
        if depth <= 0:
            self.meta.removed(path)
            return None
        if len(d) > MAX_ITEMS_PER_CONTAINER:
            self.meta.cut(path, len(d), None)
            d = dict(list(d.items())[:MAX_ITEMS_PER_CONTAINER])
        seen = _SENSITIVE_SEEN
        filters = self.filters
        for k, v in d.items():
            t = type(v)
            if (
                filters
                and v is not None
                and (seen.get(k) or (k not in seen and _sensitive(k)))
                and v != FILTERED
            ):
                d[k] = FILTERED
                self.meta.filtered((path, k))
            elif t is str:
                if len(v) > MAX_STRING:
                    d[k] = _cut(v, MAX_STRING, self.meta, (path, k))
            elif t is dict:
                d[k] = self.obj(v, (path, k), depth - 1)
            elif t is list:
                d[k] = self.seq(v, (path, k), depth - 1)
        return d

    def seq(self, items: list[Any], path: _Path, depth: int) -> Any:
        if depth <= 0:
            self.meta.removed(path)
            return None
        if len(items) > MAX_ITEMS_PER_CONTAINER:
            self.meta.cut(path, len(items), None)
            items = items[:MAX_ITEMS_PER_CONTAINER]
        if self.filters and _pairs(items):
            self.pairs(items, path)
        for i, v in enumerate(items):
            t = type(v)
            if t is str:
                if len(v) > MAX_STRING:
                    items[i] = _cut(v, MAX_STRING, self.meta, (path, i))
            elif t is dict:
                items[i] = self.obj(v, (path, i), depth - 1)
            elif t is list:
                items[i] = self.seq(v, (path, i), depth - 1)
        return items

    def pairs(self, items: list[list[Any]], path: _Path) -> None:
        """Filter the secrets of a pair list (``[["Cookie", "a=1"], ...]``)."""
        for i, (key, value) in enumerate(items):
            if value is not None and value != FILTERED and _sensitive(key):
                items[i] = [key, FILTERED]
                self.meta.filtered(((path, i), 1))


def _pairs(items: list[Any]) -> bool:
    """Is this a list of ``[name, value]`` pairs (headers, cookies, query)?"""
    first = items[0] if items else None
    return (
        type(first) is list
        and len(first) == 2
        and type(first[0]) is str
        and all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in items)
    )


def _filter_query(text: str, meta: _Meta, path: _Path) -> str:
    """A query string with the values of its secret names filtered."""
    parts = text.split("&")
    changed = False
    for i, part in enumerate(parts):
        name, sep, value = part.partition("=")
        if sep and value and value != FILTERED and _sensitive(unquote_plus(name)):
            parts[i] = f"{name}={FILTERED}"
            changed = True
    if not changed:
        return text
    meta.filtered(path)
    return "&".join(parts)


def _scrub_tree(root: dict[str, Any]) -> dict[str, Any]:
    """Scrub every string and key of an owned tree, in place (iteratively:
    the tree may be as deep as json.loads allows)."""
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            if any(_scrub(k) != k for k in node):
                pairs = [(_scrub(k), v) for k, v in node.items()]
                node.clear()
                node.update(pairs)
            entries: Any = node.items()
        else:
            entries = enumerate(node)
        for k, v in list(entries):
            if type(v) is str:
                node[k] = _scrub(v)
            elif type(v) is dict or type(v) is list:
                stack.append(v)
    return root


# --- typed fields ------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A string field's value: strings as they are, numbers as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _timestamp(value: Any) -> datetime | None:
    try:
        if isinstance(value, str):
            ts = datetime.fromisoformat(value.strip())
            return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return None


def _uuid(value: Any) -> UUID | None:
    if isinstance(value, str) and 32 <= len(value) <= 36:
        try:
            return UUID(value)
        except ValueError:
            return None
    return None


def _level(value: Any, meta: _Meta) -> Severity:
    if value is None:
        return Severity.ERROR
    level = _LEVELS.get(value.strip().lower()) if isinstance(value, str) else None
    if level is None:
        meta.invalid(("level",), "invalid_data", value)
        return Severity.ERROR
    return level


def _tags(raw: Any, meta: _Meta) -> dict[str, str]:
    if isinstance(raw, dict):
        pairs: list[Any] = list(raw.items())
    elif isinstance(raw, list):
        pairs = raw
    else:
        if raw is not None:
            meta.invalid(("tags",), "invalid_data", raw)
        return {}
    tags: dict[str, str] = {}
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            meta.invalid(("tags", i), "invalid_data", pair)
            continue
        key, value = pair
        if value is None:
            continue
        text = "true" if value is True else "false" if value is False else _text(value)
        error = _tag_error(key, text)
        if error or text is None:
            meta.invalid(("tags", i), error or "invalid_data", [key, value])
        else:
            tags[_scrub(key)] = _scrub(text)
    return tags


def _tag_error(key: Any, value: str | None) -> str | None:
    """Sentry's rules: a key of 1 to 32 characters, a value of at most 200,
    neither with a newline (nor a NUL, which PostgreSQL refuses)."""
    if not isinstance(key, str) or value is None:
        return "invalid_data"
    if not key or len(key) > MAX_TAG_NAME or "\n" in key or "\x00" in key:
        return "invalid_data"
    if len(value) > MAX_TAG_VALUE:
        return "value_too_long"
    return "invalid_data" if "\n" in value or "\x00" in value else None


def _values(raw: Any, key: str, meta: _Meta, newest: int | None = None) -> list[Any]:
    """Sentry's ``{"values": [...]}`` wrapper, or a bare list (older SDKs);
    with ``newest``, only that many of the last ones, the cut noted."""
    if isinstance(raw, dict):
        if "values" not in raw and "type" in raw:
            return [raw]  # one exception, unwrapped
        raw = raw.get("values")
    if raw is None:
        return []
    if not isinstance(raw, list):
        meta.invalid((key,), "invalid_data", raw)
        return []
    if newest is not None and len(raw) > newest:
        meta.cut((key, "values"), len(raw), None)
        return raw[-newest:]
    return raw


def _message(event: dict[str, Any], meta: _Meta) -> tuple[str, str | None, Any]:
    """(formatted message, template, logentry to keep)."""
    logentry = event.get("logentry")
    message = event.get("message")
    if logentry is None and isinstance(message, dict):
        logentry = message  # the legacy "message" interface
    if isinstance(logentry, str):
        logentry = {"formatted": logentry}  # as Relay reads it
    if logentry is not None and not isinstance(logentry, dict):
        meta.invalid(("logentry",), "invalid_data", logentry)
        logentry = None
    template = formatted = None
    if logentry is not None:
        template = _text(logentry.get("message"))
        formatted = _text(logentry.get("formatted"))
        params = logentry.get("params")
        if formatted is None and template is not None and params:
            formatted = _format(template, params)
    if formatted is None:
        formatted = _text(message) if not isinstance(message, dict) else None
    if formatted is None:
        formatted = template or ""
    return formatted, template, logentry


# logging's %-style placeholders and str.format's {} ones. Only the params are
# put in: widths, precisions and conversions are ignored, since the template is
# the sender's text ("%*d" or "{:>300000000}" would otherwise allocate at will).
_PERCENT = re.compile(r"%(?:\((\w+)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[a-zA-Z%]")
_BRACES = re.compile(r"\{(\w*)(?:![rsa])?(?::[^{}]*)?\}")
#: Longest text one param contributes to a formatted message.
MAX_PARAM = 1024


def _format(template: str, params: Any) -> str:
    """The message with its params put in, at most MAX_STRING characters."""
    if isinstance(params, list):
        positional, named = iter(params), {}
    elif isinstance(params, dict):
        positional, named = iter(()), params
    else:
        return template
    size = 0

    def put(match: re.Match[str]) -> str:
        nonlocal size
        placeholder, key = match.group(0), match.group(1)
        if placeholder == "%%":
            return "%"
        missing = object()
        value = named.get(key, missing) if key else next(positional, missing)
        text = placeholder if value is missing else _param_text(value)
        size += len(text)
        return text if size <= MAX_STRING else ""

    pattern = _PERCENT if "%" in template else _BRACES
    return pattern.sub(put, template[:MAX_STRING])


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:MAX_PARAM]


# --- exceptions, frames, threads, breadcrumbs --------------------------------


def _frames(stacktrace: Any, path: _Path, bags: _Bags) -> list[dict[str, Any]] | None:
    """The frames of a stacktrace object, trimmed in place; None without any."""
    if not isinstance(stacktrace, dict):
        if stacktrace is not None:
            bags.meta.invalid(path, "invalid_data", stacktrace)
        return None
    frames = stacktrace.get("frames")
    if not isinstance(frames, list):
        if frames is not None:
            bags.meta.invalid((*path, "frames"), "invalid_data", frames)
        return None
    fpath: _Path = (*path, "frames")
    if len(frames) > MAX_FRAMES:
        bags.meta.cut(fpath, len(frames), None)
        half = MAX_FRAMES // 2
        frames = stacktrace["frames"] = frames[:half] + frames[-half:]
    kept = []
    meta = bags.meta
    for key, value in stacktrace.items():
        if key != "frames" and value is not None:
            stacktrace[key] = bags.value(value, (*path, key))
    for i, frame in enumerate(frames):
        if isinstance(frame, dict):
            _frame(frame, (fpath, i), bags)
            kept.append(frame)
        else:
            meta.invalid((*fpath, i), "invalid_data", frame)
    if len(kept) != len(frames):
        stacktrace["frames"] = kept
    return kept


def _frame(frame: dict[str, Any], path: _Path, bags: _Bags) -> None:
    """One frame, trimmed in place: names, source lines, then vars and the rest."""
    for key, value in frame.items():
        t = type(value)
        if t is str:
            if len(value) > MAX_NAME:  # the smallest limit: most strings stop here
                limit = _FRAME_LIMITS.get(key, MAX_STRING)
                if len(value) > limit:
                    frame[key] = _cut(value, limit, bags.meta, (path, key))
        elif t is list and key in _CONTEXT_KEYS:
            try:
                longest = max(map(len, value), default=0)
            except TypeError:  # not all strings: look at each
                longest = MAX_STRING
            if longest > MAX_SOURCE_LINE:
                for j, line in enumerate(value):
                    if type(line) is str and len(line) > MAX_SOURCE_LINE:
                        value[j] = _cut(line, MAX_SOURCE_LINE, bags.meta, ((path, key), j))
        elif t is dict or t is list:
            frame[key] = bags.value(value, (path, key), MAX_DEPTH)


def _native_frame(frame: dict[str, Any]) -> dict[str, Any]:
    """Mesher's StackFrame shape (see mesher.models.StackFrame)."""
    filename = frame.get("filename") or frame.get("abs_path") or frame.get("module")
    function = frame.get("function")
    native: dict[str, Any] = {
        "filename": filename[:MAX_NAME] if type(filename) is str else "<unknown>",
        "function_name": function[:MAX_NAME] if type(function) is str else "<unknown>",
    }
    lineno = frame.get("lineno")
    if type(lineno) is int and lineno >= 0:
        native["lineno"] = lineno
    colno = frame.get("colno")
    if type(colno) is int and colno >= 0:
        native["colno"] = colno
    line = frame.get("context_line")
    if type(line) is str:
        native["context_line"] = line
    in_app = frame.get("in_app")
    if type(in_app) is bool:
        native["in_app"] = in_app
    return native


def _exceptions(raw: Any, bags: _Bags) -> list[dict[str, Any]]:
    meta = bags.meta
    values = _values(raw, "exception", meta, newest=MAX_EXCEPTIONS)
    chain = []
    for i, exc in enumerate(values):
        path: _Path = ("exception", "values", i)
        if not isinstance(exc, dict):
            meta.invalid(path, "invalid_data", exc)
            continue
        for key in ("type", "module"):
            value = exc.get(key)
            if value is not None:
                text = _text(value)
                text = None if text is None else _cut(_scrub(text), MAX_NAME, meta, (*path, key))
                exc[key] = text
        value = exc.get("value")
        if value is not None:
            text = _text(value)
            if text is None:
                text = json.dumps(value, default=repr)
            exc["value"] = _cut(_scrub(text), MAX_STRING, meta, (*path, "value"))
        if "sentry.interfaces.Stacktrace" in exc:  # Relay's alias, read when alone
            legacy = exc.pop("sentry.interfaces.Stacktrace")
            if exc.get("stacktrace") is None:
                exc["stacktrace"] = legacy
        frames = _frames(exc.get("stacktrace"), (*path, "stacktrace"), bags)
        if frames is None and "stacktrace" in exc:
            exc["stacktrace"] = None
        for key, value in exc.items():
            if key not in ("type", "module", "value", "stacktrace") and value is not None:
                exc[key] = bags.value(value, (*path, key))
        chain.append(exc)
    return chain


def _thread_frames(threads: Any, bags: _Bags) -> list[dict[str, Any]] | None:
    """Frames of the crashed thread, else of the only thread, trimmed in place."""
    values = _values(threads, "threads", bags.meta)
    candidates = [t for t in values if isinstance(t, dict) and t.get("stacktrace")]
    chosen = [t for t in candidates if t.get("crashed") is True] or (
        candidates if len(candidates) == 1 else [t for t in candidates if t.get("current")]
    )
    if not chosen:
        return None
    index = values.index(chosen[0])
    return _frames(chosen[0]["stacktrace"], ("threads", "values", index, "stacktrace"), bags)


def _breadcrumbs(raw: Any, bags: _Bags) -> list[dict[str, Any]]:
    meta = bags.meta
    values = _values(raw, "breadcrumbs", meta, newest=MAX_BREADCRUMBS)
    crumbs = []
    for i, crumb in enumerate(values):
        path: _Path = ("breadcrumbs", "values", i)
        if not isinstance(crumb, dict):
            meta.invalid(path, "invalid_data", crumb)
            continue
        crumbs.append(_breadcrumb(crumb, path, bags))
    return crumbs


def _breadcrumb(crumb: dict[str, Any], path: _Path, bags: _Bags) -> dict[str, Any]:
    """Mesher's Breadcrumb shape: Sentry's keys, each checked; an invalid
    value or an unknown key is dropped with a note."""
    if crumb.get("type") is None and crumb.get("ty") is not None:
        crumb["type"] = crumb["ty"]  # an old Python SDK's spelling
    native: dict[str, Any] = {}
    for key, value in crumb.items():
        if value is None or key == "ty":
            continue
        read = _CRUMB_READERS.get(key)
        if read is None:  # no val: a key Sentry does not define may hold anything
            bags.meta.invalid((*path, key), "invalid_attribute", None)
            continue
        kept = read(value, (*path, key), bags)
        if kept is None:
            bags.meta.invalid((*path, key), "invalid_data", value)
        else:
            native[key] = kept
    return native


def _crumb_timestamp(value: Any, path: _Path, bags: _Bags) -> Any:
    ts = _timestamp(value)
    return None if ts is None else ts.isoformat()


def _crumb_text(limit: int) -> Callable[[Any, _Path, _Bags], Any]:
    def read(value: Any, path: _Path, bags: _Bags) -> Any:
        text = _text(value)
        return None if text is None else _cut(_scrub(text), limit, bags.meta, path)

    return read


def _crumb_level(value: Any, path: _Path, bags: _Bags) -> Any:
    level = _LEVELS.get(value.strip().lower()) if isinstance(value, str) else None
    return None if level is None else level.value


def _crumb_data(value: Any, path: _Path, bags: _Bags) -> Any:
    return bags.obj(value, path, MAX_DEPTH) if isinstance(value, dict) else None


def _crumb_event_id(value: Any, path: _Path, bags: _Bags) -> Any:
    event_id = _uuid(value)
    return None if event_id is None else event_id.hex


# A reader per breadcrumb key Sentry defines: the value to keep, None if invalid.
_CRUMB_READERS: dict[str, Callable[[Any, _Path, _Bags], Any]] = {
    "timestamp": _crumb_timestamp,
    "type": _crumb_text(MAX_NAME),
    "category": _crumb_text(MAX_NAME),
    "level": _crumb_level,
    "message": _crumb_text(MAX_STRING),
    "data": _crumb_data,
    "event_id": _crumb_event_id,
    "origin": _crumb_text(MAX_NAME),
}


def _handled(chain: list[dict[str, Any]]) -> bool | None:
    if not chain:
        return None
    for exc in chain:
        mechanism = exc.get("mechanism")
        if isinstance(mechanism, dict) and mechanism.get("handled") is False:
            return False
    return True


def _title(main: dict[str, Any] | None, message: str) -> str:
    stripped = message.strip()
    if main is not None and is_synthetic(main):
        # Its type and value are the SDK's making: the message, else (as
        # Sentry does) the function where it was raised.
        text = stripped.splitlines()[0] if stripped else _crash_function(main) or "<unknown>"
    elif main is not None and (main.get("type") or main.get("value")):
        kind = main.get("type") or "Error"
        value = (main.get("value") or "").strip()
        text = f"{kind}: {value.splitlines()[0]}" if value else kind
    else:
        text = stripped.splitlines()[0] if stripped else "<unlabeled event>"
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1] + "…"


def _crash_function(exc: dict[str, Any]) -> str | None:
    """The function of the last frame (in-app first) that names one."""
    frames = _main_frames([exc]) or []
    named = [f for f in frames if f.get("function") not in (None, "<redacted>", "<unknown>")]
    for frame in [f for f in reversed(named) if f.get("in_app") is True] + named[::-1]:
        function = frame.get("function")
        if isinstance(function, str) and function:
            return function
    return None


# --- the event -------------------------------------------------------------------


def _load(payload: bytes | Mapping[str, Any]) -> dict[str, Any]:
    """The payload as an owned dict whose strings are all storable."""
    invalid = SkipReason.INVALID
    if isinstance(payload, (bytes, bytearray, memoryview)):
        raw = bytes(payload)
        _unread_if_huge(len(raw), "")
        try:
            event = json.loads(
                raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite
            )
        except UnicodeDecodeError:
            raise EventRefused(invalid, "event is not valid UTF-8") from None
        except (ValueError, RecursionError):
            raise EventRefused(invalid, "event is not JSON") from None
        if not isinstance(event, dict):
            raise EventRefused(invalid, "event is not a JSON object")
        return _scrub_tree(event) if _SUSPECT.search(raw) else event
    if not isinstance(payload, Mapping):
        raise EventRefused(invalid, "event is not an object")
    try:
        # A copy the caller will not see changed, made of plain JSON types.
        text = json.dumps(payload, default=repr, ensure_ascii=False)
        _unread_if_huge(len(text.encode("utf-8", "surrogatepass")), " as JSON")
        event = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, TypeError, RecursionError):
        raise EventRefused(invalid, "event cannot be represented as JSON") from None
    return _scrub_tree(event)


def _unread_if_huge(size: int, what: str) -> None:
    if size > MAX_RAW_EVENT_BYTES:
        raise EventRefused(
            SkipReason.TOO_LARGE,
            f"event is {size} bytes{what}; the limit is {MAX_RAW_EVENT_BYTES} before trimming",
        )


def _no_constant(_: str) -> None:
    """NaN and Infinity: JSON has no such numbers (PostgreSQL refuses them)."""
    return None


def _columns(event: dict[str, Any], meta: _Meta) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key, limit in _DROP_IF_INVALID.items():
        value = event.get(key)
        text = _text(value)
        if text is not None:
            text = _scrub(text).strip()
            if len(text) > limit or "\n" in text or text in ("", ".", "..", "/"):
                meta.invalid((key,), "invalid_data", value)
                text = None
        elif value is not None:
            meta.invalid((key,), "invalid_data", value)
        out[key] = text
    for key, limit in _CUT.items():
        value = event.get(key)
        text = _text(value)
        if text is None and value is not None:
            meta.invalid((key,), "invalid_data", value)
        out[key] = None if text is None else _cut(_scrub(text), limit, meta, (key,))
    return out


def _finite(text: str) -> float | None:
    """A JSON number as a float; None for one too big for a float (1e400),
    which JSONB could not store as Infinity."""
    value = float(text)
    return value if math.isfinite(value) else None


# One encoder for every column: the trees come from json.loads and are never
# circular, so the encoder need not track the containers it is inside.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def _dumps(value: Any) -> str:
    """Compact JSON text, as ``_encode`` gives it (a float's exponent aside:
    1.5e-7, not 1.5e-07; the same number), from pydantic-core's serializer
    (Rust): 2.5 times the C encoder's speed on SDK events, a tenth of the
    ingest server's CPU per event. ``_encode`` takes what it refuses."""
    try:
        return pydantic_core.to_json(value).decode()
    except ValueError:  # a lone surrogate, say
        return _encode(value)


def _sdk(sdk: Any) -> tuple[str | None, str | None]:
    if not isinstance(sdk, dict):
        return None, None
    name, version = _text(sdk.get("name")), _text(sdk.get("version"))
    return (
        _scrub(name)[:MAX_NAME] if name else None,
        _scrub(version)[:MAX_NAME] if version else None,
    )


def _object(event: dict[str, Any], key: str, bags: _Bags) -> dict[str, Any]:
    """A top-level object (extra, user), trimmed; anything else is dropped."""
    value = event.get(key)
    if isinstance(value, dict):
        result: dict[str, Any] = bags.obj(value, (key,), MAX_DEPTH)
        return result
    if value is not None:
        bags.meta.invalid((key,), "invalid_data", value)
    return {}


def _explicit(event: dict[str, Any], meta: _Meta) -> list[Any] | None:
    explicit = event.get("fingerprint")
    if explicit is None or isinstance(explicit, list):
        return explicit
    meta.invalid(("fingerprint",), "invalid_data", explicit)
    del event["fingerprint"]
    return None


def _data(event: dict[str, Any], logentry: Any, stacktrace: Any, bags: _Bags) -> dict[str, Any]:
    """Everything no column took: contexts, request, threads, modules, sdk,
    logentry, the event's own stack trace, unknown fields, and ``_meta``
    (the SDK's as sent, with Mesher's notes merged in)."""
    data: dict[str, Any] = {}
    plain = _Bags(bags.meta, filters=False)
    for key, value in event.items():
        if key in _CONSUMED or value is None:
            continue
        if key == "contexts" and not isinstance(value, dict):
            bags.meta.invalid(("contexts",), "invalid_data", value)
        elif key in ("threads", "fingerprint"):
            data[key] = bags.value(value, (key,), MAX_DEPTH + 6)  # frames hold vars
        elif key in _UNFILTERED:
            data[key] = plain.value(value, (key,))
        else:
            if key == "request" and type(value) is dict:
                query = value.get("query_string")
                if type(query) is str:
                    value["query_string"] = _filter_query(query, bags.meta, (key, "query_string"))
            data[key] = bags.value(value, (key,))
    if logentry is not None:
        data["logentry"] = bags.obj(logentry, ("logentry",), MAX_DEPTH)
    if stacktrace is not None:
        data["stacktrace"] = stacktrace  # trimmed with its frames
    theirs = event.get("_meta")
    ours = bags.meta.tree
    if isinstance(theirs, dict):
        # Bounded like any data, but its own cuts are not noted (no _meta._meta).
        theirs = _Bags(_Meta(), filters=False).obj(theirs, ("_meta",), MAX_DEPTH * 2)
        data["_meta"] = _merge(theirs, ours) if ours else theirs
    elif ours:
        data["_meta"] = ours
    return data


def _exception_json(main: dict[str, Any] | None) -> str | None:
    if main is None:
        return None
    native = {
        "type_name": main.get("type") or "Error",
        "value": main.get("value") or "",
        "module": main.get("module"),
    }
    return _dumps(native)


def _main_frames(chain: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    stacktrace = chain[-1].get("stacktrace") if chain else None
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return frames or None


def _read_aliases(event: dict[str, Any]) -> None:
    """The ``sentry.interfaces.*`` keys under their current names, in place."""
    for alias, key in _ALIASES.items():
        if alias in event:
            value = event.pop(alias)
            if event.get(key) is None:
                event[key] = value


def _own_stacktrace(
    event: dict[str, Any], chain: list[dict[str, Any]], bags: _Bags
) -> tuple[Any, list[dict[str, Any]] | None]:
    """(the top-level stack trace to keep, its frames). As Relay does, it
    moves into the exception when there is exactly one (and it has none)."""
    stacktrace = event.get("stacktrace")
    if stacktrace is None:
        return None, None
    frames = _frames(stacktrace, ("stacktrace",), bags)
    if frames is None and not isinstance(stacktrace, dict):
        return None, None
    if len(chain) == 1 and not _main_frames(chain):
        chain[0]["stacktrace"] = stacktrace
        return None, None
    return stacktrace, frames


def _refuse_transactions(event: dict[str, Any]) -> None:
    if event.get("type") == "transaction":
        raise EventRefused(
            SkipReason.TRANSACTION, "transaction events are not stored: Mesher keeps error events"
        )


def _refuse_if_too_big(*texts: str | None) -> None:
    """Refuse an event whose stored JSON is still over MAX_EVENT_BYTES."""
    chars = sum(len(t) for t in texts if t)
    if chars * 4 <= MAX_EVENT_BYTES:  # a character is at most 4 bytes in UTF-8
        return
    size = sum(len(t.encode("utf-8")) for t in texts if t)
    if size > MAX_EVENT_BYTES:
        raise EventRefused(
            SkipReason.TOO_LARGE,
            f"event is {size} bytes once trimmed; the limit is {MAX_EVENT_BYTES}",
        )


def normalize_event(payload: bytes | Mapping[str, Any], event_id: str | None = None) -> SentryEvent:
    """The event ready to store; ``event_id`` (the envelope's) wins over the
    payload's. Raises :class:`EventRefused` (an InvalidInput) when the payload
    is not a JSON object, is a transaction, or is still over MAX_EVENT_BYTES
    once trimmed."""
    event = _load(payload)
    _refuse_transactions(event)
    _read_aliases(event)
    meta = _Meta()
    bags = _Bags(meta)
    occurred_at = _timestamp(event.get("timestamp"))
    if occurred_at is None and event.get("timestamp") is not None:
        meta.invalid(("timestamp",), "invalid_data", event["timestamp"])
    message, template, logentry = _message(event, meta)
    message = _cut(message, MAX_STRING, meta, ("logentry", "formatted"))
    columns = _columns(event, meta)
    tags = _tags(event.get("tags"), meta)
    # Environment and release are tags too, as in Sentry (the columns win):
    # filter_events_by_tags and the tag store see the same pairs.
    for column in ("environment", "release"):
        value = columns[column]
        if value is not None:
            tags[column] = value
    chain = _exceptions(event.get("exception"), bags)
    main = chain[-1] if chain else None
    stacktrace, stack_frames = _own_stacktrace(event, chain, bags)
    threads = event.get("threads")
    thread_frames = _thread_frames(threads, bags) if threads is not None else None
    crumbs = _breadcrumbs(event.get("breadcrumbs"), bags)
    sdk_name, sdk_version = _sdk(event.get("sdk"))
    fp = fingerprint_v2(
        _explicit(event, meta), chain, thread_frames, template, message, stack_frames
    )
    extra, user = _object(event, "extra", bags), _object(event, "user", bags)
    level = _level(event.get("level"), meta)
    frames = _main_frames(chain) or thread_frames or stack_frames or ()
    exception_json = _exception_json(main)
    stacktrace_json = _dumps([_native_frame(f) for f in frames])
    breadcrumbs_json, tags_json = _dumps(crumbs), _dumps(tags)
    extra_json, user_json = _dumps(extra), _dumps(user)
    exceptions_json = _dumps(chain) if chain else None
    data_json = _dumps(_data(event, logentry, stacktrace, bags))  # last: every _meta note
    _refuse_if_too_big(
        message, exception_json, stacktrace_json, breadcrumbs_json, tags_json,
        extra_json, user_json, exceptions_json, data_json,
    )  # fmt: skip
    return SentryEvent(
        client_event_id=_uuid(event_id) or _uuid(event.get("event_id")) or uuid.uuid4(),
        occurred_at=occurred_at,
        level=level,
        message=message,
        title=_title(main, message),
        fingerprint=fp,
        release=columns["release"],
        environment=columns["environment"],
        dist=columns["dist"],
        platform=columns["platform"],
        server_name=columns["server_name"],
        logger=columns["logger"],
        transaction=columns["transaction"],
        handled=_handled(chain),
        sdk_name=sdk_name,
        sdk_version=sdk_version,
        tags=tags,
        exception_json=exception_json,
        stacktrace_json=stacktrace_json,
        breadcrumbs_json=breadcrumbs_json,
        tags_json=tags_json,
        extra_json=extra_json,
        user_json=user_json,
        exceptions_json=exceptions_json,
        data_json=data_json,
    )


def _merge(theirs: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """Mesher's notes into the SDK's ``_meta``: lists (``rem``, ``err``)
    are joined, the SDK's other values (its ``len``, ``val``) kept."""
    for key, value in ours.items():
        mine = theirs.get(key)
        if isinstance(mine, dict) and isinstance(value, dict):
            theirs[key] = _merge(mine, value)
        elif isinstance(mine, list) and isinstance(value, list):
            theirs[key] = mine + value
        elif mine is None or isinstance(value, dict):
            theirs[key] = value
    return theirs
