"""Least privilege: the application role reads and writes rows, nothing more."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import errors as pg

from mesher import partitions
from mesher import queries as q
from mesher.errors import DatabaseError

Conn = psycopg.Connection[Any]


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (x int)",
        "ALTER TABLE events ADD COLUMN intruder int",
        "DROP TABLE events_default",
        "TRUNCATE issues",
        "CREATE INDEX intruder ON issues (title)",
        "SELECT * FROM schema_migrations",
        "SELECT create_events_partition('2040-01-01')",
        "SELECT drop_expired_events_partitions(1)",
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    ],
)
def test_app_role_cannot_change_the_schema(conn: Conn, statement: str) -> None:
    with pytest.raises(pg.InsufficientPrivilege):
        conn.execute(statement)


def test_app_role_is_really_the_app_role(conn: Conn) -> None:
    assert conn.execute("SELECT current_user").fetchone() == ("mesher_app",)


def test_partition_helpers_need_the_owner(conn: Conn) -> None:
    with pytest.raises(DatabaseError, match="permission denied") as info:
        partitions.create_partition(conn, "20400101")
    assert info.value.sqlstate == "42501"


def test_app_role_uses_the_helpers(conn: Conn) -> None:
    org = q.insert_org(conn, "Acme", "acme")
    assert q.get_org(conn, org).slug == "acme"  # (the whole suite runs as this role)


def test_statement_logging_keeps_parameters_out(conn: Conn) -> None:
    (setting,) = conn.execute("SHOW log_parameter_max_length").fetchone()  # type: ignore[misc]
    assert setting == "0"  # set for the role by sql/roles.sql
