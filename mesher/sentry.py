# Generated from mesher/aio/sentry.py by tools/gen_sync.py: edit that file.
"""Receiving events from the official Sentry SDKs.

An HTTP endpoint makes three calls: ``parse_auth`` (the key from the
request's headers or query string), then ``queries.get_project_by_dsn`` (or
``get_project_by_api_key``) for the project, then ``ingest_envelope`` with
the raw body (``POST /api/<dsn_id>/envelope/``) or ``ingest_store`` (the
legacy ``POST /api/<dsn_id>/store/``).

Sentry's rule holds: an event that is too big is trimmed, not refused, and
what was cut is noted in its ``_meta``; only an event still over
``MAX_EVENT_BYTES`` once trimmed is not stored. Only a body that is not an
envelope at all (truncated, corrupt, a decompression bomb, over the size
caps) is refused, with ``InvalidInput``. Items that are not error events
(transactions, sessions, check-ins, logs, attachments, client reports, and
types Mesher does not know) are skipped and reported with a
``SkipReason``, never an error; so is an event item that cannot be parsed,
is a transaction, or is still too big. The stored events of one envelope are
written in one transaction through the write path (``mesher.ingest``), and
grouped like Sentry groups (``mesher.fingerprint``, version 2). An SDK's
retry of an event already stored stores and counts nothing and returns the
first result.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import Connection

from ._args import uuid_arg
from ._sentry_envelope import (
    MAX_COMPRESSED_BYTES,
    MAX_DECOMPRESSED_BYTES,
    MAX_EVENT_BYTES,
    MAX_ITEMS,
    SentryAuth,
    decode_body,
    parse_auth,
    parse_envelope,
)
from ._sentry_event import EventRefused, SentryEvent, normalize_event
from .errors import InvalidInput, translate_errors
from .ingest import write_sentry_events
from .models import EnvelopeResult, IngestedEvent, SkippedItem, SkipReason

__all__ = [
    "MAX_COMPRESSED_BYTES",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_EVENT_BYTES",
    "MAX_ITEMS",
    "EnvelopeResult",
    "EventRefused",
    "SentryAuth",
    "SkipReason",
    "SkippedItem",
    "ingest_envelope",
    "ingest_store",
    "parse_auth",
    "read_envelope",
    "read_store",
]

Conn = Connection[Any]


def _body(body: Any) -> bytes:
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"body must be bytes, got {type(body).__name__}")
    return bytes(body)


def _encoding(value: Any) -> str | None:
    """The Content-Encoding header's value; bytes as ASGI servers give it."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"content_encoding must be a string, got {type(value).__name__}")
    return value


@translate_errors
def ingest_envelope(
    conn: Conn, project_id: UUID | str, body: bytes, content_encoding: str | None = None
) -> EnvelopeResult:
    """Store the error events of one envelope (the request body as bytes;
    ``content_encoding`` is the Content-Encoding header: gzip, deflate, br or
    None); see the module docstring for what is kept, trimmed and skipped."""
    pid = uuid_arg(project_id, "project_id")
    events, skipped, _reports = read_envelope(body, content_encoding)
    stored = _write(conn, pid, events) if events else []
    return EnvelopeResult(events=stored, skipped=skipped)


def read_envelope(
    body: bytes, content_encoding: str | None = None
) -> tuple[list[SentryEvent], list[SkippedItem], list[bytes]]:
    """One envelope read, without a database: the events to store, the items
    skipped (with why), and the payloads of its ``client_report`` items.
    ``InvalidInput`` if the body is not an envelope."""
    envelope = parse_envelope(_body(body), _encoding(content_encoding))
    # The envelope header's event_id names its event (an envelope carries one).
    event_id = envelope.headers.get("event_id")
    events: list[SentryEvent] = []
    skipped: list[SkippedItem] = []
    reports: list[bytes] = []
    for item in envelope.items:
        if item.type == "client_report":
            reports.append(item.payload)
        if item.type != "event":
            reason = f"{item.type[:40]} items are not stored: Mesher keeps error events"
            skipped.append(SkippedItem(item.type[:40], reason, SkipReason.ITEM_TYPE))
            continue
        try:
            events.append(normalize_event(item.payload, event_id=event_id))
        except EventRefused as exc:
            skipped.append(SkippedItem(item.type, str(exc), exc.code))
        except Exception as exc:  # one bad item must not sink the others
            reason = f"event could not be read ({type(exc).__name__})"
            skipped.append(SkippedItem(item.type, reason, SkipReason.ERROR))
        event_id = None  # later event items keep their own ids
    return events, skipped, reports


def read_store(body: bytes, content_encoding: str | None = None) -> SentryEvent | SkippedItem:
    """A legacy store body read, without a database: its event, or a
    ``SkippedItem`` saying why it is not stored (a transaction, an event
    still too large once trimmed). ``InvalidInput`` (an ``EventRefused`` with
    ``code`` ``SkipReason.INVALID``) if the body is not an event at all."""
    try:
        return normalize_event(decode_body(_body(body), _encoding(content_encoding)))
    except EventRefused as exc:
        if exc.code is SkipReason.INVALID:
            raise
        return SkippedItem("event", str(exc), exc.code)


@translate_errors
def ingest_store(
    conn: Conn, project_id: UUID | str, body: bytes, content_encoding: str | None = None
) -> IngestedEvent | SkippedItem:
    """Store the one event of a legacy ``/api/<id>/store/`` body (JSON).
    Like an envelope's event item, a transaction, or an event still over
    ``MAX_EVENT_BYTES`` once trimmed, is not stored: a ``SkippedItem`` says
    why. ``InvalidInput`` (an ``EventRefused`` with ``code``
    ``SkipReason.INVALID``) if the body is not an event at all."""
    pid = uuid_arg(project_id, "project_id")
    event = read_store(body, content_encoding)
    if isinstance(event, SkippedItem):
        return event
    (stored,) = _write(conn, pid, [event])
    return stored


def _write(conn: Conn, project_id: UUID, events: list[SentryEvent]) -> list[IngestedEvent]:
    """The write path's results, each with its SDK event id."""
    stored = write_sentry_events(conn, project_id, events)
    return [
        result._replace(client_event_id=event.client_event_id)
        for result, event in zip(stored, events, strict=True)
    ]
