"""Faults: a server restart mid-batch, killed migrations and maintenance,
maintenance under load, and a soak. Nothing is lost or counted twice."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool, PoolTimeout

from mesher import embedded, maintenance, migrate, partitions
from mesher import queries as q
from mesher._sql import sql_dir
from mesher.errors import DatabaseError
from mesher.ingest import ingest_events
from mesher.maintenance import maintain

from .conftest import Server, as_app
from .helpers import run_concurrently

Conn = psycopg.Connection[Any]


def _catalog(url: str) -> list[tuple[Any, ...]]:
    """The schema as the catalogs see it: enough to tell two databases apart."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            """
            SELECT 'column', c.relname || '.' || a.attname,
                   format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
                   || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0
              AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
            UNION ALL
            SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
            UNION ALL
            SELECT 'constraint', conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = 'public'::regnamespace
            UNION ALL
            SELECT 'function', p.oid::regprocedure::text, md5(p.prosrc)
            FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
            UNION ALL
            SELECT 'extension', extname, extversion FROM pg_extension
            UNION ALL
            SELECT 'migration', filename, checksum FROM schema_migrations
            ORDER BY 1, 2, 3"""
        ).fetchall()


def _start_and_kill(args: list[str], delay: float) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mesher.migrate", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3, 0.5, 0.8])
def test_killed_migrate_then_rerun_matches_a_clean_run(
    server: Server, empty_db_url: str, delay: float
) -> None:
    _start_and_kill(["--database-url", empty_db_url], delay)
    migrate.migrate(empty_db_url)
    clean = empty_db_url.rsplit("/", 1)[0] + f"/clean_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {clean.rsplit('/', 1)[1]}")
    try:
        migrate.migrate(clean)
        assert _catalog(empty_db_url) == _catalog(clean)
    finally:
        with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {clean.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.mark.parametrize("delay", [0.2, 0.5, 1.0])
def test_killed_maintenance_loses_and_duplicates_nothing(
    db_url: str, project_id: uuid.UUID, delay: float
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        issue = ingest_events(conn, project_id, [{"message": "seed"}])[0].issue_id
        conn.execute(
            "INSERT INTO events (project_id, issue_id, level, message, fingerprint, received_at)"
            " SELECT %s, %s, 'error', 'stranded ' || g, 'fp',"
            " now() + (20 + g %% 3) * interval '1 day' + g * interval '1 ms'"
            " FROM generate_series(1, 60000) AS g",
            (project_id, issue),
        )
        before = conn.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone()
    _start_and_kill(["--maintain", "--database-url", db_url], delay)
    with psycopg.connect(db_url, autocommit=True) as conn:
        maintain(conn)
        after = conn.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone()
        left = conn.execute("SELECT count(*) FROM events_default").fetchone()
    assert before == after == (60001, 60001)
    assert left == (0,)


# --- a server restart while batches are in flight ------------------------------------


@pytest.fixture
def private_server(server: Server) -> Iterator[embedded.Cluster]:
    """A server of the same version that this test alone stops and starts."""
    root = Path(tempfile.mkdtemp(prefix="mesher-restart-"))
    root.chmod(0o755)
    cluster = embedded.Cluster(server.cluster.bin_dir, root / "data", embedded.free_port())
    cluster.init(durable=True)
    cluster.start()
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as admin:
        admin.execute((sql_dir() / "roles.sql").read_bytes())
        admin.execute("CREATE DATABASE mesher")
    migrate.migrate(cluster.url())
    try:
        yield cluster
    finally:
        if cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def _wait_until(condition: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the writers"
        time.sleep(0.05)


def test_server_restart_mid_batch(private_server: embedded.Cluster) -> None:
    url = private_server.url()
    with psycopg.connect(url, autocommit=True) as conn:
        org = q.insert_org(conn, "Acme", "acme")
        project = q.insert_project(conn, org, "Backend", None)
    pool = ConnectionPool(
        as_app(url), min_size=2, max_size=4, kwargs={"autocommit": True},
        check=ConnectionPool.check_connection, timeout=5, open=True,
    )  # fmt: skip
    acked: dict[str, list[Any]] = {}
    failures: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def worker(n: int) -> None:
        rng = random.Random(n)
        i = 0
        while not stop.is_set() or i < 5:
            key = f"w{n}-b{i}"
            batch = [{"message": f"error {rng.randrange(20)} of {chr(97 + rng.randrange(5))}"}] * 50
            deadline = time.monotonic() + 60
            while True:
                try:
                    with pool.connection() as conn:
                        result = ingest_events(conn, project, batch, idempotency_key=key)
                    break
                except (DatabaseError, PoolTimeout) as exc:  # never a raw driver error
                    with lock:
                        failures.append(type(exc).__name__)
                    assert time.monotonic() < deadline, "the server never came back"
                    time.sleep(0.2)
            with lock:
                acked[key] = result
            i += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    try:
        _wait_until(lambda: len(acked) >= 10)
        private_server.stop("fast")  # while batches are in flight
        time.sleep(1)
        private_server.start()
        seen = len(acked)
        _wait_until(lambda: len(acked) >= seen + 10)
    finally:
        stop.set()
    for t in threads:
        t.join()
    pool.close()
    assert failures, "no call was interrupted: the fault was not exercised"
    with psycopg.connect(url) as conn:
        (events,) = conn.execute("SELECT count(*) FROM events").fetchone()  # type: ignore[misc]
        (counted,) = conn.execute("SELECT sum(event_count) FROM issues").fetchone()  # type: ignore[misc]
        stored = {r[0] for r in conn.execute("SELECT id FROM events")}
    assert events == counted == 50 * len(acked)  # no half batch, no double count
    assert stored == {r.event_id for result in acked.values() for r in result}


# --- maintenance and ingestion together -------------------------------------------------


def test_maintenance_under_load(db_url: str, app_url: str, project_id: uuid.UUID) -> None:
    """maintain moves rows and drops partitions while 4 writers hammer; no
    write fails and none waits longer than the lock timeout allows."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for back in range(95, 100):
            partitions.create_partition(
                conn, time.strftime("%Y%m%d", time.gmtime(time.time() - back * 86400))
            )
        issue = ingest_events(conn, project_id, [{"message": "seed"}])[0].issue_id
        conn.execute(
            "INSERT INTO events (project_id, issue_id, level, message, fingerprint, received_at)"
            " SELECT %s, %s, 'error', 'stranded', 'fp', now() + (30 + g %% 4) * interval '1 day'"
            " FROM generate_series(1, 20000) AS g",
            (project_id, issue),
        )
    stop = threading.Event()
    worst: list[float] = []

    def writer(n: int) -> int:
        done = 0
        with psycopg.connect(app_url, autocommit=True) as conn:
            while not stop.is_set():
                started = time.monotonic()
                ingest_events(conn, project_id, [{"message": f"load {n}"}] * 20)
                worst.append(time.monotonic() - started)
                done += 20
        return done

    def maintainer() -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                report = maintain(conn, retention_days=90)
            assert len(report.dropped) == 5 and sum(report.moved.values()) == 20000
            assert report.skipped == []
        finally:
            stop.set()

    results = run_concurrently(5, lambda i: maintainer() if i == 4 else writer(i))
    written = sum(r for r in results if r)
    with psycopg.connect(db_url) as conn:
        (loaded,) = conn.execute(
            "SELECT count(*) FROM events WHERE message LIKE 'load %'"
        ).fetchone()  # type: ignore[misc]
    assert loaded == written > 0
    assert max(worst) < maintenance.LOCK_TIMEOUT_MS / 1000 * maintenance.ATTEMPTS + 5


