# Generated from mesher/aio/queries/users.py by tools/gen_sync.py: edit that file.
"""Users and their passwords (sql/queries/users.sql)."""

from __future__ import annotations

from uuid import UUID

from .._args import email_arg, password_arg, text_arg, uuid_arg
from .._results import found
from ..errors import InvalidCredentials, translate_errors
from ..models import User
from ._common import Conn, q

__all__ = ["authenticate_user", "create_user", "get_user"]


@translate_errors
def create_user(conn: Conn, email: str, password: str, display_name: str) -> UUID:
    """Create a user (bcrypt cost 12); ``Conflict`` if the email is taken in any case."""
    user_id: UUID = q.users.create_user(
        conn,
        email=email_arg(email),
        password=password_arg(password),
        display_name=text_arg(display_name, "display_name", max_length=256),
    )
    return user_id


@translate_errors
def authenticate_user(conn: Conn, email: str, password: str) -> User:
    """The user with this email and password, else ``InvalidCredentials``.

    An unknown email costs the same bcrypt comparison as a wrong password.
    """
    row = q.users.authenticate_user(conn, email=email_arg(email), password=password_arg(password))
    if row is None:
        raise InvalidCredentials("invalid email or password")
    return User.model_validate(row)


@translate_errors
def get_user(conn: Conn, user_id: UUID | str) -> User:
    row = q.users.get_user(conn, id=uuid_arg(user_id, "user_id"))
    return User.model_validate(found(row, f"user {user_id}"))
