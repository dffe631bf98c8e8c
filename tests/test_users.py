"""Users (sql/queries/users.sql): bcrypt passwords, authentication, emails."""

from __future__ import annotations

import time
import uuid

import pytest

from mesher import queries as q
from mesher.errors import Conflict, InvalidCredentials, InvalidInput, NotFound
from mesher.models import User

from .helpers import MISSING, Conn

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

pytest_plugins = ["tests.entities"]


def test_create_and_authenticate_user(conn: Conn, user_id: uuid.UUID) -> None:
    user = q.authenticate_user(conn, "ada@example.com", "correct horse")
    assert isinstance(user, User)
    assert (user.id, user.email, user.display_name) == (user_id, "Ada@Example.com", "Ada")
    assert "password_hash" not in User.model_fields
    assert q.get_user(conn, user_id) == user


def test_password_stored_as_bcrypt_cost_12(conn: Conn, user_id: uuid.UUID) -> None:
    (stored,) = conn.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,)).fetchone()
    assert stored.startswith("$2a$12$")
    assert "correct horse" not in stored


def test_wrong_password_and_unknown_email_look_the_same(conn: Conn, user_id: uuid.UUID) -> None:
    with pytest.raises(InvalidCredentials) as wrong:
        q.authenticate_user(conn, "ada@example.com", "wrong")
    with pytest.raises(InvalidCredentials) as unknown:
        q.authenticate_user(conn, "nobody@example.com", "wrong")
    assert str(wrong.value) == str(unknown.value) == "invalid email or password"


def test_unknown_email_still_pays_for_bcrypt(conn: Conn, user_id: uuid.UUID) -> None:
    def best_of_three(email: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            with pytest.raises(InvalidCredentials):
                q.authenticate_user(conn, email, "wrong")
            times.append(time.perf_counter() - started)
        return min(times)

    wrong_password = best_of_three("ada@example.com")
    unknown_email = best_of_three("nobody@example.com")
    # A skipped bcrypt would be ~100x faster; a ratio, not a wall-clock bound.
    assert unknown_email > wrong_password / 3


def test_email_is_unique_in_any_case(conn: Conn, user_id: uuid.UUID) -> None:
    with pytest.raises(Conflict, match="email already exists"):
        q.create_user(conn, "ADA@example.COM", "another one", "Imposter")


@pytest.mark.parametrize(
    "email", ["Ada@Example.com", "ada@example.com", "ADA@EXAMPLE.COM", "aDa@eXample.Com"]
)
def test_duplicate_email_names_the_lower_email_constraint(
    conn: Conn, user_id: uuid.UUID, email: str
) -> None:
    # 0009 dropped users_email_key: one rule, on lower(email), for the exact
    # same spelling and for any other case alike.
    conn.commit()
    with pytest.raises(Conflict, match="a user with this email already exists") as info:
        q.create_user(conn, email, "another one", "Imposter")
    assert info.value.constraint == "users_email_lower_key"
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)


def test_only_the_lower_email_constraint_is_left(conn: Conn) -> None:
    rows = conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = 'users'::regclass AND i.indisunique AND NOT i.indisprimary"
    ).fetchall()
    assert rows == [("users_email_lower_key",)]


def test_password_over_72_bytes_is_refused(conn: Conn) -> None:
    q.create_user(conn, "max@example.com", "x" * 72, "Max")
    with pytest.raises(InvalidInput, match="73 bytes"):
        q.create_user(conn, "long@example.com", "x" * 73, "Long")
    # multi-byte characters count in bytes, not characters
    with pytest.raises(InvalidInput, match="74 bytes"):
        q.create_user(conn, "long@example.com", "é" * 37, "Long")
    with pytest.raises(InvalidInput, match="password"):
        q.authenticate_user(conn, "max@example.com", "x" * 73)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("no-at-sign", "pw", "email is not an address"),
        ("a@b", "", "password must not be empty"),
        ("a@b", None, "password must be a string"),
        ("a@b", "nul\x00byte", "password contains a NUL"),
    ],
)
def test_bad_user_arguments(conn: Conn, email: str, password: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        q.create_user(conn, email, password, "Name")  # type: ignore[arg-type]
    if isinstance(password, str) and password:
        assert password not in str(info.value)


def test_get_missing_user_is_not_found(conn: Conn) -> None:
    with pytest.raises(NotFound):
        q.get_user(conn, MISSING)
