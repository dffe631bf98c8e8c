"""Partition maintenance: nothing lost, nothing duplicated, old days dropped."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import types
import uuid
from typing import Any

import psycopg
import pytest

from mesher import _uuid7
from mesher import queries as q
from mesher.errors import InvalidInput
from mesher.ingest import ingest_events
from mesher.maintenance import maintain
from mesher.partitions import create_partition

from .helpers import run_concurrently

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
    rows = conn.execute(
        "SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return dict(rows)


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
            "partitions: the days ahead already exist",
            f"moved 7 rows out of events_default into events_{far:%Y%m%d}, events_{farther:%Y%m%d}",
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
    run = subprocess.run(
        [sys.executable, "-m", "mesher.migrate", "--maintain", "--days", "9"],
        env={"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("partitions: created 2 (events_")
    assert "applied" not in run.stdout
    both = subprocess.run(
        [sys.executable, "-m", "mesher.migrate", "--maintain", "--status"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert both.returncode == 2