def test_busy_locks_make_maintenance_skip_not_block(
    db_url: str, app_url: str, project_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "LOCK_TIMEOUT_MS", 300)
    monkeypatch.setattr(maintenance, "ATTEMPTS", 2)
    with psycopg.connect(db_url, autocommit=True) as conn:
        partitions.create_partition(
            conn, time.strftime("%Y%m%d", time.gmtime(time.time() - 120 * 86400))
        )
    with psycopg.connect(db_url) as holder:
        holder.execute("SELECT count(*) FROM events")  # a long reader holds its lock
        report: list[Any] = []
        runner = threading.Thread(
            target=lambda: report.append(maintain(psycopg.connect(db_url, autocommit=True)))
        )
        runner.start()
        time.sleep(0.1)
        started = time.monotonic()
        with psycopg.connect(app_url, autocommit=True) as conn:
            ingest_events(conn, project_id, [{"message": "still flowing"}])
        waited = time.monotonic() - started
        runner.join()
    assert report[0].skipped == ["drop expired partitions"]
    assert waited < 0.3 + 1.0  # at most one lock timeout, plus slack
    assert (
        "drop expired partitions: skipped, locks busy (the next run retries)" in report[0].lines()
    )


# --- soak -------------------------------------------------------------------------------

SOAK_EVENTS = int(os.environ.get("MESHER_SOAK_EVENTS", "4000"))


def test_soak(db_url: str, app_url: str, project_id: uuid.UUID) -> None:
    """8 writers, 1,000 fingerprints with a hot 10 percent on one issue, key
    lookups and session checks alongside, maintenance in the middle.
    MESHER_SOAK_EVENTS=200000 runs the full version."""
    with psycopg.connect(app_url, autocommit=True) as conn:
        key = q.create_api_key(conn, project_id, "soak")
        user = q.create_user(conn, "soak@example.com", "pw", "Soak")
        token = q.create_session(conn, user)
    per_writer, batch = SOAK_EVENTS // 8, 50
    acknowledged = [0] * 8
    halfway = threading.Event()
    writing = [8]  # writers still running
    lock = threading.Lock()

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            with psycopg.connect(app_url, autocommit=True) as conn:
                for start in range(0, per_writer, batch):
                    events = [
                        {"fingerprint": "hot"} if rng.random() < 0.1
                        else {"fingerprint": f"fp-{rng.randrange(1000)}"}
                        for _ in range(min(batch, per_writer - start))
                    ]  # fmt: skip
                    acknowledged[n] += len(ingest_events(conn, project_id, events))
                    if n == 0 and start >= per_writer // 2:
                        halfway.set()
        finally:
            halfway.set()
            with lock:
                writing[0] -= 1

    def reader(_: int) -> int:
        checks = 0
        with psycopg.connect(app_url, autocommit=True) as conn:
            while writing[0] > 0 or checks == 0:
                assert q.get_project_by_api_key(conn, key).id == project_id
                assert q.validate_session(conn, token).user_id == user
                checks += 1
        return checks

    def maintainer(_: int) -> None:
        halfway.wait(timeout=600)
        with psycopg.connect(db_url, autocommit=True) as conn:
            assert maintain(conn).skipped == []

    jobs = [writer] * 8 + [reader, maintainer]
    results = run_concurrently(len(jobs), lambda i: jobs[i](i))
    assert results[8] > 0
    with psycopg.connect(db_url) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM events").fetchone()  # type: ignore[misc]
        mismatched = conn.execute(
            "SELECT count(*) FROM issues i WHERE event_count <>"
            " (SELECT count(*) FROM events e WHERE e.issue_id = i.id)"
        ).fetchone()
    assert rows == sum(acknowledged) == 8 * per_writer
    assert mismatched == (0,)
