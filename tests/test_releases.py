"""Releases and release-aware resolution (migration 0024): resolve_issue's
in_release (None, "next", a version) with events that arrive in and out of
order, list_releases and issue_releases against a recount from the events
(through merges and unmerges), and search's firstRelease."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from mesher import queries as q
from mesher import sentry
from mesher.errors import InvalidInput
from mesher.models import IngestedEvent, IssueStatus
from mesher.search import FirstReleaseFilter, parse

from .helpers import Conn

pytestmark = pytest.mark.citus


def _send(
    conn: Conn,
    project_id: Any,
    group: str,
    release: str | None = None,
    environment: str | None = None,
    timestamp: str | None = None,
) -> IngestedEvent:
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "message": f"boom {group}",
        "level": "error",
        "fingerprint": [group],
    }
    if release is not None:
        event["release"] = release
    if environment is not None:
        event["environment"] = environment
    if timestamp is not None:
        event["timestamp"] = timestamp
    result = sentry.ingest_store(conn, project_id, json.dumps(event).encode())
    conn.commit()
    assert isinstance(result, IngestedEvent)
    return result


def _status(conn: Conn, issue_id: uuid.UUID) -> IssueStatus:
    status = q.get_issue(conn, issue_id).status
    conn.rollback()
    return status


def _resolve(conn: Conn, issue_id: uuid.UUID, in_release: str | None) -> None:
    # "next" counts from the resolution's millisecond on (received_at's
    # precision): let the releases seen so far be a millisecond older
    time.sleep(0.002)
    issue = q.resolve_issue(conn, issue_id, in_release=in_release)
    conn.commit()
    assert issue.status == IssueStatus.RESOLVED
    assert (issue.resolved_after is not None) == (in_release == "next")
    assert issue.resolved_in_release == (None if in_release in (None, "next") else in_release)


def _counts_agree(conn: Conn, project_id: Any) -> None:
    visible = conn.execute(
        "SELECT status, count(*) FROM issues WHERE project_id = %s"
        " AND merged_into IS NULL AND deleted_at IS NULL GROUP BY status",
        [project_id],
    ).fetchall()
    expected = {s: 0 for s in IssueStatus} | {IssueStatus(s): n for s, n in visible}
    assert q.count_issues_by_status(conn, project_id) == expected
    conn.rollback()


def test_a_plain_resolution_reopens_on_any_event(conn: Conn, project_id: Any) -> None:
    issue = _send(conn, project_id, "a", "1.0").issue_id
    _resolve(conn, issue, None)
    again = _send(conn, project_id, "a")  # no release at all
    assert again.regressed and _status(conn, issue) == IssueStatus.UNRESOLVED
    _counts_agree(conn, project_id)


def test_resolved_in_the_next_release(conn: Conn, project_id: Any) -> None:
    issue = _send(conn, project_id, "a", "1.0").issue_id
    _send(conn, project_id, "other", "1.1")
    _resolve(conn, issue, "next")
    for release in ("1.0", "1.1", None):  # releases seen already, and none
        result = _send(conn, project_id, "a", release)
        assert not result.regressed and _status(conn, issue) == IssueStatus.RESOLVED
    _counts_agree(conn, project_id)
    result = _send(conn, project_id, "a", "2.0")  # first seen after the resolution
    assert result.regressed
    reopened = q.get_issue(conn, issue)
    assert reopened.status == IssueStatus.UNRESOLVED
    assert reopened.resolved_after is None and reopened.resolved_in_release is None
    conn.rollback()
    _counts_agree(conn, project_id)


def test_a_release_first_seen_by_another_issue_after_the_resolution_reopens(
    conn: Conn, project_id: Any
) -> None:
    issue = _send(conn, project_id, "a", "1.0").issue_id
    _resolve(conn, issue, "next")
    _send(conn, project_id, "other", "2.0")  # 2.0 first seen now, by another issue
    assert _send(conn, project_id, "a", "2.0").regressed


def test_resolved_in_a_version(conn: Conn, project_id: Any) -> None:
    issue = _send(conn, project_id, "a", "1.0").issue_id
    _send(conn, project_id, "other", "1.1")
    _send(conn, project_id, "other", "1.2")
    _resolve(conn, issue, "1.1")
    for release in ("1.0", None):  # seen before 1.1, or none
        assert not _send(conn, project_id, "a", release).regressed
    assert _status(conn, issue) == IssueStatus.RESOLVED
    assert _send(conn, project_id, "a", "1.1").regressed  # the version itself
    _resolve(conn, issue, "1.1")
    assert _send(conn, project_id, "a", "1.2").regressed  # first seen after 1.1
    _resolve(conn, issue, "1.1")
    assert _send(conn, project_id, "a", "9.9").regressed  # a new one, after 1.1 too
    _counts_agree(conn, project_id)


def test_resolved_in_a_version_not_seen_yet(conn: Conn, project_id: Any) -> None:
    issue = _send(conn, project_id, "a", "1.0").issue_id
    _resolve(conn, issue, "3.0")
    # first seen now, but before 3.0 (which has not been seen): not after it
    assert not _send(conn, project_id, "a", "2.5").regressed
    assert not _send(conn, project_id, "a", "1.0").regressed
    assert _send(conn, project_id, "a", "3.0").regressed


def test_events_out_of_order_follow_the_first_seen_order(conn: Conn, project_id: Any) -> None:
    issue = _send(conn, project_id, "a", "1.0", timestamp="2026-01-01T00:00:00Z").issue_id
    _send(conn, project_id, "a", "2.0", timestamp="2026-03-01T00:00:00Z")
    _resolve(conn, issue, "2.0")
    # an old event of 1.0, arriving late (its own time earlier still)
    assert not _send(conn, project_id, "a", "1.0", timestamp="2025-06-01T00:00:00Z").regressed
    # a release first seen now, with an event dated before 1.0's: after 2.0
    # by the rule (first seen in the project), so it reopens
    assert _send(conn, project_id, "a", "0.9", timestamp="2025-01-01T00:00:00Z").regressed
    _resolve(conn, issue, "next")
    assert not _send(conn, project_id, "a", "0.9").regressed


def test_archived_stays_archived(conn: Conn, project_id: Any) -> None:
    issue = _send(conn, project_id, "a", "1.0").issue_id
    q.archive_issue(conn, issue)
    conn.commit()
    assert not _send(conn, project_id, "a", "5.0").regressed
    assert _status(conn, issue) == IssueStatus.ARCHIVED


def test_resolve_refuses_a_bad_release(conn: Conn, project_id: Any) -> None:
    issue = _send(conn, project_id, "a", "1.0").issue_id
    for bad in ("", "   ", "x" * 201, 3):
        with pytest.raises(InvalidInput, match="in_release"):
            q.resolve_issue(conn, issue, in_release=bad)  # type: ignore[arg-type]
    conn.rollback()


def _recount(conn: Conn, project_id: Any) -> None:
    """releases and issue_releases against the events."""
    cur = conn.cursor()
    expected = cur.execute(
        "SELECT release, min(received_at), max(received_at), count(*) FROM events"
        " WHERE project_id = %s AND release IS NOT NULL GROUP BY release",
        [project_id],
    ).fetchall()
    page = q.list_releases(conn, project_id, limit=500)
    got = {(r.release, r.first_seen, r.last_seen, r.event_count) for r in page.items}
    assert got == set(expected)
    for r in page.items:
        n = cur.execute(
            "SELECT count(*) FROM issues WHERE project_id = %s AND first_release = %s"
            " AND merged_into IS NULL AND deleted_at IS NULL",
            [project_id, r.release],
        ).fetchone()
        assert n is not None and r.new_issues == n[0]
    issues = cur.execute(
        "SELECT id FROM issues WHERE project_id = %s AND merged_into IS NULL", [project_id]
    ).fetchall()
    for (issue_id,) in issues:
        rows = cur.execute(
            "SELECT release, nullif(coalesce(environment, ''), ''), min(received_at),"
            " max(received_at), count(*) FROM events WHERE project_id = %s AND release IS NOT NULL"
            " AND issue_id IN (SELECT id FROM issues WHERE id = %s OR merged_into = %s)"
            " GROUP BY 1, 2",
            [project_id, issue_id, issue_id],
        ).fetchall()
        stored = q.issue_releases(conn, project_id, issue_id)
        got_rows = {(r.release, r.environment, r.event_count) for r in stored}
        assert got_rows == {(r[0], r[1], r[4]) for r in rows}
        for r in stored:  # times: exact on the new issue, bounds on the old one
            row = next(x for x in rows if (x[0], x[1]) == (r.release, r.environment))
            assert r.first_seen <= row[2] and r.last_seen >= row[3]
    conn.rollback()


def test_list_releases_and_issue_releases(conn: Conn, project_id: Any) -> None:
    a = _send(conn, project_id, "a", "1.0", "prod").issue_id
    _send(conn, project_id, "a", "1.0", "staging")
    _send(conn, project_id, "a", "1.1")
    b = _send(conn, project_id, "b", "1.1", "prod").issue_id
    _send(conn, project_id, "c", "2.0")
    _recount(conn, project_id)
    first = q.list_releases(conn, project_id, limit=2)
    assert [r.release for r in first.items] == ["2.0", "1.1"]  # last first seen first
    assert first.next_cursor is not None
    rest = q.list_releases(conn, project_id, limit=2, cursor=first.next_cursor)
    assert [r.release for r in rest.items] == ["1.0"] and rest.next_cursor is None
    assert [r.new_issues for r in first.items + rest.items] == [1, 1, 1]
    with pytest.raises(InvalidInput, match="cursor"):
        q.list_releases(conn, project_id, cursor="nonsense")
    rows = q.issue_releases(conn, project_id, a)
    assert [(r.release, r.environment, r.event_count) for r in rows] == [
        ("1.0", "prod", 1),
        ("1.0", "staging", 1),
        ("1.1", None, 1),
    ]
    conn.rollback()
    q.merge_issues(conn, project_id, a, [b])
    conn.commit()
    _recount(conn, project_id)
    assert q.issue_releases(conn, project_id, b) == q.issue_releases(conn, project_id, a)
    conn.rollback()
    fps = [f.fingerprint for f in q.list_issue_fingerprints(conn, project_id, a)]
    conn.rollback()
    new = q.unmerge_issue(conn, project_id, a, [fps[-1]])
    _recount(conn, project_id)
    assert new.first_release is not None
    assert q.issue_releases(conn, project_id, uuid.uuid4()) == []


def test_search_first_release(conn: Conn, project_id: Any) -> None:
    a = _send(conn, project_id, "a", "1.0").issue_id
    b = _send(conn, project_id, "b", "2.0").issue_id
    _send(conn, project_id, "c")
    assert [i.id for i in q.search_issues(conn, project_id, "firstRelease:1.0").items] == [a]
    both = q.search_issues(conn, project_id, "firstRelease:[1.0, 2.0]").items
    assert {i.id for i in both} == {a, b}
    assert q.search_issues(conn, project_id, "firstRelease:1.0 firstRelease:2.0").items == []
    with pytest.raises(InvalidInput, match="position 1"):
        q.search_issues(conn, project_id, "!firstRelease:1.0")


def test_first_release_parses_and_prints_back() -> None:
    query = parse('firstRelease:[1.0, "2 beta"] boom')
    assert query.terms[0] == FirstReleaseFilter(("1.0", "2 beta"))
    assert parse(str(query)) == query
    with pytest.raises(InvalidInput, match="value after 'firstRelease:'"):
        parse("firstRelease:")
