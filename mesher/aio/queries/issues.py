"""Issues: events grouped by fingerprint (sql/queries/issues.sql)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from ..._args import (
    count_arg,
    cursor_arg,
    optional_enum_arg,
    optional_uuid_arg,
    text_arg,
    uuid_arg,
)
from ..._results import (
    found,
    issue_from_row,
    issue_rows,
    keyset_page,
    status_pairs,
    trusted,
    tuples,
)
from ..._retry import retry_deadlocks
from ...errors import InvalidInput, translate_errors
from ...limits import MAX_PAGE, MAX_SPARKLINE_POINTS
from ...models import Issue, IssuePage, IssueStatus, Severity
from ._common import (
    Bucket,
    Conn,
    bucket_arg,
    fetch_all,
    fetch_one,
    in_project,
    in_project_params,
    q,
    series_length,
    series_start,
)

__all__ = [
    "archive_issue",
    "assign_issue",
    "count_issues_by_status",
    "get_issue",
    "issue_sparklines",
    "list_issues",
    "resolve_issue",
    "top_issues",
    "unresolve_issue",
]


@translate_errors
async def get_issue(
    conn: Conn, issue_id: UUID | str, *, project_id: UUID | str | None = None
) -> Issue:
    """One issue; with ``project_id``, only if it belongs to that project."""
    params = {"id": uuid_arg(issue_id, "issue_id")}
    query = in_project_params(q.issues.get_issue, q.issues.get_issue_in_project, project_id, params)
    return found(await fetch_one(conn, query, issue_rows, params), "issue", issue_id)


@translate_errors
async def list_issues(
    conn: Conn,
    project_id: UUID | str,
    status: IssueStatus | str | None = None,
    level: Severity | str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> IssuePage:
    """A page of a project's issues, most recently seen first. Pass the page's
    ``next_cursor`` back for the next page; it is None on the last one."""
    size = count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE)
    after_last_seen, after_id = cursor_arg(cursor)
    status_value = optional_enum_arg(status, IssueStatus, "status")
    level_value = optional_enum_arg(level, Severity, "level")
    common: dict[str, Any] = {
        "project_id": uuid_arg(project_id, "project_id"),
        "status": None if status_value is None else status_value.value,
        "level": None if level_value is None else level_value.value,
        "page_size": size + 1,  # one more tells whether a next page exists
    }
    if after_id is None:
        rows = await fetch_all(conn, q.issues.list_issues, issue_rows, common)
    else:
        common.update(after_last_seen=after_last_seen, after_id=after_id)
        rows = await fetch_all(conn, q.issues.list_issues_after, issue_rows, common)
    items, next_cursor = keyset_page(rows, size)
    return trusted(IssuePage, {"items": items, "next_cursor": next_cursor})


async def _change(conn: Conn, update: Any, issue_id: UUID | str, **args: Any) -> Issue:
    """Run one of the updates (picked by ``in_project``); the issue after it,
    or ``NotFound``."""
    row = await update(conn, id=uuid_arg(issue_id, "issue_id"), **args)
    return issue_from_row(found(row, f"issue {issue_id}"))


@retry_deadlocks  # a deadlock never reaches resolve_issue's caller
async def _set_status(
    conn: Conn,
    issue_id: UUID | str,
    project_id: UUID | str | None,
    status: IssueStatus,
    in_release: str | None = None,
) -> Issue:
    """set_issue_status, which needs the issue's project: without
    ``project_id``, the issue's own (get_issue, across projects)."""
    iid = uuid_arg(issue_id, "issue_id")
    pid = optional_uuid_arg(project_id, "project_id")
    release = None if in_release is None else text_arg(in_release, "in_release", max_length=200)
    if pid is None:
        row = found(await q.issues.get_issue(conn, id=iid), f"issue {issue_id}")
        pid = row["project_id"]
    changed = await q.issues.set_issue_status(
        conn,
        project_id=pid,
        id=iid,
        new_status=status.value,
        in_next_release=release == "next",
        in_release=None if release == "next" else release,
    )
    return issue_from_row(found(changed, f"issue {issue_id}"))


@translate_errors
async def resolve_issue(
    conn: Conn,
    issue_id: UUID | str,
    *,
    project_id: UUID | str | None = None,
    in_release: str | None = None,
) -> Issue:
    """Mark an issue resolved. ``in_release`` says which new events regress
    it to unresolved (a regression, as the alert rules see it):

    - None: any event;
    - ``"next"``: an event of a release first seen in the project after now
      (events of the releases seen so far do not);
    - a version: an event of that release, or of a release first seen after
      it (events of the releases first seen before it do not).

    Releases are ordered by the time they were first seen in the project.
    With ``"next"`` or a version, an event without a release never reopens
    the issue."""
    return await _set_status(conn, issue_id, project_id, IssueStatus.RESOLVED, in_release)


