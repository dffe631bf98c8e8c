"""Idempotent retries of the write path."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from mesher import queries as q
from mesher.errors import Conflict, InvalidInput, NotFound
from mesher.ingest import ingest_event, ingest_events

from .helpers import run_concurrently

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

Conn = psycopg.Connection[Any]
BATCH = [{"message": "disk full"}, {"message": "oom"}, {"message": "disk full"}]


def _counts(conn: Conn) -> tuple[int, int]:
    row = conn.execute(
        "SELECT (SELECT sum(event_count) FROM issues), (SELECT count(*) FROM events)"
    )
    return row.fetchone()  # type: ignore[return-value]


def test_retry_with_the_same_key_writes_nothing(conn: Conn, project_id: uuid.UUID) -> None:
    first = ingest_events(conn, project_id, BATCH, idempotency_key="req-1")
    again = ingest_events(conn, project_id, BATCH, idempotency_key="req-1")
    assert [r._replace(duplicate=False) for r in again] == first
    assert all(r.duplicate for r in again) and not any(r.duplicate for r in first)
    assert _counts(conn) == (3, 3)
    other = ingest_events(conn, project_id, BATCH, idempotency_key="req-2")
    assert {r.event_id for r in other}.isdisjoint(r.event_id for r in first)
    assert _counts(conn) == (6, 6)
    single = ingest_event(conn, project_id, {"message": "x"}, idempotency_key="one")
    retried = ingest_event(conn, project_id, {"message": "x"}, idempotency_key="one")
    assert retried == single._replace(duplicate=True)


def test_key_reused_for_other_events_is_a_conflict(conn: Conn, project_id: uuid.UUID) -> None:
    ingest_events(conn, project_id, BATCH, idempotency_key="req-1")
    with pytest.raises(Conflict, match="idempotency_key was already used"):
        ingest_events(conn, project_id, BATCH[:2], idempotency_key="req-1")
    assert _counts(conn) == (3, 3)


def test_keys_are_per_project(conn: Conn, project_id: uuid.UUID) -> None:
    org = q.get_project(conn, project_id).org_id
    other = q.insert_project(conn, org, "Other", None)
    ingest_events(conn, project_id, BATCH, idempotency_key="k")
    ingest_events(conn, other, BATCH, idempotency_key="k")
    assert _counts(conn) == (6, 6)


@pytest.mark.parametrize("key", ["", "k" * 201, 7, "nul\x00"])
def test_bad_keys(conn: Conn, project_id: uuid.UUID, key: Any) -> None:
    with pytest.raises(InvalidInput, match="idempotency_key"):
        ingest_events(conn, project_id, BATCH, idempotency_key=key)


def test_a_rolled_back_call_leaves_the_key_free(conn: Conn, project_id: uuid.UUID) -> None:
    conn.execute("BEGIN")
    ingest_events(conn, project_id, BATCH, idempotency_key="req-1")
    conn.rollback()
    assert _counts(conn) == (None, 0)
    ingest_events(conn, project_id, BATCH, idempotency_key="req-1")
    assert _counts(conn) == (3, 3)


def test_concurrent_calls_with_one_key_write_once(app_url: str, project_id: uuid.UUID) -> None:
    def call(_: int) -> list[Any]:
        with psycopg.connect(app_url, autocommit=True) as conn:
            return ingest_events(conn, project_id, BATCH, idempotency_key="same")

    results = run_concurrently(4, call)
    firsts = [r for r in results if not r[0].duplicate]
    assert len(firsts) == 1  # one call wrote; the others got its result
    assert all([e._replace(duplicate=False) for e in r] == firsts[0] for r in results)
    with psycopg.connect(app_url) as conn:
        assert _counts(conn) == (3, 3)


def _written(conn: Conn) -> tuple[int, int, int]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM issues), (SELECT count(*) FROM events),"
        " (SELECT count(*) FROM ingest_batches)"
    ).fetchone()
    assert row is not None
    return tuple(row)  # type: ignore[return-value]


@pytest.mark.parametrize("batch", [BATCH, BATCH[:1]], ids=["batch", "single"])
def test_unknown_project_is_the_same_not_found_with_or_without_key(
    conn: Conn, batch: list[dict[str, str]]
) -> None:
    missing = uuid.UUID("00000000-0000-7000-8000-000000000000")
    messages = []
    for key in (None, "req-1"):
        with pytest.raises(NotFound) as info:
            ingest_events(conn, missing, batch, idempotency_key=key)
        conn.rollback()
        messages.append(str(info.value))
    assert messages == ["project not found", "project not found"]
    with pytest.raises(NotFound, match=r"^project not found$"):
        ingest_event(conn, missing, batch[0], idempotency_key="req-2")


def test_key_length_is_the_database_check(conn: Conn, project_id: uuid.UUID) -> None:
    conn.commit()
    with pytest.raises(InvalidInput) as info:
        ingest_events(conn, project_id, BATCH, idempotency_key="k" * 201)
    assert str(info.value) == "idempotency_key must be 1 to 200 characters"
    assert isinstance(info.value.__cause__, psycopg.errors.CheckViolation)  # the DDL's rule
    conn.rollback()
    assert _written(conn) == (0, 0, 0)
    # 200 characters, in characters rather than bytes, are fine.
    for key in ("k" * 200, "é" * 200):
        ingest_events(conn, project_id, BATCH, idempotency_key=key)
    assert _written(conn) == (2, 6, 2)


def test_key_too_long_inside_a_transaction_leaves_it_usable(
    conn: Conn, project_id: uuid.UUID
) -> None:
    conn.execute("SELECT 1")  # the caller's transaction is open
    ingest_events(conn, project_id, BATCH, idempotency_key="first")
    with pytest.raises(InvalidInput, match="idempotency_key"):
        ingest_events(conn, project_id, BATCH, idempotency_key="k" * 201)
    # the write path's savepoint rolled back only the failed call
    assert _written(conn) == (2, 3, 1)
    conn.commit()
    assert _written(conn) == (2, 3, 1)
