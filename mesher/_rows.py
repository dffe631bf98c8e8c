"""The events row as the write path sends it, its columns named once.

``EventRow``'s fields are the columns of ``events``, in the table's order
(tests/test_rows.py checks them against the table and against
``models.Event``, whose fields the reads fill). The write path's COPY and
INSERT are made from them, and a row is built by naming its columns: a
native event leaves the Sentry ones at their defaults (None). Adding a column
to ``events`` means adding its field here, and to ``models.Event``, in the
same place.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple, NewType, get_type_hints
from uuid import UUID

#: A JSONB column's value as JSON text: made once when the event is
#: validated, and sent as it is.
JsonText = NewType("JsonText", str)


class EventRow(NamedTuple):
    """One row of ``events``; ``issue_id`` is None until the batch's issue
    upsert gives it (``_replace(issue_id=...)``)."""

    id: UUID
    project_id: UUID
    issue_id: UUID | None
    level: str
    message: str
    fingerprint: str
    exception: JsonText | None
    stacktrace: JsonText
    breadcrumbs: JsonText
    tags: JsonText
    extra: JsonText
    user_context: JsonText
    sdk_name: str | None
    sdk_version: str | None
    received_at: dt.datetime
    # From the Sentry path (mesher.sentry); NULL for native events.
    client_event_id: UUID | None = None
    occurred_at: dt.datetime | None = None
    release: str | None = None
    environment: str | None = None
    dist: str | None = None
    platform: str | None = None
    server_name: str | None = None
    logger: str | None = None
    transaction: str | None = None
    handled: bool | None = None
    exceptions: JsonText | None = None
    data: JsonText | None = None


def _placeholder(hint: object) -> str:
    """``%s``, cast to JSONB for JSON text (whatever dumper the caller's
    connection has for ``str``)."""
    return "cast(%s AS JSONB)" if hint in (JsonText, JsonText | None) else "%s"


_HINTS = get_type_hints(EventRow)
_COLUMNS = ", ".join(EventRow._fields)

#: The write path's COPY of a batch: ``EventRow``s, written as they are.
COPY_EVENTS = f"COPY events ({_COLUMNS}) FROM STDIN"
#: One event, for a batch of one: an INSERT costs one round trip where COPY
#: costs three. Its parameters are an ``EventRow``, positionally.
INSERT_EVENT = (
    f"INSERT INTO events ({_COLUMNS}) VALUES"
    f" ({', '.join(_placeholder(_HINTS[name]) for name in EventRow._fields)})"
)
