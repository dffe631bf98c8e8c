"""Reads: issues, events and dashboard helpers, pagination walked to the end,
and EXPLAIN checks that the right partitions and indexes serve them."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import psycopg
import pytest

from mesher import queries as q
from mesher._sql import sync_queries
from mesher.errors import InvalidInput, NotFound
from mesher.ingest import ingest_event, ingest_events
from mesher.models import IssueStatus, Severity

Conn = psycopg.Connection[Any]
MISSING = uuid.UUID("00000000-0000-7000-8000-000000000000")


def _issues(conn: Conn, project_id: uuid.UUID, n: int) -> list[uuid.UUID]:
    results = ingest_events(conn, project_id, [{"fingerprint": f"fp-{i:03}"} for i in range(n)])
    return [r.issue_id for r in results]


def _walk(fetch: Any) -> list[Any]:
    items, cursor, pages = [], None, 0
    while True:
        page = fetch(cursor)
        items += page.items
        pages += 1
        if page.next_cursor is None:
            return items
        assert page.items, "a page with a cursor is never empty"
        cursor = page.next_cursor
        assert pages < 1000


def test_get_issue(conn: Conn, project_id: uuid.UUID) -> None:
    (issue_id,) = _issues(conn, project_id, 1)
    issue = q.get_issue(conn, issue_id)
    assert (issue.id, issue.project_id, issue.event_count) == (issue_id, project_id, 1)
    with pytest.raises(NotFound):
        q.get_issue(conn, MISSING)


def test_list_issues_walks_every_issue_once(conn: Conn, project_id: uuid.UUID) -> None:
    ids = _issues(conn, project_id, 23)
    # ties on last_seen must not lose or repeat rows across pages
    conn.execute("UPDATE issues SET last_seen = '2031-01-01Z' WHERE fingerprint < 'fp-010'")
    walked = _walk(lambda cursor: q.list_issues(conn, project_id, limit=4, cursor=cursor))
    assert sorted(i.id for i in walked) == sorted(ids)
    keys = [(i.last_seen, i.id) for i in walked]
    assert keys == sorted(keys, reverse=True)
    single = q.list_issues(conn, project_id, limit=50)
    assert len(single.items) == 23 and single.next_cursor is None


def test_list_issues_filters(conn: Conn, project_id: uuid.UUID) -> None:
    ids = _issues(conn, project_id, 6)
    q.resolve_issue(conn, ids[0])
    q.archive_issue(conn, ids[1])
    warn = ingest_event(conn, project_id, {"fingerprint": "fp-warn", "level": "warning"})
    unresolved = q.list_issues(conn, project_id, status="unresolved").items
    assert len(unresolved) == 5
    assert [i.id for i in q.list_issues(conn, project_id, status=IssueStatus.RESOLVED).items] == [
        ids[0]
    ]
    warnings = q.list_issues(conn, project_id, level=Severity.WARNING).items
    assert [i.id for i in warnings] == [warn.issue_id]
    assert q.list_issues(conn, project_id, status="archived", level="warning").items == []
    other = q.insert_project(conn, q.get_project(conn, project_id).org_id, "Other", None)
    assert q.list_issues(conn, other).items == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "open"}, "status must be one of unresolved, resolved, archived"),
        ({"level": "loud"}, "level must be one of"),
        ({"limit": 0}, "limit must be between 1 and 1000"),
        ({"cursor": "garbage!"}, "cursor is not one this API returned"),
        ({"cursor": "MjAzMXxub3BlfA=="}, "cursor is not one this API returned"),
    ],
)
def test_list_issues_bad_arguments(conn: Conn, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        q.list_issues(conn, MISSING, **kwargs)


def test_transitions_and_assignment(conn: Conn, project_id: uuid.UUID) -> None:
    (issue_id,) = _issues(conn, project_id, 1)
    assert q.resolve_issue(conn, issue_id).status is IssueStatus.RESOLVED
    assert q.unresolve_issue(conn, issue_id).status is IssueStatus.UNRESOLVED
    assert q.archive_issue(conn, issue_id).status is IssueStatus.ARCHIVED
    user = q.create_user(conn, "dev@example.com", "pw", "Dev")
    assert q.assign_issue(conn, issue_id, user).assigned_to == user
    assert q.assign_issue(conn, issue_id, None).assigned_to is None
    with pytest.raises(NotFound, match="user not found"):
        q.assign_issue(conn, issue_id, MISSING)


@pytest.mark.parametrize(
    "transition", [q.resolve_issue, q.archive_issue, q.unresolve_issue, q.get_issue]
)
def test_transition_on_missing_issue(conn: Conn, transition: Any) -> None:
    with pytest.raises(NotFound, match=f"issue {MISSING} not found"):
        transition(conn, MISSING)
    with pytest.raises(NotFound):
        q.assign_issue(conn, MISSING, None)


def test_count_issues_by_status(conn: Conn, project_id: uuid.UUID) -> None:
    assert q.count_issues_by_status(conn, project_id) == {s: 0 for s in IssueStatus}
    ids = _issues(conn, project_id, 4)
    q.resolve_issue(conn, ids[0])
    assert q.count_issues_by_status(conn, project_id) == {
        IssueStatus.UNRESOLVED: 3,
        IssueStatus.RESOLVED: 1,
        IssueStatus.ARCHIVED: 0,
    }


def test_top_issues(conn: Conn, project_id: uuid.UUID) -> None:
    done = ingest_events(conn, project_id, [{"fingerprint": "a"}] * 3 + [{"fingerprint": "b"}] * 5)
    ingest_event(conn, project_id, {"fingerprint": "c"})
    top = q.top_issues(conn, project_id, limit=2)
    assert [(i.id, i.event_count) for i in top] == [(done[3].issue_id, 5), (done[0].issue_id, 3)]


def test_get_event(conn: Conn, project_id: uuid.UUID) -> None:
    payload = {
        "message": "boom",
        "level": "fatal",
        "exception": {"type_name": "RuntimeError", "value": "x", "module": "app"},
        "stacktrace": [{"filename": "a.py", "function_name": "f", "lineno": 1, "in_app": True}],
        "breadcrumbs": [{"category": "ui", "timestamp": "2031-01-01T00:00:00Z", "data": {"k": 1}}],
        "tags": {"env": "prod"},
        "extra": {"nested": {"a": [1, 2]}},
        "user_context": {"id": "u1"},
        "sdk_name": "mesher-py",
        "sdk_version": "1.2.3",
    }
    done = ingest_event(conn, project_id, payload)
    event = q.get_event(conn, project_id, done.event_id)
    assert event.level is Severity.FATAL
    assert event.stacktrace == [
        {"filename": "a.py", "function_name": "f", "lineno": 1, "in_app": True}
    ]
    assert event.breadcrumbs[0]["data"] == {"k": 1}
    assert event.breadcrumbs[0]["timestamp"] == dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    assert (event.extra, event.user_context) == ({"nested": {"a": [1, 2]}}, {"id": "u1"})
    assert (event.sdk_name, event.sdk_version) == ("mesher-py", "1.2.3")
    other = q.insert_project(conn, q.get_project(conn, project_id).org_id, "Other", None)
    with pytest.raises(NotFound):
        q.get_event(conn, other, done.event_id)  # another project's event
    with pytest.raises(NotFound):
        q.get_event(conn, project_id, MISSING)
    with pytest.raises(InvalidInput, match="UUIDv7"):
        q.get_event(conn, project_id, uuid.uuid4())


def test_list_events_for_issue_walks_to_the_end(conn: Conn, project_id: uuid.UUID) -> None:
    results = ingest_events(conn, project_id, [{"fingerprint": "same"}] * 17)
    ingest_event(conn, project_id, {"fingerprint": "other"})
    issue_id = results[0].issue_id
    walked = _walk(lambda cursor: q.list_events_for_issue(conn, issue_id, limit=5, cursor=cursor))
    assert sorted(e.id for e in walked) == sorted(r.event_id for r in results)
    assert [e.received_at for e in walked] == sorted((e.received_at for e in walked), reverse=True)
    assert q.list_events_for_issue(conn, MISSING).items == []


def test_filter_events_by_tags(conn: Conn, project_id: uuid.UUID) -> None:
    ingest_events(
        conn,
        project_id,
        [
            {"message": "a", "tags": {"env": "prod", "region": "eu"}},
            {"message": "b", "tags": {"env": "prod", "region": "us"}},
            {"message": "c", "tags": {"env": "dev"}},
        ],
    )
    assert {e.message for e in q.filter_events_by_tags(conn, project_id, {"env": "prod"})} == {
        "a",
        "b",
    }
    both = q.filter_events_by_tags(conn, project_id, {"env": "prod", "region": "us"})
    assert [e.message for e in both] == ["b"]
    assert q.filter_events_by_tags(conn, project_id, {"env": "staging"}) == []
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert q.filter_events_by_tags(conn, project_id, {"env": "prod"}, since=future) == []
    for bad in ({}, {"env": 1}, "env=prod"):
        with pytest.raises(InvalidInput, match="tags must be"):
            q.filter_events_by_tags(conn, project_id, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="since must be a timezone-aware"):
        q.filter_events_by_tags(conn, project_id, {"a": "b"}, since=dt.datetime(2031, 1, 1))


def test_filter_older_than_a_day_needs_since(conn: Conn, project_id: uuid.UUID) -> None:
    old = ingest_event(conn, project_id, {"message": "old", "tags": {"k": "v"}})
    conn.execute(
        "UPDATE events SET received_at = received_at - interval '2 days' WHERE id = %s",
        (old.event_id,),
    )
    assert q.filter_events_by_tags(conn, project_id, {"k": "v"}) == []  # default: 24 hours
    week = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    assert len(q.filter_events_by_tags(conn, project_id, {"k": "v"}, since=week)) == 1


def test_event_volume_and_level_breakdown(conn: Conn, project_id: uuid.UUID) -> None:
    ingest_events(conn, project_id, [{"message": "a"}] * 3 + [{"message": "w", "level": "warning"}])
    hours = q.event_volume(conn, project_id, "hour")
    assert len(hours) in (24, 25)
    assert sum(n for _, n in hours) == 4 and hours[-1][1] == 4
    assert all(b.minute == 0 and b.utcoffset() == dt.timedelta(0) for b, _ in hours)
    days = q.event_volume(conn, project_id, "day", dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    assert len(days) == 4 and days[-1][1] == 4 and sum(n for _, n in days[:-1]) == 0
    with pytest.raises(InvalidInput, match="bucket must be"):
        q.event_volume(conn, project_id, "minute")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="too far back"):
        q.event_volume(conn, project_id, "hour", dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    breakdown = q.level_breakdown(conn, project_id)
    assert breakdown == {**{s: 0 for s in Severity}, Severity.ERROR: 3, Severity.WARNING: 1}


# --- plans -------------------------------------------------------------------


def _plan(conn: Conn, query: str, params: dict[str, Any]) -> dict[str, Any]:
    (plan,) = conn.execute(
        "EXPLAIN (FORMAT JSON) " + sync_queries().__getattribute__(query).sql, params
    ).fetchone()
    return plan[0]["Plan"]  # type: ignore[no-any-return]


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


def test_get_event_touches_only_its_partitions(owner_conn: Conn, project_id: uuid.UUID) -> None:
    from mesher import partitions

    conn = owner_conn  # partition DDL is the owner's

    partitions.create_partitions_ahead(conn, 30)
    for back in range(1, 10):
        partitions.create_partition(conn, dt.datetime.now(dt.UTC).date() - dt.timedelta(days=back))
    total = conn.execute(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass"
    ).fetchone()[0]
    assert total >= 40
    event_id = ingest_event(conn, project_id, {"message": "x"}).event_id
    at = dt.datetime.fromtimestamp((event_id.int >> 80) / 1000, dt.UTC)
    plan = _plan(
        conn,
        "get_event",
        {
            "project_id": project_id,
            "id": event_id,
            "not_before": at - q.EVENT_TIME_SLACK,
            "not_after": at + q.EVENT_TIME_SLACK,
        },
    )
    scanned = {n["Relation Name"] for n in _nodes(plan) if "Relation Name" in n}
    assert 1 <= len(scanned) <= 2, scanned
    assert f"events_{at:%Y%m%d}" in scanned
    assert all(
        n["Node Type"] in ("Index Scan", "Bitmap Heap Scan", "Bitmap Index Scan")
        for n in _nodes(plan)
        if "Relation Name" in n
    )


def test_list_issues_uses_the_last_seen_index(owner_conn: Conn, project_id: uuid.UUID) -> None:
    conn = owner_conn  # ANALYZE is the owner's
    org = q.get_project(conn, project_id).org_id
    projects = [q.insert_project(conn, org, f"p{i}", None) for i in range(20)]
    conn.execute(
        """INSERT INTO issues (project_id, fingerprint, title, level, last_seen)
        SELECT p, 'fp' || g, 't', 'error', now() - g * interval '1 minute'
        FROM unnest(%s::uuid[]) AS p, generate_series(1, 500) AS g""",
        (projects,),
    )
    conn.execute("ANALYZE issues")
    first = q.list_issues(conn, projects[0], limit=10)
    for cursor in (None, first.next_cursor):
        after = (None, None)
        if cursor is not None:
            last = first.items[-1]
            after = (last.last_seen, last.id)
        plan = _plan(
            conn,
            "list_issues",
            {
                "project_id": projects[0],
                "status": None,
                "level": None,
                "after_last_seen": after[0],
                "after_id": after[1],
                "page_size": 11,
            },
        )
        indexes = {n.get("Index Name") for n in _nodes(plan)}
        assert "idx_issues_project_last_seen" in indexes, json.dumps(plan)[:2000]
        assert not any(n["Node Type"] == "Seq Scan" for n in _nodes(plan))
