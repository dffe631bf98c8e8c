# Generated from mesher/aio/queries/events.py by tools/gen_sync.py: edit that file.
"""Reading events, and the dashboards (sql/queries/events.sql).

Events are written by the write path, ``mesher.ingest``, which also keeps
the hourly rollups that ``event_volume`` and ``level_breakdown`` read: their
cost follows the hours in the window, not the events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb

from .._args import aware_datetime_arg, count_arg, cursor_arg, tags_arg, uuid_arg
from .._results import event_rows, found, keyset_page, level_pairs, trusted, tuples
from .._uuid7 import uuid7_time
from ..errors import InvalidInput, translate_errors
from ..limits import MAX_PAGE
from ..models import Event, EventPage, Severity
from ._common import Conn, bucket_arg, fetch_all, fetch_one, in_project_params, q, series_start

__all__ = [
    "EVENT_TIME_SLACK",
    "event_volume",
    "filter_events_by_tags",
    "get_event",
    "level_breakdown",
    "list_events_for_issue",
]

#: get_event looks this far around the time in the event's UUIDv7 id.
EVENT_TIME_SLACK = dt.timedelta(hours=1)


@translate_errors
def get_event(conn: Conn, project_id: UUID | str, event_id: UUID | str) -> Event:
    """One event. Its UUIDv7 id carries its time, which bounds ``received_at``
    to within ``EVENT_TIME_SLACK``: only those partitions are searched."""
    eid = uuid_arg(event_id, "event_id")
    if eid.version != 7:
        raise InvalidInput("event_id must be a UUIDv7 (event ids carry their time)")
    at = uuid7_time(eid)
    params = {
        "project_id": uuid_arg(project_id, "project_id"),
        "id": eid,
        "not_before": at - EVENT_TIME_SLACK,
        "not_after": at + EVENT_TIME_SLACK,
    }
    return found(fetch_one(conn, q.events.get_event, event_rows, params), "event", event_id)


@translate_errors
def list_events_for_issue(
    conn: Conn,
    issue_id: UUID | str,
    limit: int = 50,
    cursor: str | None = None,
    *,
    project_id: UUID | str | None = None,
) -> EventPage:
    """A page of an issue's events, newest first; see ``list_issues`` for
    cursors. With ``project_id``, an issue of another project has no events."""
    size = count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE)
    after_received_at, after_id = cursor_arg(cursor)
    iid = uuid_arg(issue_id, "issue_id")
    params: dict[str, Any] = {"issue_id": iid, "page_size": size + 1}
    if after_id is None:
        unscoped, scoped = q.events.list_events_for_issue, q.events.list_events_for_issue_in_project
    else:
        unscoped = q.events.list_events_for_issue_after
        scoped = q.events.list_events_for_issue_after_in_project
    query = in_project_params(unscoped, scoped, project_id, params)
    if after_id is not None:
        params.update(after_received_at=after_received_at, after_id=after_id)
    items, next_cursor = keyset_page(fetch_all(conn, query, event_rows, params), size)
    return trusted(EventPage, {"items": items, "next_cursor": next_cursor})


def _since(value: Any, default: dt.timedelta) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC) - default
    return aware_datetime_arg(value, "since")


@translate_errors
def filter_events_by_tags(
    conn: Conn,
    project_id: UUID | str,
    tags: Mapping[str, str],
    since: dt.datetime | None = None,
    limit: int = 100,
) -> list[Event]:
    """A project's events carrying all the given tags, newest first, since
    ``since`` (default: the last 24 hours). One statement: it walks the
    events of the pair the tag store counts fewest of in ``event_tags``,
    newest first, until ``limit`` match, then sorts those of the rows that
    overlap them in time (see sql/queries/events.sql)."""
    params = {
        "project_id": uuid_arg(project_id, "project_id"),
        "tags": Jsonb(tags_arg(tags)),
        "since": _since(since, dt.timedelta(hours=24)),
        "page_size": count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE),
    }
    return fetch_all(conn, q.events.filter_events_by_tags, event_rows, params)


@translate_errors
def event_volume(
    conn: Conn,
    project_id: UUID | str,
    bucket: Literal["hour", "day"] = "hour",
    since: dt.datetime | None = None,
) -> list[tuple[dt.datetime, int]]:
    """Events per UTC hour or day since ``since`` (default: 24 buckets back),
    empty buckets included, oldest first. Read from the hourly rollup, which
    counts whole UTC hours: ``since`` counts from the start of its hour."""
    unit = bucket_arg(bucket)
    start = series_start(unit, since, default_buckets=24)
    params = {"project_id": uuid_arg(project_id, "project_id"), "bucket": unit, "since": start}
    return fetch_all(conn, q.events.event_volume, tuples, params)


@translate_errors
def level_breakdown(
    conn: Conn, project_id: UUID | str, since: dt.datetime | None = None
) -> dict[Severity, int]:
    """Events per level since ``since`` (default: the last 24 hours; from the
    start of its UTC hour, like ``event_volume``), every level present."""
    params = {
        "project_id": uuid_arg(project_id, "project_id"),
        "since": _since(since, dt.timedelta(hours=24)),
    }
    counts = dict.fromkeys(Severity, 0)
    counts.update(fetch_all(conn, q.events.level_breakdown, level_pairs, params))
    return counts
