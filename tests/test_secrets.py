"""No password, hash, key or token in a model, a repr, a log line or an error."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import psycopg
import pytest

from mesher import queries as q
from mesher.errors import InvalidCredentials, InvalidInput, MesherError, NotFound

Conn = psycopg.Connection[Any]
PASSWORD = "correct-horse-battery-staple"


def test_secrets_stay_out_of_everything(
    conn: Conn, project_id: uuid.UUID, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # psycopg, psycopg.pool, aiosql and ours
    seen: list[str] = []
    user_id = q.create_user(conn, "ada@example.com", PASSWORD, "Ada")
    (stored_hash,) = conn.execute("SELECT password_hash FROM users").fetchone()  # type: ignore[misc]
    key = q.create_api_key(conn, project_id, "ci")
    token = q.create_session(conn, user_id)
    conn.commit()
    seen += [repr(q.authenticate_user(conn, "ada@example.com", PASSWORD))]
    seen += [repr(q.get_user(conn, user_id)), repr(q.validate_session(conn, token))]
    seen += [repr(q.get_project_by_api_key(conn, key))]
    for call in (
        lambda: q.authenticate_user(conn, "ada@example.com", PASSWORD + "x"),
        lambda: q.authenticate_user(conn, "nobody@example.com", PASSWORD),
        lambda: q.create_user(conn, "ada@example.com", PASSWORD, "Ada again"),
        lambda: q.validate_session(conn, token[:-1] + ("1" if token.endswith("0") else "0")),
        lambda: q.validate_session(conn, token + "x"),
        lambda: q.get_project_by_api_key(conn, key + "x"),
        lambda: q.create_user(conn, "long@example.com", PASSWORD * 5, "Long"),
    ):
        with pytest.raises(MesherError) as info:
            call()
        conn.rollback()
        seen += [str(info.value), repr(info.value), repr(info.value.__cause__)]
    seen += [record.getMessage() for record in caplog.records]
    text = "\n".join(seen)
    for secret in (PASSWORD, stored_hash, key, token):
        assert secret not in text


def test_error_kinds(conn: Conn, project_id: uuid.UUID) -> None:
    q.create_user(conn, "ada@example.com", PASSWORD, "Ada")
    with pytest.raises(InvalidCredentials):
        q.authenticate_user(conn, "ada@example.com", "nope")
    with pytest.raises(InvalidInput):
        q.validate_session(conn, "not-a-token")
    with pytest.raises(NotFound):
        q.validate_session(conn, "0" * 64)
