"""The rescue of events_default while writers run: today's
partition is missing, 3 writers store batches into 2 projects, a fourth
thread resolves and unresolves their issues, and maintain() runs.

Every writer and status change runs with ``lock_timeout`` at 1 s, so a
statement that waits longer than that for a lock fails the test (no
wall-clock timing); a deadlock that reached a caller fails it too; and every
acknowledged event must be stored exactly once."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import psycopg
import pytest

from mesher import maintenance
from mesher import queries as q
from mesher.errors import DatabaseError
from mesher.ingest import ingest_events
from mesher.maintenance import maintain
from mesher.partitions import create_partition, partition_name

from .helpers import on_citus

pytestmark = pytest.mark.citus
pytest_plugins = ["tests.entities"]

Conn = psycopg.Connection[Any]
#: A writer or a status change waits at most this long for any lock.
WAIT_LIMIT = "-c lock_timeout=1000"
BATCH = 50
MESSAGES = 4  # distinct messages, so the writers share 4 issues per project


def _batch(n: int) -> list[dict[str, str]]:
    return [{"message": f"load {i % MESSAGES}", "level": "error"} for i in range(n, n + BATCH)]


def test_rescue_of_events_default_under_load(db_url: str, app_url: str, conn: Conn) -> None:
    org = q.insert_org(conn, "Acme", "acme")
    projects = [q.insert_project(conn, org, name, "python") for name in ("A", "B")]
    conn.commit()
    today = dt.datetime.now(dt.UTC).date()
    expired = today - dt.timedelta(days=120)
    with psycopg.connect(db_url, autocommit=True) as owner:
        owner.execute(f"DROP TABLE {partition_name(today)}, event_tags_{today:%Y%m%d}")
        create_partition(owner, expired)  # work for a later step, which must still run
        citus = on_citus(owner)
    acked = [0, 0, 0]
    issues: list[tuple[uuid.UUID, uuid.UUID]] = []
    with psycopg.connect(app_url, autocommit=True) as seeder:
        for pid in projects:  # the first rows wait in events_default
            done = ingest_events(seeder, pid, _batch(0))
            issues += sorted({(pid, r.issue_id) for r in done})
    seeded = BATCH * len(projects)
    errors: list[BaseException] = []
    stop = threading.Event()
    batches = threading.Semaphore(0)  # one release per stored batch

    def writer(n: int) -> None:
        try:
            with psycopg.connect(app_url, autocommit=True, options=WAIT_LIMIT) as c:
                i = 0
                while not stop.is_set():
                    acked[n] += len(ingest_events(c, projects[i % 2], _batch(n + i)))
                    i += 1
                    batches.release()
        except BaseException as exc:
            errors.append(exc)
            batches.release()

    def resolver() -> None:
        try:
            with psycopg.connect(app_url, autocommit=True, options=WAIT_LIMIT) as c:
                while not stop.is_set():
                    for pid, iid in issues:
                        q.resolve_issue(c, iid, project_id=pid)
                        q.unresolve_issue(c, iid, project_id=pid)
                    stop.wait(0.02)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    threads.append(threading.Thread(target=resolver))
    for thread in threads:
        thread.start()
    try:
        for _ in range(30):  # about 1,500 more events wait in events_default
            assert batches.acquire(timeout=60)
        with psycopg.connect(db_url, autocommit=True) as owner:
            report = maintain(owner)
        for _ in range(15):  # the writers go on after it
            assert batches.acquire(timeout=60)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []  # no deadlock, no lock wait over 1 s, no other failure

    assert report.dropped == [partition_name(expired)]  # the later steps ran
    if citus and maintenance.CREATE_AHEAD in report.skipped:
        # Rows that go straight to the workers' shards may keep the day's
        # partition from being attached: then the step says why.
        assert report.reasons[maintenance.CREATE_AHEAD] == maintenance.ROWS_ARRIVING
        assert f"skipped, {maintenance.ROWS_ARRIVING}" in report.lines()[0]
    else:
        assert partition_name(today) in report.created
        assert report.skipped == []
    with psycopg.connect(db_url, autocommit=True) as owner:
        maintain(owner)  # the writers stopped: whatever is left moves now
        (waiting,) = owner.execute("SELECT count(*) FROM events_default").fetchone()  # type: ignore[misc]
        (stored, distinct) = owner.execute(
            "SELECT count(*), count(DISTINCT id) FROM events WHERE project_id = ANY(%s)",
            (projects,),
        ).fetchone()  # type: ignore[misc]
        (counted,) = owner.execute(
            "SELECT sum(event_count) FROM issues WHERE project_id = ANY(%s)", (projects,)
        ).fetchone()  # type: ignore[misc]
    assert waiting == 0
    assert stored == distinct == counted == seeded + sum(acked)  # nothing lost, nothing twice
    assert sum(acked) >= 45 * BATCH


def test_a_deadlock_inside_a_callers_transaction_reaches_the_caller(
    app_url: str, conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID
) -> None:
    """The layer retries a deadlock only in a transaction of its own: inside
    the caller's, the caller still holds the locks of the cycle. Two
    transactions each resolve an issue, then the other's (of another project:
    each also locks its project's status counts): one of them loses, and it
    sees DatabaseError with sqlstate 40P01."""
    conn.commit()
    first = ingest_events(conn, project_id, [{"message": "a"}])[0].issue_id
    second = ingest_events(conn, other_project_id, [{"message": "b"}])[0].issue_id
    conn.commit()
    where = {first: project_id, second: other_project_id}
    barrier = threading.Barrier(2, timeout=30)
    outcome: list[Any] = []

    def tx(ids: tuple[uuid.UUID, uuid.UUID]) -> None:
        with psycopg.connect(app_url) as c:
            try:
                with c.transaction():
                    q.resolve_issue(c, ids[0], project_id=where[ids[0]])
                    barrier.wait()
                    q.resolve_issue(c, ids[1], project_id=where[ids[1]])
                outcome.append("committed")
            except DatabaseError as exc:
                outcome.append(exc.sqlstate)

    threads = [threading.Thread(target=tx, args=(p,)) for p in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome) == ["40P01", "committed"]


def test_a_deadlock_in_its_own_transaction_is_retried(
    app_url: str, project_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """resolve_issue on an idle connection: a deadlock in its first attempt is
    run again, and the caller sees the issue resolved."""
    from mesher import _retry

    with psycopg.connect(app_url, autocommit=True) as c:
        (done,) = ingest_events(c, project_id, [{"message": "a"}])
        attempts: list[int] = []
        real = q.issues.q.issues.set_issue_status

        def flaky(*args: Any, **kwargs: Any) -> Any:
            attempts.append(1)
            if len(attempts) == 1:
                raise psycopg.errors.DeadlockDetected("deadlock detected")
            return real(*args, **kwargs)

        monkeypatch.setattr(q.issues.q.issues, "set_issue_status", flaky)
        issue = q.resolve_issue(c, done.issue_id, project_id=project_id)
        assert issue.status == "resolved" and len(attempts) == 2
        attempts.clear()

        def always(*args: Any, **kwargs: Any) -> Any:
            attempts.append(1)
            raise psycopg.errors.DeadlockDetected("deadlock detected")

        monkeypatch.setattr(q.issues.q.issues, "set_issue_status", always)
        with pytest.raises(DatabaseError) as caught:
            q.unresolve_issue(c, done.issue_id, project_id=project_id)
        assert caught.value.sqlstate == "40P01"
        assert len(attempts) == _retry.DEADLOCK_ATTEMPTS  # then it gives up
