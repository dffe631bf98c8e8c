"""Partition maintenance: nothing lost, nothing duplicated, old days dropped."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import time
import types
import uuid
from typing import Any

import psycopg
import pytest

from mesher import _uuid7, maintenance
from mesher import queries as q
from mesher.errors import InvalidInput
from mesher.ingest import ingest_events
from mesher.maintenance import MaintenanceReport, maintain
from mesher.partitions import create_partition

from .helpers import logical_name, run_concurrently

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

Conn = psycopg.Connection[Any]
TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set the write path's clock to a given UTC day (noon)."""

    def set_day(day: dt.date) -> None:
        noon = dt.datetime.combine(day, dt.time(12), dt.UTC)
        fake = types.SimpleNamespace(time_ns=lambda: int(noon.timestamp() * 1e9))
        monkeypatch.setattr(_uuid7, "time", fake)
        monkeypatch.setattr(_uuid7, "_last_ms", 0)

    return set_day


def _where(conn: Conn) -> dict[str, int]:
    """The number of events in each partition (on the Citus tier, counted in
    the partitions' shards)."""
    rows = conn.execute(
        "SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1 ORDER BY 1"
    ).fetchall()
    where: dict[str, int] = {}
    for name, count in rows:
        partition = logical_name(conn, name)
        where[partition] = where.get(partition, 0) + count
    return where


def _partitions(conn: Conn) -> set[str]:
    rows = conn.execute(
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'events'::regclass"
    ).fetchall()
    return {r[0] for r in rows}


def test_events_beyond_the_window_are_kept_then_moved(
    db_url: str, project_id: uuid.UUID, clock: Any
) -> None:
    far = TODAY + dt.timedelta(days=30)
    farther = TODAY + dt.timedelta(days=31)
    with psycopg.connect(db_url, autocommit=True) as conn:
        clock(far)
        stored = ingest_events(conn, project_id, [{"message": "from the future"}] * 5)
        clock(farther)
        stored += ingest_events(conn, project_id, [{"message": "from the future"}] * 2)
        assert _where(conn) == {"events_default": 7}
        assert q.get_event(conn, project_id, stored[0].event_id).message == "from the future"
        issue_before = q.get_issue(conn, stored[0].issue_id)

        report = maintain(conn, days_ahead=7, retention_days=90)

        assert report.created == []
        assert report.moved == {f"events_{far:%Y%m%d}": 5, f"events_{farther:%Y%m%d}": 2}
        assert report.dropped == []
        assert _where(conn) == {f"events_{far:%Y%m%d}": 5, f"events_{farther:%Y%m%d}": 2}
        (ids,) = conn.execute("SELECT array_agg(id ORDER BY id) FROM events").fetchone()
        assert ids == sorted(r.event_id for r in stored)  # same rows, none duplicated
        assert q.get_issue(conn, stored[0].issue_id) == issue_before
        assert q.get_event(conn, project_id, stored[-1].event_id).id == stored[-1].event_id
        assert report.lines() == [
            "create partitions ahead: nothing to do",
            "move rows out of events_default: moved 7 rows into "
            f"events_{far:%Y%m%d}, events_{farther:%Y%m%d}",
            "drop expired partitions: nothing to do",
            "delete expired hourly rollups: nothing to do",
            "forget expired idempotency keys: nothing to do",
            "forget expired Sentry event ids: nothing to do",
            "delete expired sessions: nothing to do",
            "delete expired outcomes: nothing to do",
            "finish cut-short unmerges: nothing to do",
            "delete deleted and expired rows: nothing to do",
        ]
        again = maintain(conn)
        assert (again.created, again.moved, again.dropped) == ([], {}, [])


def test_old_partitions_are_dropped_issues_remain(
    db_url: str, project_id: uuid.UUID, clock: Any
) -> None:
    days = {back: TODAY - dt.timedelta(days=back) for back in (100, 91, 90, 89)}
    with psycopg.connect(db_url, autocommit=True) as conn:
        for day in days.values():
            create_partition(conn, day)
        clock(days[100])
        old = ingest_events(conn, project_id, [{"message": "ancient"}] * 3)
        clock(days[89])
        recent = ingest_events(conn, project_id, [{"message": "ancient"}] * 2)
        report = maintain(conn, retention_days=90)
        assert report.dropped == [f"events_{days[100]:%Y%m%d}", f"events_{days[91]:%Y%m%d}"]
        assert f"events_{days[90]:%Y%m%d}" in _partitions(conn)
        assert f"events_{days[100]:%Y%m%d}" not in _partitions(conn)
        issue = q.get_issue(conn, old[0].issue_id)
        assert issue.event_count == 5  # counts are history, not a live count
        assert _where(conn) == {f"events_{days[89]:%Y%m%d}": 2}
        assert recent[0].issue_id == issue.id
        assert maintain(conn, retention_days=90).dropped == []


