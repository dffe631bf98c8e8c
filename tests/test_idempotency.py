"""Idempotent retries of the write path."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from mesher import queries as q
from mesher.errors import Conflict, InvalidInput
from mesher.ingest import ingest_event, ingest_events

from .helpers import run_concurrently

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
    assert again == first
    assert _counts(conn) == (3, 3)
    other = ingest_events(conn, project_id, BATCH, idempotency_key="req-2")
    assert {r.event_id for r in other}.isdisjoint(r.event_id for r in first)
    assert _counts(conn) == (6, 6)
    single = ingest_event(conn, project_id, {"message": "x"}, idempotency_key="one")
    assert ingest_event(conn, project_id, {"message": "x"}, idempotency_key="one") == single


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
    assert all(r == results[0] for r in results)
    with psycopg.connect(app_url) as conn:
        assert _counts(conn) == (3, 3)
