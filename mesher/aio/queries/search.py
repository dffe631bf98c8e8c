"""Issue search: Sentry's query syntax over a project's issues (sql/queries/search.sql)."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from ..._args import (
    SEARCH_SORTS,
    SearchSort,
    aware_datetime_arg,
    count_arg,
    encode_search_cursor,
    search_cursor_arg,
    search_sort_arg,
    uuid_arg,
)
from ..._results import issue_rows, trusted
from ...errors import translate_errors
from ...limits import MAX_PAGE
from ...models import IssuePage
from ...search import SearchQuery, assignee_emails, checked, sql_filters, tag_lookups, tag_plan
from ._common import Conn, fetch_all, q

__all__ = ["search_issues"]


@translate_errors
async def search_issues(
    conn: Conn,
    project_id: UUID | str,
    query: str | SearchQuery,
    sort: SearchSort = "date",
    limit: int = 50,
    cursor: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> IssuePage:
    """A page of the project's issues that match ``query`` (a string in
    Sentry's syntax, see :mod:`mesher.search`, or a parsed ``SearchQuery``),
    in ``sort`` order: ``"date"`` (last seen, newest first), ``"new"`` (first
    seen, newest first), ``"freq"`` (most events first) or ``"user"`` (most
    users affected first), ties by id. Pass
    the page's ``next_cursor`` back, with the same sort, for the next page; it
    is None on the last one.

    Relative times (``lastSeen:-24h``) count back from ``now``: the caller's
    clock (``datetime.now(UTC)``) unless given, a timezone-aware datetime
    (pass the first page's to keep a window still while paging). A malformed
    query, sort, limit or cursor is ``InvalidInput`` before any SQL runs."""
    pid = uuid_arg(project_id, "project_id")
    order = search_sort_arg(sort)
    size = count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE)
    after_key, after_id = search_cursor_arg(cursor, order)
    parsed = checked(query)
    at = dt.datetime.now(dt.UTC) if now is None else aware_datetime_arg(now, "now")
    users: dict[str, UUID] = {}
    emails = assignee_emails(parsed)
    if emails:
        async for row in q.search.search_assignees(conn, emails=emails):
            users[row["email"]] = row["id"]
    filters = sql_filters(parsed, at, users)
    if filters is None:  # terms that no issue can meet together
        return IssuePage(items=[], next_cursor=None)
    seed = None
    if filters["tag_keys"]:  # the tag store's counts choose the plan (tag_plan)
        keys, values = tag_lookups(filters)
        found, issues = {}, 0
        async for row in q.search.search_tag_values(
            conn, project_id=pid, tag_keys=keys, tag_values=values
        ):
            found[(row["tag_key"], row["tag_value"])] = (row["times_seen"], None)
            issues = row["issues"]
        rowless = [pair for pair, (times_seen, _) in found.items() if times_seen is None]
        if rowless:  # values without rows: their issues, from the events
            async for row in q.search.search_untracked_issues(
                conn,
                project_id=pid,
                tag_keys=[k for k, _ in rowless],
                tag_values=[v for _, v in rowless],
            ):
                found[(row["tag_key"], row["tag_value"])] = (None, row["issue_ids"])
        seed = tag_plan(filters, found, issues, size + 1)
    statement = {
        "date": q.search.search_issues,
        "new": q.search.search_issues_new,
        "freq": q.search.search_issues_freq,
        "user": q.search.search_issues_user,
    }[order]
    if seed is not None:  # start from the rare term's issues
        statement = {
            "date": q.search.search_issues_by_tag,
            "new": q.search.search_issues_new_by_tag,
            "freq": q.search.search_issues_freq_by_tag,
            "user": q.search.search_issues_user_by_tag,
        }[order]
    key = SEARCH_SORTS[order]
    params = {
        "project_id": pid,
        **filters,
        **(seed or {}),
        f"after_{key}": after_key,
        "after_id": after_id,
        "page_size": size + 1,  # one more tells whether a next page exists
    }
    items = await fetch_all(conn, statement, issue_rows, params)
    if len(items) <= size:
        return trusted(IssuePage, {"items": items, "next_cursor": None})
    last = items[size - 1]
    next_cursor = encode_search_cursor(order, getattr(last, key), last.id)
    return trusted(IssuePage, {"items": items[:size], "next_cursor": next_cursor})
