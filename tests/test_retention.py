"""A project's own retention: maintenance deletes its older events (and
their event_tags rows) in chunks; other projects and the rollups keep theirs.
The events' ages come from the write path's clock, set per test."""

from __future__ import annotations

import datetime as dt
import types
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from mesher import _uuid7, maintenance
from mesher import queries as q
from mesher.errors import InvalidInput, NotFound
from mesher.ingest import ingest_events
from mesher.maintenance import maintain, run_deletions
from mesher.partitions import create_partition

from .helpers import MISSING

pytestmark = pytest.mark.citus

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Days:
    """The days a test's events are on, from the day it runs."""

    today: dt.date

    @property
    def old(self) -> dt.date:
        return self.today - dt.timedelta(days=10)

    @property
    def recent(self) -> dt.date:
        return self.today - dt.timedelta(days=2)


@pytest.fixture
def days() -> Days:
    """Today (UTC) when the test starts: the fixture and the test share it."""
    return Days(dt.datetime.now(dt.UTC).date())


def _ingest_on(
    conn: Conn, monkeypatch: pytest.MonkeyPatch, day: dt.date, project_id: uuid.UUID, n: int
) -> None:
    noon = dt.datetime.combine(day, dt.time(12), dt.UTC)
    fake = types.SimpleNamespace(time_ns=lambda: int(noon.timestamp() * 1e9))
    monkeypatch.setattr(_uuid7, "time", fake)
    monkeypatch.setattr(_uuid7, "_last_ms", 0)
    payloads = [{"message": f"m{i % 3}", "tags": {"env": "prod"}} for i in range(n)]
    ingest_events(conn, project_id, payloads)
    conn.commit()
    monkeypatch.undo()


def _count(conn: Conn, table: str, project_id: uuid.UUID, before: dt.date) -> int:
    query = {
        "events": "SELECT count(*) FROM events WHERE project_id = %s AND received_at < %s",
        "event_tags": "SELECT count(*) FROM event_tags WHERE project_id = %s AND received_at < %s",
        "hours": "SELECT count(*) FROM project_hourly_counts"
        " WHERE project_id = %s AND hour_start < %s",
    }[table]
    row = conn.execute(query, (project_id, before)).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def projects(
    db_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch, days: Days
) -> tuple[uuid.UUID, ...]:
    with psycopg.connect(db_url, autocommit=True) as owner:
        for day in (days.old, days.recent):
            create_partition(owner, day)
    org = q.insert_org(conn, "Acme", "acme")
    short, default = (q.insert_project(conn, org, name, "python") for name in ("Short", "Default"))
    conn.commit()
    for pid in (short, default):
        for day in (days.old, days.recent, days.today):
            _ingest_on(conn, monkeypatch, day, pid, 12)
    return short, default


def test_set_project_retention(conn: Conn, projects: tuple[uuid.UUID, ...]) -> None:
    short, _ = projects
    assert q.get_project(conn, short).retention_days is None
    q.set_project_retention(conn, short, 5)
    assert q.get_project(conn, short).retention_days == 5
    q.set_project_retention(conn, short, None)
    assert q.get_project(conn, short).retention_days is None
    for bad in (0, -1, True, "5", 5.0, 100_001):
        with pytest.raises(InvalidInput):
            q.set_project_retention(conn, short, bad)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        q.set_project_retention(conn, MISSING, 5)


def test_maintenance_deletes_a_projects_older_events_in_chunks(
    db_url: str,
    conn: Conn,
    projects: tuple[uuid.UUID, ...],
    monkeypatch: pytest.MonkeyPatch,
    days: Days,
) -> None:
    short, default = projects
    q.set_project_retention(conn, short, 5)
    conn.commit()
    cutoff = days.today - dt.timedelta(days=4)  # between old and recent, whatever the hour
    before = {t: _count(conn, t, short, cutoff) for t in ("events", "event_tags", "hours")}
    assert before["events"] == 12 and before["event_tags"] > 0 and before["hours"] > 0
    kept = _count(conn, "events", default, cutoff)
    monkeypatch.setattr(maintenance, "CHUNK_ROWS", 5)
    with psycopg.connect(db_url, autocommit=True) as owner:
        idle = run_deletions(owner, time_budget_s=0)  # no budget: nothing yet
        assert idle.expired == {} and _count(owner, "events", short, cutoff) == 12
        report = maintain(owner)
    expired = report.deletions.expired
    assert expired == {
        f"events_{days.old:%Y%m%d}": 12,
        f"event_tags_{days.old:%Y%m%d}": before["event_tags"],
    }
    assert (
        "deleted" in report.lines()[-1] and "past their project's retention" in (report.lines()[-1])
    )
    assert _count(conn, "events", short, cutoff) == 0
    assert _count(conn, "event_tags", short, cutoff) == 0
    assert (
        _count(conn, "events", short, days.today + dt.timedelta(days=1)) == 24
    )  # recent ones stay
    assert _count(conn, "hours", short, cutoff) == before["hours"]  # rollups: their own
    assert _count(conn, "events", default, cutoff) == kept  # the global retention
    with psycopg.connect(db_url, autocommit=True) as owner:
        assert run_deletions(owner).expired == {}  # nothing left to do
