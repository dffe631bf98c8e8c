# Generated from mesher/aio/queries/rate_limits.py by tools/gen_sync.py: edit that file.
"""Projects' rate limits (sql/queries/rate_limits.sql)."""

from __future__ import annotations

from uuid import UUID

from .._args import count_arg, uuid_arg
from ..errors import translate_errors
from ._common import Conn, q

__all__ = ["list_project_rate_limits", "set_project_rate_limit"]

#: The largest limit: an INTEGER column.
_MAX_LIMIT = 2**31 - 1


@translate_errors
def set_project_rate_limit(
    conn: Conn, project_id: UUID | str, events_per_minute: int | None
) -> None:
    """Limit the events a project stores per minute (0 refuses them all);
    ``None`` lifts the limit. ``mesher.server`` applies a change within 10 s.
    ``NotFound`` if the project does not exist."""
    pid = uuid_arg(project_id, "project_id")
    if events_per_minute is None:
        q.rate_limits.delete_project_rate_limit(conn, project_id=pid)
        return
    limit = count_arg(events_per_minute, "events_per_minute", maximum=_MAX_LIMIT)
    q.rate_limits.set_project_rate_limit(conn, project_id=pid, events_per_minute=limit)


@translate_errors
def list_project_rate_limits(conn: Conn) -> dict[UUID, int]:
    """Every limited project's events per minute (an ingest server's cache)."""
    rows = q.rate_limits.list_project_rate_limits(conn)
    return {row["project_id"]: row["events_per_minute"] for row in rows}
