"""Daily partitions of events: names, UTC bounds, validation, concurrency."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from mesher import partitions
from mesher.errors import InvalidInput

from .helpers import logical_name, run_concurrently

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

Conn = psycopg.Connection[Any]


@pytest.fixture
def conn(owner_conn: Conn) -> Conn:
    """Partition DDL is the schema owner's job (the application role may not)."""
    return owner_conn


def _bounds(conn: Conn, name: str) -> str:
    row = conn.execute(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = %s", (name,)
    ).fetchone()
    assert row is not None, f"{name} does not exist"
    return str(row[0])


def _event_partitions(conn: Conn) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'events'::regclass AND c.relname <> 'events_default' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("day", [dt.date(2031, 3, 9), "20310309"])
def test_partition_covers_one_utc_day(conn: Conn, day: dt.date | str) -> None:
    conn.execute("SET TimeZone = 'America/New_York'")  # bounds must not follow the session
    assert partitions.create_partition(conn, day) is True
    conn.execute("SET TimeZone = 'UTC'")
    assert _bounds(conn, "events_20310309") == (
        "FOR VALUES FROM ('2031-03-09 00:00:00+00') TO ('2031-03-10 00:00:00+00')"
    )


def test_partition_is_idempotent(conn: Conn) -> None:
    assert partitions.create_partition(conn, "20310101") is True
    assert partitions.create_partition(conn, dt.date(2031, 1, 1)) is False
    assert _event_partitions(conn).count("events_20310101") == 1


def test_leap_day_and_year_end(conn: Conn) -> None:
    partitions.create_partition(conn, "20320229")
    partitions.create_partition(conn, "20311231")
    conn.execute("SET TimeZone = 'UTC'")
    assert _bounds(conn, "events_20311231").endswith("TO ('2032-01-01 00:00:00+00')")
    assert _bounds(conn, "events_20320229").endswith("TO ('2032-03-01 00:00:00+00')")


@pytest.mark.parametrize(
    "bad",
    [
        "", "2031-01-01", "20311301", "20310230", "2031010", "203101011", "2031O101",
        "20310101; DROP TABLE events", "٢٠٣١٠١٠١",  # Arabic-Indic digits
        20310101, None, dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
    ],
)  # fmt: skip
def test_bad_day_is_refused_before_sql(conn: Conn, bad: object) -> None:
    before = _event_partitions(conn)
    conn.commit()
    with pytest.raises(InvalidInput, match="day must be a date"):
        partitions.create_partition(conn, bad)  # type: ignore[arg-type]
    # No statement was sent: the connection did not even open a transaction.
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert _event_partitions(conn) == before


def test_partition_name() -> None:
    assert partitions.partition_name(dt.date(2031, 1, 2)) == "events_20310102"
    with pytest.raises(InvalidInput):
        partitions.partition_name("tomorrow")


def test_partitions_ahead_from_today_utc(conn: Conn) -> None:
    today = dt.datetime.now(dt.UTC).date()
    expected = [f"events_{today + dt.timedelta(days=n):%Y%m%d}" for n in range(10)]
    created = partitions.create_partitions_ahead(conn, 10)
    # The template already holds the first 7 days; only the rest are new.
    assert created == expected[7:]
    assert set(expected) <= set(_event_partitions(conn))
    assert partitions.create_partitions_ahead(conn, 10) == []
    assert partitions.create_partitions_ahead(conn, 0) == []


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True, 10_001])
def test_bad_days_ahead(conn: Conn, bad: object) -> None:
    with pytest.raises(InvalidInput, match="days must be"):
        partitions.create_partitions_ahead(conn, bad)  # type: ignore[arg-type]


def test_concurrent_creation_is_safe(db_url: str) -> None:
    def worker(_: int) -> None:
        with psycopg.connect(db_url) as conn:
            partitions.create_partitions_ahead(conn, 30)
            partitions.create_partition(conn, "20400101")
            conn.commit()

    run_concurrently(4, worker)
    with psycopg.connect(db_url) as conn:
        names = _event_partitions(conn)
    assert len(names) == len(set(names)) == 31


def test_events_land_in_their_day(conn: Conn) -> None:
    partitions.create_partition(conn, "20310309")
    org = conn.execute("INSERT INTO organizations (name, slug) VALUES ('o','o') RETURNING id")
    org_id = org.fetchone()[0]
    project = conn.execute(
        "INSERT INTO projects (org_id, name) VALUES (%s, 'p') RETURNING id", (org_id,)
    ).fetchone()[0]
    issue = conn.execute(
        "INSERT INTO issues (project_id, fingerprint, title, level) "
        "VALUES (%s, 'f', 't', 'error') RETURNING id",
        (project,),
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO events (project_id, issue_id, level, message, fingerprint, received_at) "
        "VALUES (%s, %s, 'error', 'm', 'f', '2031-03-09 23:59:59.999999+00'),"
        "       (%s, %s, 'error', 'm', 'f', '2031-03-09 18:59:59-05')",
        (project, issue, project, issue),
    )
    rows = conn.execute("SELECT tableoid::regclass::text FROM events").fetchall()
    # on the Citus tier, the rows are in a shard of the partition
    assert [logical_name(conn, r[0]) for r in rows] == ["events_20310309", "events_20310309"]