@translate_errors
async def archive_issue(
    conn: Conn, issue_id: UUID | str, *, project_id: UUID | str | None = None
) -> Issue:
    """Archive an issue; new events keep counting but do not reopen it."""
    return await _set_status(conn, issue_id, project_id, IssueStatus.ARCHIVED)


@translate_errors
async def unresolve_issue(
    conn: Conn, issue_id: UUID | str, *, project_id: UUID | str | None = None
) -> Issue:
    """Reopen a resolved or archived issue."""
    return await _set_status(conn, issue_id, project_id, IssueStatus.UNRESOLVED)


@translate_errors
async def assign_issue(
    conn: Conn,
    issue_id: UUID | str,
    user_id: UUID | str | None,
    *,
    project_id: UUID | str | None = None,
) -> Issue:
    """Assign an issue to a user, or unassign it with None."""
    update = in_project(q.issues.assign_issue, q.issues.assign_issue_in_project, project_id)
    return await _change(conn, update, issue_id, user_id=optional_uuid_arg(user_id, "user_id"))


@translate_errors
async def count_issues_by_status(conn: Conn, project_id: UUID | str) -> dict[IssueStatus, int]:
    """Issues per status, every status present (0 when none)."""
    params = {"project_id": uuid_arg(project_id, "project_id")}
    counts = dict.fromkeys(IssueStatus, 0)
    counts.update(await fetch_all(conn, q.issues.count_issues_by_status, status_pairs, params))
    return counts


@translate_errors
async def top_issues(conn: Conn, project_id: UUID | str, limit: int = 10) -> list[Issue]:
    """A project's issues with the most events, most first."""
    params = {
        "project_id": uuid_arg(project_id, "project_id"),
        "page_size": count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE),
    }
    return await fetch_all(conn, q.issues.top_issues, issue_rows, params)


def _issue_ids(value: Any) -> list[UUID]:
    """A page of issue ids: distinct, in the order given, at most MAX_PAGE."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInput("issue_ids must be a list of issue ids")
    ids: dict[UUID, None] = {}
    for index, item in enumerate(value):
        if index >= MAX_PAGE:
            raise InvalidInput(f"issue_ids holds at most {MAX_PAGE} ids")
        ids[uuid_arg(item, f"issue_ids item {index}")] = None
    return list(ids)


@translate_errors
async def issue_sparklines(
    conn: Conn,
    issue_ids: Iterable[UUID | str],
    since: dt.datetime,
    bucket: Bucket = "hour",
    *,
    project_id: UUID | str,
) -> dict[UUID, list[tuple[dt.datetime, int]]]:
    """Events per UTC hour or day since ``since`` for each of a page of a
    project's issues, in one query: ``{issue_id: [(bucket_start, count), ...]}``
    in the order of ``issue_ids`` (duplicates once), each series oldest first
    with its empty buckets. Read from the hourly rollup, which counts whole UTC
    hours: ``since`` counts from the start of its hour. An id that is not an
    issue of the project gets zeros, like an issue without events.

    ``project_id`` is required: a page of issues belongs to one project, and it
    keeps the read on one shard (Citus) and within one tenant. At most
    ``MAX_PAGE`` ids, ``MAX_BUCKETS`` buckets and ``MAX_SPARKLINE_POINTS``
    points (ids times buckets)."""
    pid = uuid_arg(project_id, "project_id")
    ids = _issue_ids(issue_ids)
    unit = bucket_arg(bucket)
    start = series_start(unit, since)
    if len(ids) * series_length(unit, start) > MAX_SPARKLINE_POINTS:
        raise InvalidInput(
            f"{len(ids)} issues over that many {unit}s exceed {MAX_SPARKLINE_POINTS} points:"
            " pass fewer issues or a later since"
        )
    series: dict[UUID, list[tuple[dt.datetime, int]]] = {i: [] for i in ids}
    if not ids:
        return series
    params = {"project_id": pid, "issue_ids": ids, "bucket": unit, "since": start}
    for issue, bucket_start, count in await fetch_all(
        conn, q.issues.issue_sparklines, tuples, params
    ):
        series[issue].append((bucket_start, count))
    return series
