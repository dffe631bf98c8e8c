"""The write path: grouping into issues, counts, regressions, atomicity, concurrency."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest

from mesher import queries as q
from mesher.errors import InvalidInput, NotFound
from mesher.ingest import MAX_BATCH, ingest_event, ingest_events
from mesher.models import EventPayload, IssueStatus, Severity

from .helpers import on_citus, run_concurrently

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

Conn = psycopg.Connection[Any]


def boom(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "message": f"request failed after {n}ms",
        "level": "error",
        "exception": {"type_name": "TimeoutError", "value": f"timeout after {n}ms"},
        "tags": {"env": "prod", "region": "eu"},
        **extra,
    }


def _counts(conn: Conn) -> tuple[int, int]:
    row = conn.execute("SELECT (SELECT count(*) FROM issues), (SELECT count(*) FROM events)")
    return row.fetchone()  # type: ignore[return-value]


def test_new_issue_then_increment(conn: Conn, project_id: uuid.UUID) -> None:
    first = ingest_event(conn, project_id, boom(31))
    assert first.new_issue and not first.regressed
    second = ingest_event(conn, project_id, EventPayload.model_validate(boom(45)))
    assert second.issue_id == first.issue_id  # numbers differ, same issue
    assert not second.new_issue
    issue = q.get_issue(conn, first.issue_id)
    assert issue.event_count == 2
    assert issue.title == "TimeoutError: timeout after 31ms"
    assert issue.first_seen < issue.last_seen
    assert issue.status is IssueStatus.UNRESOLVED
    event = q.get_event(conn, project_id, second.event_id)
    assert event.issue_id == first.issue_id and event.id.version == 7
    assert event.exception is not None and event.exception.value == "timeout after 45ms"
    assert event.tags == {"env": "prod", "region": "eu"}


def test_resolved_issue_regresses_archived_stays(conn: Conn, project_id: uuid.UUID) -> None:
    resolved = ingest_event(conn, project_id, boom())
    q.resolve_issue(conn, resolved.issue_id)
    again = ingest_event(conn, project_id, boom())
    assert again.regressed and not again.new_issue
    assert q.get_issue(conn, resolved.issue_id).status is IssueStatus.UNRESOLVED
    assert not ingest_event(conn, project_id, boom()).regressed  # only once

    archived = ingest_event(conn, project_id, {"message": "disk full"})
    q.archive_issue(conn, archived.issue_id)
    later = ingest_event(conn, project_id, {"message": "disk full"})
    assert not later.regressed
    issue = q.get_issue(conn, archived.issue_id)
    assert (issue.status, issue.event_count) == (IssueStatus.ARCHIVED, 2)


def test_issue_keeps_most_severe_level(conn: Conn, project_id: uuid.UUID) -> None:
    first = ingest_event(conn, project_id, {"message": "m", "level": "warning"})
    ingest_events(conn, project_id, [{"message": "m", "level": "fatal"}, {"message": "m"}])
    ingest_event(conn, project_id, {"message": "m", "level": "debug"})
    assert q.get_issue(conn, first.issue_id).level is Severity.FATAL


def test_batch_groups_per_fingerprint(conn: Conn, project_id: uuid.UUID) -> None:
    existing = ingest_event(conn, project_id, {"message": "old"})
    batch = [boom(i) for i in range(5)] + [{"message": "old"}] * 3 + [{"message": "new one"}]
    results = ingest_events(conn, project_id, batch)
    assert len(results) == 9
    assert len({r.event_id for r in results}) == 9
    by_issue: dict[uuid.UUID, list[Any]] = {}
    for r in results:
        by_issue.setdefault(r.issue_id, []).append(r)
    assert len(by_issue) == 3
    assert [r.issue_id for r in results[5:8]] == [existing.issue_id] * 3
    assert not any(r.new_issue for r in results[5:8])
    assert all(r.new_issue for r in results[:5]) and results[8].new_issue
    assert q.get_issue(conn, existing.issue_id).event_count == 4
    assert q.get_issue(conn, results[0].issue_id).event_count == 5
    assert _counts(conn) == (3, 10)
    (stored,) = conn.execute(
        "SELECT count(*) FROM events WHERE id = ANY(%s)", ([r.event_id for r in results],)
    ).fetchone()
    assert stored == 9


def _create_triggers(owner_conn: Conn, *statements: str) -> None:
    """Create a trigger function and its triggers, then commit. On the Citus
    tier, Citus propagates the function to the workers (not from a string of
    several statements: one statement each), and a trigger on a distributed
    table runs on the worker that holds the shard, which it allows only with
    citus.enable_unsafe_triggers."""
    if on_citus(owner_conn):
        owner_conn.execute("SET citus.enable_unsafe_triggers = on")
    for statement in statements:
        owner_conn.execute(statement)
    owner_conn.commit()


def test_one_upsert_per_fingerprint(conn: Conn, owner_conn: Conn, project_id: uuid.UUID) -> None:
    # Each write of issues is reported as a notice: on the Citus tier, the
    # triggers run on a worker, whose notices Citus forwards to the client (a
    # table to note them in would be a nested distributed write, which it refuses).
    _create_triggers(
        owner_conn,
        """CREATE FUNCTION note_issue_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE NOTICE 'issue write: % %', TG_LEVEL, TG_OP; RETURN NULL; END $$""",
        """CREATE TRIGGER per_statement AFTER INSERT ON issues
        FOR EACH STATEMENT EXECUTE FUNCTION note_issue_write()""",
        """CREATE TRIGGER per_row AFTER INSERT OR UPDATE ON issues
        FOR EACH ROW EXECUTE FUNCTION note_issue_write()""",
    )
    notices: list[str] = []
    conn.add_notice_handler(lambda notice: notices.append(notice.message_primary or ""))
    batch = [boom(i) for i in range(50)] + [{"message": "x"}] * 50
    ingest_events(conn, project_id, batch)
    ingest_events(conn, project_id, batch)
    writes = Counter(
        n.removeprefix("issue write: ") for n in notices if n.startswith("issue write: ")
    )
    # per batch one row per fingerprint, not per event; at most one INSERT
    # statement per batch (the second batch's issues all exist: on Citus an
    # INSERT of no row reaches no shard, and fires no statement trigger)
    assert (writes["ROW INSERT"], writes["ROW UPDATE"]) == (2, 2)
    assert writes["STATEMENT INSERT"] in (1, 2)
    assert set(writes) == {"ROW INSERT", "ROW UPDATE", "STATEMENT INSERT"}
    counts = conn.execute("SELECT event_count FROM issues ORDER BY 1").fetchall()
    assert counts == [(100,), (100,)]


def test_bad_payload_writes_nothing(conn: Conn, project_id: uuid.UUID) -> None:
    batch = [boom(), boom(), {"message": "x", "level": "catastrophic"}, boom()]
    with pytest.raises(InvalidInput, match=r"event 2: level: Input should be"):
        ingest_events(conn, project_id, batch)
    assert _counts(conn) == (0, 0)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([boom(), "not an event"], "event 1: must be a mapping or EventPayload"),
        ([{"message": "nul \x00 byte"}], "event 0: .*NUL"),
        ([{"message": "m", "tags": {"k": 1}}], "event 0: tags.k"),
        ([{"message": "m", "tags": {f"t{i}": "v" for i in range(33)}}], "event 0: tags"),
        ([{"message": "m", "surprise": 1}], "event 0: surprise: Extra inputs"),
        ("a string", "payloads must be a sequence"),
    ],
)
def test_hostile_batches_are_refused(
    conn: Conn, project_id: uuid.UUID, batch: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        ingest_events(conn, project_id, batch)
    assert _counts(conn) == (0, 0)


def test_batch_limit(conn: Conn, project_id: uuid.UUID) -> None:
    with pytest.raises(InvalidInput, match=f"at most {MAX_BATCH}"):
        ingest_events(conn, project_id, [{"message": "m"}] * (MAX_BATCH + 1))
    assert ingest_events(conn, project_id, []) == []
    assert _counts(conn) == (0, 0)


def test_database_failure_mid_batch_rolls_back_issues_too(
    conn: Conn, owner_conn: Conn, project_id: uuid.UUID
) -> None:
    _create_triggers(
        owner_conn,
        """CREATE FUNCTION refuse_third() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.message = 'third' THEN RAISE EXCEPTION 'refused by test'; END IF;
            RETURN NEW;
        END $$""",
        """CREATE TRIGGER refuse_third BEFORE INSERT ON events
        FOR EACH ROW EXECUTE FUNCTION refuse_third()""",
    )
    with pytest.raises(Exception, match="refused by test") as info:
        ingest_events(
            conn, project_id, [{"message": "first"}, {"message": "second"}, {"message": "third"}]
        )
    assert type(info.value).__module__ == "mesher.errors"
    conn.rollback()
    assert _counts(conn) == (0, 0)


def test_unknown_project_is_not_found(conn: Conn) -> None:
    with pytest.raises(NotFound, match="project not found"):
        ingest_event(conn, uuid.UUID(int=0), boom())


def test_caller_transaction_owns_the_commit(app_url: str, project_id: uuid.UUID) -> None:
    with psycopg.connect(app_url) as conn:
        with conn.transaction():
            ingest_events(conn, project_id, [boom(), boom()])
            with psycopg.connect(app_url) as other:
                assert _counts(other) == (0, 0)  # not visible before the caller commits
        with psycopg.connect(app_url) as other:
            assert _counts(other) == (1, 2)
        conn.execute("BEGIN")
        ingest_event(conn, project_id, boom())
        conn.rollback()
        assert _counts(conn) == (1, 2)


def test_exact_counts_under_eight_connections(app_url: str, project_id: uuid.UUID) -> None:
    workers, rounds = 8, 10

    def work(n: int) -> None:
        with psycopg.connect(app_url, autocommit=True) as conn:
            for i in range(rounds):
                if i % 2:
                    ingest_event(conn, project_id, boom(n + i))
                else:
                    batch = [boom(i), {"message": f"worker {chr(97 + n)}"}, boom(n)]
                    ingest_events(conn, project_id, batch)

    run_concurrently(workers, work)
    with psycopg.connect(app_url) as conn:
        hot = conn.execute(
            "SELECT event_count FROM issues WHERE title LIKE 'TimeoutError%'"
        ).fetchall()
        per_worker = conn.execute(
            "SELECT count(*), sum(event_count) FROM issues WHERE title LIKE 'worker %'"
        ).fetchone()
        (events,) = conn.execute("SELECT count(*) FROM events").fetchone()
        # events_issue_fkey makes an event's project its issue's: joining on it too
        # is the same count, and a join Citus can run (on the distribution column)
        mismatched = conn.execute(
            "SELECT count(*) FROM issues i WHERE event_count <> (SELECT count(*) FROM events e"
            " WHERE e.project_id = i.project_id AND e.issue_id = i.id)"
        ).fetchone()
    odd, even = rounds // 2, rounds - rounds // 2
    assert hot == [(workers * (odd + 2 * even),)]
    assert per_worker == (workers, workers * even)
    assert events == workers * (odd + 3 * even)
    assert mismatched == (0,)
