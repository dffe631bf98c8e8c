# Generated from mesher/aio/queries/releases.py by tools/gen_sync.py: edit that file.
"""Releases: a project's, and an issue's per environment (sql/queries/releases.sql).

Releases are ordered by the time they were first seen in the project: that
order decides which releases come "after" another when an issue is resolved
in one (``resolve_issue(in_release=...)``)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any
from uuid import UUID

from .._args import _preview, count_arg, uuid_arg
from .._results import trusted
from ..errors import InvalidInput, translate_errors
from ..limits import MAX_PAGE
from ..models import IssueRelease, Release, ReleasePage
from ._common import Conn, q

__all__ = ["issue_releases", "list_releases"]


def _encode(first_seen: dt.datetime, release: str) -> str:
    raw = json.dumps([first_seen.isoformat(), release], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(value: Any) -> tuple[dt.datetime | None, str | None]:
    if value is None:
        return None, None
    try:
        padded = value + "=" * (-len(value) % 4)
        at, release = json.loads(base64.urlsafe_b64decode(padded))
        first_seen = dt.datetime.fromisoformat(at)
        if first_seen.tzinfo is None or not isinstance(release, str):
            raise ValueError
    except Exception:
        raise InvalidInput(f"cursor is not a list_releases cursor: {_preview(value)}") from None
    return first_seen, release


@translate_errors
def list_releases(
    conn: Conn, project_id: UUID | str, limit: int = 50, cursor: str | None = None
) -> ReleasePage:
    """A page of a project's releases, most recently first seen first, each
    with its first and last seen, event count and the number of the
    project's issues first seen in it. Pass ``next_cursor`` back for the next
    page; it is None on the last one."""
    size = count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE)
    after_first_seen, after_release = _cursor(cursor)
    rows = q.releases.list_releases(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        after_first_seen=after_first_seen,
        after_release=after_release,
        page_size=size + 1,
    )
    items = [trusted(Release, row) for row in rows]
    if len(items) <= size:
        return ReleasePage(items=items, next_cursor=None)
    last = items[size - 1]
    return ReleasePage(items=items[:size], next_cursor=_encode(last.first_seen, last.release))


@translate_errors
def issue_releases(conn: Conn, project_id: UUID | str, issue_id: UUID | str) -> list[IssueRelease]:
    """An issue's events per release and environment (None: events without
    one): first seen, last seen and count, the earliest release first. A
    merged id gives its target's; an issue without a release event, a
    deleted one or none gives an empty list."""
    rows = q.releases.issue_releases(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        issue_id=uuid_arg(issue_id, "issue_id"),
    )
    items = []
    for row in rows:
        row["environment"] = row["environment"] or None
        items.append(trusted(IssueRelease, row))
    return items
