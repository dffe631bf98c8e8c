"""Deleting an issue, and issues expiring with a project's retention: gone
from every read at once, their fingerprints start new issues, and
maintenance removes their rows in chunks."""

from __future__ import annotations

import datetime as dt
import threading
import time
import types
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from mesher import _uuid7, maintenance
from mesher import queries as q
from mesher.errors import InvalidInput, NotFound
from mesher.ingest import ingest_events
from mesher.maintenance import run_deletions
from mesher.models import IssueStatus
from mesher.partitions import create_partition

from .conftest import Server
from .helpers import MISSING

pytestmark = pytest.mark.citus
pytest_plugins = ["tests.entities"]

Conn = psycopg.Connection[Any]
#: The per-issue tables: each must have rows of the issue before it is deleted.
PER_ISSUE = ("events", "issue_tag_values", "issue_hourly_counts", "issue_fingerprints", "issues")


def _issue_rows(conn: Conn, project_id: uuid.UUID, issue_id: uuid.UUID) -> dict[str, int]:
    rows = {}
    for table in PER_ISSUE:
        column = "id" if table == "issues" else "issue_id"
        query = f"SELECT count(*) FROM {table} WHERE project_id = %s AND {column} = %s"
        row = conn.execute(query, (project_id, issue_id)).fetchone()
        assert row is not None
        rows[table] = int(row[0])
    return rows


def _events(n: int, message: str) -> list[dict[str, Any]]:
    return [{"message": message, "tags": {"env": "prod", "n": str(i % 4)}} for i in range(n)]