def test_creates_partitions_ahead(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        report = maintain(conn, days_ahead=10)
    assert report.created == [f"events_{TODAY + dt.timedelta(days=n):%Y%m%d}" for n in range(7, 10)]


def test_refuses_to_run_inside_a_transaction(conn: Conn) -> None:
    conn.execute("SELECT 1")
    with pytest.raises(InvalidInput, match="outside a transaction"):
        maintain(conn)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days_ahead": -1}, "days_ahead must be between"),
        ({"retention_days": 0}, "retention_days must be between 1"),
        ({"retention_days": "90"}, "retention_days must be an integer"),
    ],
)
def test_bad_arguments(db_url: str, kwargs: dict[str, Any], message: str) -> None:
    with (
        psycopg.connect(db_url, autocommit=True) as conn,
        pytest.raises(InvalidInput, match=message),
    ):
        maintain(conn, **kwargs)


def test_concurrent_runs_are_serialized(db_url: str, project_id: uuid.UUID, clock: Any) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        clock(TODAY + dt.timedelta(days=20))
        ingest_events(conn, project_id, [{"message": "x"}] * 10)

    def run(_: int) -> int:
        with psycopg.connect(db_url, autocommit=True) as conn:
            return sum(maintain(conn, days_ahead=12).moved.values())

    moved = run_concurrently(3, run)
    assert sorted(moved) == [0, 0, 10]
    with psycopg.connect(db_url) as conn:
        assert sum(_where(conn).values()) == 10


