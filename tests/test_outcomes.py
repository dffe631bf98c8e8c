"""Rate limits and outcomes: the helpers (sql/queries/rate_limits.sql and
outcomes.sql), the in-memory counter, and what the writer counts."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from mesher import queries as q
from mesher.aio.writer import EnvelopeWriter, RateLimited
from mesher.errors import InvalidInput, NotFound
from mesher.models import SkippedItem, SkipReason
from mesher.outcomes import OutcomeCounter, category_of, client_report_outcomes

from .test_writer import envelope

pytestmark = pytest.mark.citus  # both tables are distributed by project_id

Conn = psycopg.Connection[Any]
HOUR = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


def test_rate_limits_are_set_listed_and_lifted(conn: Conn, project_id: uuid.UUID) -> None:
    assert q.list_project_rate_limits(conn) == {}
    q.set_project_rate_limit(conn, project_id, 60)
    assert q.list_project_rate_limits(conn) == {project_id: 60}
    q.set_project_rate_limit(conn, str(project_id), 0)  # refuses every event
    assert q.list_project_rate_limits(conn) == {project_id: 0}
    q.set_project_rate_limit(conn, project_id, None)
    q.set_project_rate_limit(conn, project_id, None)  # lifting twice is fine
    assert q.list_project_rate_limits(conn) == {}


@pytest.mark.parametrize("limit", [-1, 2**31, 1.5, "60", True])
def test_a_bad_rate_limit_is_refused(conn: Conn, project_id: uuid.UUID, limit: Any) -> None:
    with pytest.raises(InvalidInput, match="events_per_minute"):
        q.set_project_rate_limit(conn, project_id, limit)


def test_a_rate_limit_needs_a_project(conn: Conn) -> None:
    with pytest.raises(NotFound, match="project not found"):
        q.set_project_rate_limit(conn, uuid.uuid4(), 10)


def test_outcomes_add_up_per_hour(conn: Conn, project_id: uuid.UUID) -> None:
    later = HOUR + dt.timedelta(hours=1)
    q.record_outcomes(
        conn,
        project_id,
        {
            (HOUR, "error", "accepted", ""): 5,
            (HOUR, "session", "filtered", "item_type"): 2,
            (later, "error", "client_discard", "queue_overflow"): 277,
        },
    )
    q.record_outcomes(conn, project_id, {(HOUR, "error", "accepted", ""): 3})
    q.record_outcomes(conn, project_id, {})  # nothing to add
    rows = q.project_outcomes(conn, project_id, HOUR + dt.timedelta(minutes=59))
    assert [(o.hour_start, o.category, o.outcome, o.reason, o.quantity) for o in rows] == [
        (HOUR, "error", "accepted", "", 8),
        (HOUR, "session", "filtered", "item_type", 2),
        (later, "error", "client_discard", "queue_overflow", 277),
    ]
    assert [o.quantity for o in q.project_outcomes(conn, project_id, later)] == [277]
    assert q.project_outcomes(conn, project_id, later + dt.timedelta(hours=1)) == []


def test_outcomes_are_per_project(conn: Conn, project_id: uuid.UUID) -> None:
    other = q.insert_project(conn, q.get_project(conn, project_id).org_id, "Web", "javascript")
    q.record_outcomes(conn, other, {(HOUR, "error", "accepted", ""): 1})
    assert q.project_outcomes(conn, project_id, HOUR) == []
    assert len(q.project_outcomes(conn, other, HOUR)) == 1


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ((HOUR, "error", "eaten", ""), InvalidInput),  # not an outcome
        ((HOUR, "", "accepted", ""), InvalidInput),  # no category
        ((HOUR, "error", "invalid", "x" * 201), InvalidInput),
        ((HOUR.replace(tzinfo=None), "error", "accepted", ""), InvalidInput),
    ],
)
def test_bad_outcomes_are_refused(
    conn: Conn, project_id: uuid.UUID, key: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        q.record_outcomes(conn, project_id, {key: 1})


def test_outcomes_need_a_project(conn: Conn) -> None:
    with pytest.raises(NotFound, match="project not found"):
        q.record_outcomes(conn, uuid.uuid4(), {(HOUR, "error", "accepted", ""): 1})


def test_the_counter() -> None:
    counter = OutcomeCounter()
    pid = uuid.uuid4()
    counter.add(pid, "error", "accepted", at=HOUR + dt.timedelta(minutes=5))
    counter.add(pid, "error", "accepted", quantity=2, at=HOUR + dt.timedelta(minutes=50))
    counter.add(pid, "error", "accepted", quantity=0, at=HOUR)  # nothing
    counter.add_skipped(
        pid,
        [
            SkippedItem("session", "not stored", SkipReason.ITEM_TYPE),
            SkippedItem("event", "a transaction", SkipReason.TRANSACTION),
            SkippedItem("event", "too big", SkipReason.TOO_LARGE),
            SkippedItem("client_report", "not stored", SkipReason.ITEM_TYPE),  # not data
        ],
    )
    assert counter.quantity(pid, "accepted") == 3
    taken = counter.take()
    assert taken[pid][(HOUR, "error", "accepted", "")] == 3
    assert {k[1:] for k in taken[pid]} == {
        ("error", "accepted", ""),
        ("session", "filtered", "item_type"),
        ("transaction", "filtered", "transaction"),
        ("error", "invalid", "too_large"),
    }
    assert counter.take() == {}
    counter.restore(taken)
    counter.restore(taken)
    assert counter.quantity(pid, "accepted") == 6


def test_client_reports_are_read_leniently() -> None:
    report = {
        "timestamp": 1700000000,
        "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": 277},
            {"reason": "ratelimit_backoff", "category": "transaction", "quantity": 3},
            {"reason": "bad", "category": "error", "quantity": -1},
            {"reason": "bad", "category": "", "quantity": 1},
            {"reason": 7, "category": "error", "quantity": 1},
            "not an entry",
        ],
        "rate_limited_events": [{"reason": "x", "category": "session", "quantity": 1}],
        "filtered_events": "not a list",
    }
    assert list(client_report_outcomes(json.dumps(report).encode())) == [
        ("error", "queue_overflow", 277),
        ("transaction", "ratelimit_backoff", 3),
        ("session", "x", 1),
    ]
    assert list(client_report_outcomes(b"not json")) == []
    assert list(client_report_outcomes(b"[1]")) == []
    assert (category_of("event"), category_of("check_in"), category_of("new_type")) == (
        "error",
        "monitor",
        "new_type",
    )


def test_the_writer_counts_outcomes(app_url: str, conn: Conn, project_id: uuid.UUID) -> None:
    report = json.dumps(
        {"discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 9}]}
    ).encode()
    session = json.dumps({"sid": uuid.uuid4().hex}).encode()
    retried = envelope("twice")
    counter = OutcomeCounter()

    async def main() -> None:
        pool = AsyncConnectionPool(
            app_url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=False
        )
        await pool.open()
        try:
            writer = EnvelopeWriter(pool, max_events=50, max_wait=0.05, outcomes=counter)
            async with writer:
                calls = [
                    writer.ingest_envelope(project_id, envelope("one", None, ("session", session))),
                    writer.ingest_envelope(project_id, retried),
                    writer.ingest_envelope(project_id, retried),  # stored once, counted once
                    writer.ingest_envelope(project_id, b"{}\n" + _item("client_report", report)),
                    writer.ingest_envelope(project_id, b"not an envelope"),
                    writer.ingest_store(project_id, b"[]"),
                ]
                results = await asyncio.gather(*calls, return_exceptions=True)
                assert all(isinstance(r, InvalidInput) for r in results[4:])
                # An admission that refuses: nothing stored, counted as rate_limited.
                with pytest.raises(RateLimited):
                    await writer.ingest_envelope(
                        project_id, envelope("refused"), admit=lambda n: n == 0
                    )
                asked: list[int] = []
                await writer.ingest_envelope(
                    project_id, envelope("admitted"), admit=lambda n: not asked.append(n)
                )
                assert asked == [1]
                with pytest.raises(RateLimited):
                    await writer.ingest_store(
                        project_id, json.dumps({"message": "store"}).encode(), admit=lambda n: False
                    )
        finally:
            await pool.close()

    asyncio.run(main())
    counts = {k[1:]: n for k, n in counter.take()[project_id].items()}
    assert counts == {
        ("error", "accepted", ""): 3,
        ("session", "filtered", "item_type"): 1,
        ("error", "client_discard", "queue_overflow"): 9,
        ("error", "invalid", "payload"): 2,
        ("error", "rate_limited", "project_quota"): 2,
    }
    rows = conn.execute("SELECT message FROM events ORDER BY message").fetchall()
    assert [r[0] for r in rows] == ["admitted", "one", "twice"]


def _item(item_type: str, payload: bytes) -> bytes:
    return (
        json.dumps({"type": item_type, "length": len(payload)}).encode() + b"\n" + payload + b"\n"
    )


def test_a_refresh_cancelled_at_shutdown_keeps_its_counts(
    db_url: str, app_url: str, project_id: uuid.UUID
) -> None:
    """The server's refresher is cancelled at shutdown, maybe in the middle of
    writing the counts it took: they go back to the counter, for the final
    refresh to write."""
    from mesher.server import _State

    counter = OutcomeCounter()
    counter.add(project_id, "error", "accepted", quantity=3)

    async def main() -> None:
        pool = AsyncConnectionPool(
            app_url, min_size=1, max_size=1, kwargs={"autocommit": True}, open=False
        )
        await pool.open()
        try:
            state = _State(pool, EnvelopeWriter(pool), counter, 10.0, 1 << 20, 30.0)
            locker = await psycopg.AsyncConnection.connect(db_url)
            async with locker, locker.transaction():  # the refresh's first read waits
                await locker.execute("LOCK TABLE project_rate_limits IN ACCESS EXCLUSIVE MODE")
                refresh = asyncio.create_task(state.refresh())
                while counter.quantity(project_id, "accepted"):  # until it took them
                    await asyncio.sleep(0.01)
                refresh.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await refresh
        finally:
            await pool.close()

    asyncio.run(main())
    assert counter.quantity(project_id, "accepted") == 3


# --- retention ----------------------------------------------------------------------------


def _hours(conn: Conn, project_id: uuid.UUID) -> list[tuple[dt.datetime, str]]:
    rows = q.project_outcomes(conn, project_id, HOUR - dt.timedelta(days=1000))
    conn.commit()
    return [(o.hour_start, o.category) for o in rows]


def test_expired_outcomes_are_deleted_in_chunks(conn: Conn, project_id: uuid.UUID) -> None:
    """With the clock at HOUR: the hours that ended more than 90 days ago go,
    project by project, in chunks (here of 2 rows); the others stay."""
    other = q.insert_project(conn, q.get_project(conn, project_id).org_id, "Web", "javascript")
    cutoff = HOUR - dt.timedelta(days=90)  # an hour that ends here has expired
    expired = [cutoff - dt.timedelta(hours=h) for h in (1, 2, 30 * 24)]
    kept = [cutoff, HOUR - dt.timedelta(days=1), HOUR]
    categories = ("error", "session")
    for hour in expired + kept:
        q.record_outcomes(conn, project_id, {(hour, c, "accepted", ""): 1 for c in categories})
    q.record_outcomes(conn, other, {(expired[0], "error", "filtered", "item_type"): 4})
    q.record_outcomes(conn, other, {(kept[0], "error", "filtered", "item_type"): 4})
    conn.commit()
    assert q.expire_outcomes(conn, 90, now=HOUR, chunk_rows=2) == 7
    assert _hours(conn, project_id) == [(h, c) for h in kept for c in categories]
    assert _hours(conn, other) == [(kept[0], "error")]
    assert q.expire_outcomes(conn, 90, now=HOUR) == 0  # nothing left to do
    # A day later, the hour at the cutoff has expired too.
    assert q.expire_outcomes(conn, 90, now=HOUR + dt.timedelta(days=1)) == 3
    assert _hours(conn, project_id) == [(h, c) for h in kept[1:] for c in categories]


def test_expire_outcomes_refuses_bad_arguments(conn: Conn) -> None:
    for days in (0, -1, 10**6, 1.5, True):
        with pytest.raises(InvalidInput, match="keep_days"):
            q.expire_outcomes(conn, days)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="now"):
        q.expire_outcomes(conn, 90, now=dt.datetime(2026, 1, 1))  # naive
    with pytest.raises(InvalidInput, match="chunk_rows"):
        q.expire_outcomes(conn, 90, chunk_rows=0)
    conn.execute("SELECT 1")  # a transaction is open: each chunk must commit on its own
    with pytest.raises(InvalidInput, match="outside a transaction"):
        q.expire_outcomes(conn, 90)


def test_maintain_deletes_expired_outcomes(db_url: str, conn: Conn, project_id: uuid.UUID) -> None:
    from mesher.maintenance import maintain

    now = dt.datetime.now(dt.UTC)
    old, recent = now - dt.timedelta(days=40), now - dt.timedelta(days=20)
    q.record_outcomes(conn, project_id, {(old, "error", "accepted", ""): 1})
    q.record_outcomes(conn, project_id, {(recent, "error", "accepted", ""): 1})
    conn.commit()
    with psycopg.connect(db_url, autocommit=True) as own:
        report = maintain(own)  # 90 days by default: both kept
        assert report.deleted_outcomes == 0
        report = maintain(own, outcomes_retention_days=30)
    assert report.deleted_outcomes == 1
    assert "delete expired outcomes: deleted 1 rows" in report.lines()
    assert len(_hours(conn, project_id)) == 1
    with pytest.raises(InvalidInput, match="outcomes_retention_days"):
        maintain(conn, outcomes_retention_days=0)


def test_maintain_skips_expired_outcomes_whose_rows_stay_locked(
    db_url: str, conn: Conn, project_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like every step of maintain, the outcomes' chunks wait at most
    LOCK_TIMEOUT_MS for a lock: a row held by another transaction leaves the
    step to the next run (skipped) and the later steps still run, where it
    waited for the holder (here: until the session's 5 s lock_timeout, and
    maintain failed)."""
    from mesher import maintenance

    monkeypatch.setattr(maintenance, "LOCK_TIMEOUT_MS", 100)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    q.record_outcomes(conn, project_id, {(old, "error", "accepted", ""): 1})
    conn.commit()
    with psycopg.connect(db_url) as holder, psycopg.connect(db_url, autocommit=True) as own:
        holder.execute(
            "SELECT FROM project_outcomes WHERE project_id = %s FOR UPDATE", (project_id,)
        )
        own.execute("SET lock_timeout = '5s'")
        report = maintenance.maintain(own, outcomes_retention_days=30)
        assert report.skipped == [maintenance.DELETE_OUTCOMES]
        assert "delete expired outcomes: skipped, locks busy (the next run retries)" in (
            report.lines()
        )
        holder.rollback()
        assert maintenance.maintain(own, outcomes_retention_days=30).deleted_outcomes == 1
    assert _hours(conn, project_id) == []
    with pytest.raises(InvalidInput, match="lock_timeout_ms"):
        q.expire_outcomes(conn, 90, lock_timeout_ms=0)


def test_migrate_takes_the_outcomes_retention_with_maintain_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mesher.migrate import _parse_args

    args = _parse_args(["--maintain", "--outcomes-retention-days", "30"])
    assert args.outcomes_retention_days == 30
    assert _parse_args(["--maintain"]).outcomes_retention_days == 90
    for argv in (
        ["--outcomes-retention-days", "30"],
        ["--maintain", "--outcomes-retention-days", "0"],
    ):
        with pytest.raises(SystemExit):
            _parse_args(argv)
    assert "--outcomes-retention-days" in capsys.readouterr().err
