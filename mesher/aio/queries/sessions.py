"""Login sessions (sql/queries/sessions.sql)."""

from __future__ import annotations

from uuid import UUID

from ..._args import session_token_arg, uuid_arg
from ..._results import found
from ...errors import translate_errors
from ...models import Session
from ._common import Conn, q

__all__ = ["create_session", "delete_session", "validate_session"]


@translate_errors
async def create_session(conn: Conn, user_id: UUID | str) -> str:
    """Start a 7-day session and return its token; only its digest is stored."""
    token: str = await q.sessions.create_session(conn, user_id=uuid_arg(user_id, "user_id"))
    return token


@translate_errors
async def validate_session(conn: Conn, token: str) -> Session:
    """The session a token opens; ``NotFound`` if unknown or expired."""
    row = await q.sessions.validate_session(conn, token=session_token_arg(token))
    return Session.model_validate(found(row, "session (unknown or expired)"))


@translate_errors
async def delete_session(conn: Conn, token: str) -> int:
    """End a session; returns 1, or 0 if there was none."""
    count: int = await q.sessions.delete_session(conn, token=session_token_arg(token))
    return count