def test_cli_maintain(db_url: str) -> None:
    days = ["--days", "9", "--rollup-retention-days", "30"]
    run = subprocess.run(
        [sys.executable, "-m", "mesher.migrate", "--maintain", *days],
        env={"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("create partitions ahead: created 2 (events_")
    assert len(run.stdout.splitlines()) == 10  # one line per step
    assert "applied" not in run.stdout
    both = subprocess.run(
        [sys.executable, "-m", "mesher.migrate", "--maintain", "--status"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert both.returncode == 2
    bad = subprocess.run(
        [sys.executable, "-m", "mesher.migrate", "--maintain", "--rollup-retention-days", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "--rollup-retention-days must be between" in bad.stderr


# --- locks busy: skipped, never raised (issue 8) ----------------------------------------


def _ahead(days: range) -> list[str]:
    return [f"events_{TODAY + dt.timedelta(days=n):%Y%m%d}" for n in days]


BUSY = "skipped, locks busy (the next run retries)"


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lock timeouts short enough for a test: a busy step gives up in about 0.5 s."""
    monkeypatch.setattr(maintenance, "LOCK_TIMEOUT_MS", 150)
    monkeypatch.setattr(maintenance, "ATTEMPTS", 2)


def test_a_clean_run_has_nothing_to_do(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        report = maintain(conn)
    assert report == maintenance.MaintenanceReport()  # nothing done, nothing skipped
    assert report.lines() == [
        "create partitions ahead: nothing to do",
        "move rows out of events_default: nothing to do",
        "drop expired partitions: nothing to do",
        "delete expired hourly rollups: nothing to do",
        "forget expired idempotency keys: nothing to do",
        "forget expired Sentry event ids: nothing to do",
        "delete expired sessions: nothing to do",
        "delete expired outcomes: nothing to do",
        "finish cut-short unmerges: nothing to do",
        "delete deleted and expired rows: nothing to do",
    ]


def test_reader_of_events_default_makes_creation_skip_not_fail(
    db_url: str, project_id: uuid.UUID, quick_timeouts: None
) -> None:
    """The issue's reproduction: a dashboard transaction has read events_default
    when maintenance wants partitions ahead (attaching one needs an exclusive
    lock on events_default). maintain used to raise DatabaseError after 1 s.
    Dropping a partition needs that lock too (PostgreSQL locks the default
    partition whenever a sibling goes), so that step is skipped as well."""
    expired = TODAY - dt.timedelta(days=120)
    with psycopg.connect(db_url, autocommit=True) as conn:
        create_partition(conn, expired)
        # Work for the steps that do not touch events_default.
        ingest_events(conn, project_id, [{"message": "x"}], idempotency_key="old")
        _age_keys(conn, {"old": "30 days"})
        user = q.create_user(conn, "ada@example.com", "pw", "Ada")
        q.create_session(conn, user)
        conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    with psycopg.connect(db_url) as reader:
        reader.execute("SELECT count(*) FROM events_default")  # the transaction stays open
        with psycopg.connect(db_url, autocommit=True) as conn:
            started = time.monotonic()
            report = maintain(conn, days_ahead=12)
            took = time.monotonic() - started
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            assert _partitions(conn).isdisjoint(_ahead(range(7, 12)))
            assert f"events_{expired:%Y%m%d}" in _partitions(conn)
        assert reader.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert report.skipped == ["create partitions ahead", "drop expired partitions"]
    assert (report.created, report.moved, report.dropped) == ([], {}, [])
    # The other steps still ran.
    assert (report.forgotten_keys, report.deleted_sessions) == (1, 1)
    assert report.lines() == [
        f"create partitions ahead: {BUSY}",
        "move rows out of events_default: nothing to do",
        f"drop expired partitions: {BUSY}",
        "delete expired hourly rollups: nothing to do",
        "forget expired idempotency keys: forgot 1",
        "forget expired Sentry event ids: nothing to do",
        "delete expired sessions: deleted 1",
        "delete expired outcomes: nothing to do",
        "finish cut-short unmerges: nothing to do",
        "delete deleted and expired rows: nothing to do",
    ]
    assert took < 10  # two attempts of 150 ms and a back-off per step, not a hang
    with psycopg.connect(db_url, autocommit=True) as conn:
        again = maintain(conn, days_ahead=12)  # the reader has gone: the next run does it
        assert set(_ahead(range(12))) <= _partitions(conn)
        assert f"events_{expired:%Y%m%d}" not in _partitions(conn)
    assert (again.created, again.skipped) == (_ahead(range(7, 12)), [])
    assert again.dropped == [f"events_{expired:%Y%m%d}"]
    assert again.lines()[0] == f"create partitions ahead: created 5 ({', '.join(again.created)})"
    assert again.lines()[2] == f"drop expired partitions: dropped 1 (events_{expired:%Y%m%d})"


def test_reader_of_events_default_makes_moving_skip_too(
    db_url: str, project_id: uuid.UUID, clock: Any, quick_timeouts: None
) -> None:
    far = TODAY + dt.timedelta(days=30)
    with psycopg.connect(db_url, autocommit=True) as conn:
        clock(far)
        stored = ingest_events(conn, project_id, [{"message": "from the future"}] * 3)
    with psycopg.connect(db_url) as reader:
        reader.execute("SELECT count(*) FROM events_default")
        with psycopg.connect(db_url, autocommit=True) as conn:
            report = maintain(conn, days_ahead=8)
            assert _where(conn) == {"events_default": 3}  # not moved, not lost
    assert report.skipped == [
        "create partitions ahead",
        f"move events of {far} out of events_default",
    ]
    assert (report.created, report.moved) == ([], {})
    assert report.lines()[:2] == [
        f"create partitions ahead: {BUSY}",
        f"move rows out of events_default: {BUSY}",
    ]
    with psycopg.connect(db_url, autocommit=True) as conn:
        again = maintain(conn, days_ahead=8)
        assert _where(conn) == {f"events_{far:%Y%m%d}": 3}
        assert q.get_event(conn, project_id, stored[0].event_id).message == "from the future"
    assert again.skipped == []
    assert again.moved == {f"events_{far:%Y%m%d}": 3}
    assert again.created == _ahead(range(7, 8))


# --- forgetting idempotency keys, deleting expired sessions ------------------------------


def _age_keys(conn: Conn, keys: dict[str, str]) -> None:
    for key, age in keys.items():
        conn.execute(
            "UPDATE ingest_batches SET received_at = now() - %s::interval"
            " WHERE idempotency_key = %s",
            (age, key),
        )


def test_forgets_expired_idempotency_keys(db_url: str, project_id: uuid.UUID) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        kept = ingest_events(conn, project_id, [{"message": "kept"}], idempotency_key="recent")
        for key in ("old-1", "old-2", "almost"):
            ingest_events(conn, project_id, [{"message": key}], idempotency_key=key)
        # The window is IDEMPOTENCY_DAYS = 7: older keys go, younger ones stay.
        _age_keys(
            conn, {"old-1": "8 days", "old-2": "7 days 1 minute", "almost": "6 days 23 hours"}
        )
        report = maintain(conn)
        assert report.forgotten_keys == 2
        assert report.skipped == []
        assert "forget expired idempotency keys: forgot 2" in report.lines()
        left = conn.execute("SELECT idempotency_key FROM ingest_batches ORDER BY 1").fetchall()
        assert left == [("almost",), ("recent",)]
        # A kept key still replays; a forgotten one is free again.
        again = ingest_events(conn, project_id, [{"message": "kept"}], idempotency_key="recent")
        assert again == [r._replace(duplicate=True) for r in kept]
        ingest_events(conn, project_id, [{"message": "other"}], idempotency_key="old-1")
        assert maintain(conn).forgotten_keys == 0


def test_deletes_expired_sessions_keeps_live_ones(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        user = q.create_user(conn, "ada@example.com", "pw", "Ada")
        tokens = [q.create_session(conn, user) for _ in range(4)]
        conn.execute(
            "UPDATE sessions SET expires_at = now() - interval '1 second'"
            " WHERE token_hash = ANY(%s)",
            ([hashlib.sha256(t.encode()).digest() for t in tokens[:2]],),
        )
        report = maintain(conn)
        assert report.deleted_sessions == 2
        assert report.skipped == []
        assert report.lines()[-4] == "delete expired sessions: deleted 2"
        assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (2,)
        for token in tokens[2:]:
            assert q.validate_session(conn, token).user_id == user
        for token in tokens[:2]:
            assert q.delete_session(conn, token) == 0  # gone, not just expired
        again = maintain(conn)
        assert again.deleted_sessions == 0
        assert again.lines()[-4] == "delete expired sessions: nothing to do"


def test_busy_rows_make_forgetting_and_deleting_skip(
    db_url: str, project_id: uuid.UUID, quick_timeouts: None
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        user = q.create_user(conn, "ada@example.com", "pw", "Ada")
        q.create_session(conn, user)
        conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
        ingest_events(conn, project_id, [{"message": "x"}], idempotency_key="old")
        _age_keys(conn, {"old": "30 days"})
    with psycopg.connect(db_url) as holder:
        holder.execute("SELECT * FROM sessions FOR UPDATE")  # row locks: DELETE must wait
        holder.execute("LOCK TABLE ingest_batches IN SHARE MODE")  # blocks any DELETE
        with psycopg.connect(db_url, autocommit=True) as conn:
            report = maintain(conn)
    assert report.skipped == ["forget expired idempotency keys", "delete expired sessions"]
    assert (report.forgotten_keys, report.deleted_sessions) == (0, 0)
    assert report.lines()[-6:] == [
        f"forget expired idempotency keys: {BUSY}",
        "forget expired Sentry event ids: nothing to do",
        f"delete expired sessions: {BUSY}",
        "delete expired outcomes: nothing to do",
        "finish cut-short unmerges: nothing to do",
        "delete deleted and expired rows: nothing to do",
    ]
    with psycopg.connect(db_url, autocommit=True) as conn:
        again = maintain(conn)
        assert (again.forgotten_keys, again.deleted_sessions, again.skipped) == (1, 1, [])
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM ingest_batches)"
        ).fetchone()
        assert counts == (0, 0)


def test_forgets_expired_sentry_event_ids(db_url: str, project_id: uuid.UUID) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        issue = ingest_events(conn, project_id, [{"message": "x"}])[0]
        ages = ["8 days", "7 days 1 minute", "6 days 23 hours", "0 seconds"]
        for age in ages:
            conn.execute(
                "INSERT INTO sentry_event_ids (project_id, client_event_id, event_id, issue_id,"
                " new_issue, regressed, received_at)"
                " VALUES (%s, gen_random_uuid(), %s, %s, false, false, now() - %s::interval)",
                (project_id, issue.event_id, issue.issue_id, age),
            )
        report = maintain(conn)
        assert (report.forgotten_event_ids, report.skipped) == (2, [])
        assert "forget expired Sentry event ids: forgot 2" in report.lines()
        assert conn.execute("SELECT count(*) FROM sentry_event_ids").fetchone() == (2,)
        assert maintain(conn).forgotten_event_ids == 0


def test_report_shows_partial_moves_and_skips_together() -> None:
    report = MaintenanceReport(
        moved={"events_20261120": 5},
        skipped=["move events of 2026-11-21 out of events_default"],
    )
    assert report.lines()[1] == (
        "move rows out of events_default: moved 5 rows into events_20261120;"
        " skipped, locks busy (the next run retries)"
    )
    assert report.lines()[0] == "create partitions ahead: nothing to do"


def test_works_on_a_connection_that_is_not_autocommit(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:  # not autocommit, idle
        report = maintain(conn, days_ahead=9)
        assert len(report.created) == 2
        # Nothing left open: the steps committed, and other sessions see them.
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with psycopg.connect(db_url) as other:
            names = {r[0] for r in other.execute("SELECT relname FROM pg_class")}
        assert set(report.created) <= names
