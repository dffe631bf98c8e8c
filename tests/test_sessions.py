"""Login sessions (sql/queries/sessions.sql): tokens, expiry, digests."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest

from mesher import queries as q
from mesher.errors import InvalidInput, NotFound
from mesher.models import Session

from .helpers import MISSING, Conn

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

pytest_plugins = ["tests.entities"]


def test_session_lifecycle(conn: Conn, user_id: uuid.UUID) -> None:
    token = q.create_session(conn, user_id)
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    session = q.validate_session(conn, token)
    assert isinstance(session, Session)
    assert session.user_id == user_id
    lifetime = session.expires_at - session.created_at
    assert lifetime.total_seconds() == 7 * 24 * 3600
    assert q.delete_session(conn, token) == 1
    assert q.delete_session(conn, token) == 0
    with pytest.raises(NotFound):
        q.validate_session(conn, token)


def test_only_the_token_digest_is_stored(conn: Conn, user_id: uuid.UUID) -> None:
    token = q.create_session(conn, user_id)
    rows = conn.execute("SELECT token_hash FROM sessions").fetchall()
    assert len(rows) == 1
    stored: bytes = rows[0][0]
    assert stored == hashlib.sha256(token.encode()).digest()
    dump = conn.execute("SELECT sessions::text FROM sessions").fetchone()[0]
    assert token not in dump


def test_expired_session_is_not_found(conn: Conn, user_id: uuid.UUID) -> None:
    token = q.create_session(conn, user_id)
    conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    with pytest.raises(NotFound, match="unknown or expired"):
        q.validate_session(conn, token)


def test_session_for_missing_user_is_not_found(conn: Conn) -> None:
    with pytest.raises(NotFound, match="user not found"):
        q.create_session(conn, MISSING)


@pytest.mark.parametrize("bad", ["", "abc", "G" * 64, "0" * 63, None])
def test_malformed_token_is_invalid_input(conn: Conn, bad: object) -> None:
    with pytest.raises(InvalidInput, match="session token"):
        q.validate_session(conn, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="session token"):
        q.delete_session(conn, bad)  # type: ignore[arg-type]
