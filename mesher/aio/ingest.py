"""The write path: group events into issues and store them.

``ingest_event`` and ``ingest_events`` validate every payload before any SQL
runs, then, in one transaction (``conn.transaction()``: a savepoint inside
the caller's open transaction, else a transaction of its own, committed on
success):

1. lock the batch's existing issues (in fingerprint order) and note which
   are resolved;
2. upsert one issue row per distinct fingerprint, adding the number of
   events (``event_count + n``), moving ``last_seen``, and regressing a
   resolved issue to unresolved (an archived one stays archived);
3. COPY the events, their JSONB columns as the JSON text each payload made
   once when it was validated.

Each event gets its id (a UUIDv7) and ``received_at`` here, from one clock
reading. The result says, per event, its issue and whether that issue was
new or regressed, which is what new-issue and regression alert rules need
(``queries.fire_issue_alerts``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from .._args import model_arg, uuid_arg
from .._sql import async_queries
from .._uuid7 import uuid7_with_time
from ..errors import InvalidInput, translate_errors
from ..fingerprint import fingerprint, title
from ..models import EventPayload, IngestedEvent

_q = async_queries()
Conn = AsyncConnection[Any]

__all__ = ["MAX_BATCH", "IngestedEvent", "ingest_event", "ingest_events"]

#: Most events one ingest_events call takes.
MAX_BATCH = 1000


@dataclass(frozen=True)
class _Prepared:
    event_id: UUID
    received_at: dt.datetime
    payload: EventPayload
    fingerprint: str

    def row(self, project_id: UUID, issue_id: UUID) -> tuple[Any, ...]:
        """Values in the column order of copy_events; the JSONB columns as the
        JSON text the payload made when it was validated."""
        p = self.payload
        return (
            self.event_id,
            project_id,
            issue_id,
            p.level.value,
            p.message,
            self.fingerprint,
            *p.json_columns(),
            p.sdk_name,
            p.sdk_version,
            self.received_at,
        )


def _prepare(payloads: Iterable[Any]) -> list[_Prepared]:
    if isinstance(payloads, (str, bytes, Mapping, EventPayload)):
        raise InvalidInput("payloads must be a sequence of events")
    prepared = []
    for index, raw in enumerate(payloads):
        if index >= MAX_BATCH:
            raise InvalidInput(f"a batch holds at most {MAX_BATCH} events")
        payload = model_arg(raw, EventPayload, f"event {index}")
        event_id, received_at = uuid7_with_time()
        prepared.append(_Prepared(event_id, received_at, payload, fingerprint(payload)))
    return prepared


def _issue_params(project_id: UUID, events: Sequence[_Prepared]) -> dict[str, Any]:
    """The parallel arrays of upsert_issues: one entry per fingerprint, sorted."""
    groups: dict[str, list[_Prepared]] = {}
    for event in events:
        groups.setdefault(event.fingerprint, []).append(event)
    keys = sorted(groups)
    return {
        "project_id": project_id,
        "fingerprints": keys,
        "titles": [title(groups[k][0].payload) for k in keys],
        "levels": [max((e.payload.level for e in groups[k]), key=_severity).value for k in keys],
        "counts": [len(groups[k]) for k in keys],
        "first_seen": [groups[k][0].received_at for k in keys],
        "last_seen": [groups[k][-1].received_at for k in keys],
    }


_ORDER = ["debug", "info", "warning", "error", "fatal"]


def _severity(level: Any) -> int:
    return _ORDER.index(str(level))


async def _write(conn: Conn, project_id: UUID, events: list[_Prepared]) -> list[IngestedEvent]:
    params = _issue_params(project_id, events)
    async with conn.transaction():
        # Lock the existing issues first: their status before this batch says
        # which ones regress, and cannot change until the batch commits.
        locked = _q.lock_issues(conn, project_id=project_id, fingerprints=params["fingerprints"])
        resolved = {row["fingerprint"] async for row in locked if row["status"] == "resolved"}
        issues = {row["fingerprint"]: row async for row in _q.upsert_issues(conn, **params)}
        async with conn.cursor() as cur, cur.copy(_q.copy_events.sql) as copy:
            for e in events:
                await copy.write_row(e.row(project_id, issues[e.fingerprint]["id"]))
    return [
        IngestedEvent(
            e.event_id,
            issues[e.fingerprint]["id"],
            issues[e.fingerprint]["new_issue"],
            e.fingerprint in resolved,
        )
        for e in events
    ]


@translate_errors
async def ingest_event(conn: Conn, project_id: UUID | str, payload: Any) -> IngestedEvent:
    """Store one event (an ``EventPayload`` or a mapping); see the module docstring."""
    pid = uuid_arg(project_id, "project_id")
    (result,) = await _write(conn, pid, _prepare([payload]))
    return result


@translate_errors
async def ingest_events(
    conn: Conn, project_id: UUID | str, payloads: Iterable[Any]
) -> list[IngestedEvent]:
    """Store a batch of events atomically: all of them, or none if any payload
    is invalid or any statement fails. One issue upsert per distinct
    fingerprint, then one COPY of the events."""
    pid = uuid_arg(project_id, "project_id")
    events = _prepare(payloads)
    return await _write(conn, pid, events) if events else []