def test_delete_issue_hides_it_and_its_fingerprint_starts_a_new_one(
    db_url: str,
    conn: Conn,
    project_id: uuid.UUID,
    other_project_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn.commit()
    boom = ingest_events(conn, project_id, _events(30, "boom"))[0]
    doomed = boom.issue_id
    kept = ingest_events(conn, project_id, _events(5, "fine"))[0].issue_id
    conn.commit()
    before = _issue_rows(conn, project_id, doomed)
    assert all(before.values())  # the check below means something
    kept_before = _issue_rows(conn, project_id, kept)
    with pytest.raises(NotFound):  # another project's id
        q.delete_issue(conn, other_project_id, doomed)
    with pytest.raises(NotFound):
        q.delete_issue(conn, project_id, MISSING)
    with pytest.raises(InvalidInput):
        q.delete_issue(conn, project_id, "nope")
    conn.rollback()
    q.delete_issue(conn, project_id, doomed)
    conn.commit()
    with pytest.raises(NotFound):
        q.get_issue(conn, doomed, project_id=project_id)
    assert [i.id for i in q.list_issues(conn, project_id).items] == [kept]
    assert q.list_events_for_issue(conn, doomed).items == []
    assert q.list_events_for_issue(conn, doomed, project_id=project_id).items == []
    with pytest.raises(NotFound):
        q.get_event(conn, project_id, boom.event_id)
    assert len(q.list_events_for_issue(conn, kept).items) == 5
    assert q.count_issues_by_status(conn, project_id)[IssueStatus.UNRESOLVED] == 1
    with pytest.raises(NotFound):  # deleted already
        q.delete_issue(conn, project_id, doomed)
    conn.rollback()
    again = ingest_events(conn, project_id, _events(2, "boom"))  # same fingerprint
    conn.commit()
    assert again[0].new_issue and again[0].issue_id != doomed
    monkeypatch.setattr(maintenance, "CHUNK_ROWS", 7)
    with psycopg.connect(db_url, autocommit=True) as owner:
        report = run_deletions(owner, time_budget_s=300)
        assert _issue_rows(owner, project_id, doomed) == dict.fromkeys(PER_ISSUE, 0)
        assert _issue_rows(owner, project_id, kept) == kept_before
    assert report.issues == 1 and "1 deleted issues gone" in report.line()
    assert sum(n for t, n in report.deleted.items() if t.startswith("events_")) == 30
    assert q.get_issue(conn, again[0].issue_id, project_id=project_id).event_count == 2


def test_an_issue_whose_last_event_expired_is_deleted(
    db_url: str, conn: Conn, project_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=10)
    with psycopg.connect(db_url, autocommit=True) as owner:
        create_partition(owner, old)
    noon = dt.datetime.combine(old, dt.time(12), dt.UTC)
    monkeypatch.setattr(
        _uuid7, "time", types.SimpleNamespace(time_ns=lambda: int(noon.timestamp() * 1e9))
    )
    monkeypatch.setattr(_uuid7, "_last_ms", 0)
    conn.commit()
    stale = ingest_events(conn, project_id, _events(6, "old"))[0].issue_id
    both = ingest_events(conn, project_id, _events(3, "both"))[0].issue_id
    monkeypatch.undo()
    ingest_events(conn, project_id, _events(2, "both"))  # "both" has a recent event
    q.set_project_retention(conn, project_id, 5)
    conn.commit()
    with psycopg.connect(db_url, autocommit=True) as owner:
        report = run_deletions(owner, time_budget_s=300)
        assert _issue_rows(owner, project_id, stale) == dict.fromkeys(PER_ISSUE, 0)
        survivor = _issue_rows(owner, project_id, both)
    assert report.expired_issues == 1 and report.issues == 1
    assert survivor["events"] == 2 and survivor["issues"] == 1  # its old events went
    assert [i.id for i in q.list_issues(conn, project_id).items] == [both]
    assert q.count_issues_by_status(conn, project_id)[IssueStatus.UNRESOLVED] == 1
    again = ingest_events(conn, project_id, _events(1, "old"))[0]
    assert again.new_issue and again.issue_id != stale


def _waits_for_a_lock(owner: Conn, server: Server, writing: Conn) -> Callable[[], bool]:
    """Whether ``writing``'s statement waits for a lock, as ``owner`` (the
    superuser) sees it: on Citus the wait is on a worker, which the
    coordinator's citus_lock_waits shows by the global pid."""
    if server.version == "citus":
        row = writing.execute("SELECT citus_backend_gpid()").fetchone()
        query, key = "SELECT count(*) > 0 FROM citus_lock_waits WHERE waiting_gpid = %s", row
    else:
        query = "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s"
        key = (writing.info.backend_pid,)
    writing.commit()

    def waits() -> bool:
        row = owner.execute(query, key).fetchone()
        owner.commit()
        return bool(row and row[0])

    return waits


def test_a_batch_waiting_on_a_deleted_issue_opens_a_new_one(
    db_url: str, app_url: str, conn: Conn, project_id: uuid.UUID, server: Server
) -> None:
    """A batch that waits for the issue's row while delete_issue commits does
    not write into the deleted issue: its fingerprint opens a new one."""
    doomed = ingest_events(conn, project_id, _events(3, "race"))[0].issue_id
    conn.commit()
    with (
        psycopg.connect(db_url) as owner,
        psycopg.connect(app_url) as deleting,
        psycopg.connect(app_url) as writing,
    ):
        waits = _waits_for_a_lock(owner, server, writing)
        q.delete_issue(deleting, project_id, doomed)  # uncommitted: holds the issue's row
        done: list[uuid.UUID] = []
        failed: list[BaseException] = []

        def write() -> None:
            try:
                with writing.transaction():
                    done.append(ingest_events(writing, project_id, _events(2, "race"))[0].issue_id)
            except BaseException as exc:  # reported below
                failed.append(exc)

        thread = threading.Thread(target=write)
        thread.start()
        try:
            for _ in range(600):  # until the writer waits for the issue's row lock
                if waited := waits():
                    break
                time.sleep(0.05)
        finally:  # the writer must never be left waiting on an open transaction
            deleting.commit()
            thread.join(timeout=60)
    assert waited, "the writer never waited for the deleted issue's row"
    assert not failed, failed
    assert len(done) == 1 and done[0] != doomed
    assert q.get_issue(conn, done[0], project_id=project_id).event_count == 2
    with pytest.raises(NotFound):
        q.get_issue(conn, doomed, project_id=project_id)
