"""API keys (sql/queries/api_keys.sql): issuing, looking up, revoking,
listing, and finding a project by its Sentry DSN."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from mesher import queries as q
from mesher.errors import InvalidInput, NotFound
from mesher.models import ApiKey, Project

from .helpers import MISSING, Conn

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

pytest_plugins = ["tests.entities"]


def _key_id(conn: Conn, key: str) -> uuid.UUID:
    row = conn.execute("SELECT id FROM api_keys WHERE key_value = %s", (key,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _no_statement_sent(conn: Conn) -> bool:
    return conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_api_key_format_and_lookup(conn: Conn, project_id: uuid.UUID) -> None:
    key = q.create_api_key(conn, project_id, "ci")
    assert re.fullmatch(r"mshr_[0-9a-f]{48}", key)
    assert q.create_api_key(conn, project_id, "second") != key  # several keys per project
    assert q.get_project_by_api_key(conn, key).id == project_id


def test_revoked_key_is_not_found(conn: Conn, project_id: uuid.UUID) -> None:
    key = q.create_api_key(conn, project_id, "ci")
    (key_id,) = conn.execute("SELECT id FROM api_keys WHERE key_value = %s", (key,)).fetchone()
    assert q.revoke_api_key(conn, key_id) == 1
    assert q.revoke_api_key(conn, key_id) == 0  # already revoked: first time kept
    assert q.revoke_api_key(conn, MISSING) == 0
    with pytest.raises(NotFound, match="unknown or revoked") as info:
        q.get_project_by_api_key(conn, key)
    assert key not in str(info.value)


def test_revoke_api_key_scoped_to_a_project(
    conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID
) -> None:
    key = q.create_api_key(conn, project_id, "ci")
    key_id = _key_id(conn, key)
    # another project's key: 0, as for a key that does not exist; still live
    assert q.revoke_api_key(conn, key_id, project_id=other_project_id) == 0
    assert q.revoke_api_key(conn, MISSING, project_id=project_id) == 0
    assert q.get_project_by_api_key(conn, key).id == project_id
    with pytest.raises(InvalidInput, match="project_id must be a UUID"):
        q.revoke_api_key(conn, key_id, project_id="not-a-uuid")
    assert q.get_project_by_api_key(conn, key).id == project_id
    # its own project: what the unscoped call does
    assert q.revoke_api_key(conn, key_id, project_id=str(project_id)) == 1
    assert q.revoke_api_key(conn, key_id, project_id=project_id) == 0  # already revoked
    with pytest.raises(NotFound):
        q.get_project_by_api_key(conn, key)


def test_unknown_key_is_not_found(conn: Conn) -> None:
    with pytest.raises(NotFound):
        q.get_project_by_api_key(conn, "mshr_" + "0" * 48)


@pytest.mark.parametrize("bad", ["", "mshr_short", "MSHR_" + "0" * 48, "x' OR '1'='1", None])
def test_malformed_key_is_invalid_input(conn: Conn, bad: object) -> None:
    with pytest.raises(InvalidInput, match="api key must be") as info:
        q.get_project_by_api_key(conn, bad)  # type: ignore[arg-type]
    if isinstance(bad, str) and bad:
        assert bad not in str(info.value)


def test_api_key_for_missing_project_is_not_found(conn: Conn) -> None:
    with pytest.raises(NotFound, match="project not found"):
        q.create_api_key(conn, MISSING, "x")


# --- list_api_keys -------------------------------------------------------------


def test_list_api_keys_oldest_first_revoked_included(conn: Conn, project_id: uuid.UUID) -> None:
    first = q.create_api_key(conn, project_id, "first")
    second = q.create_api_key(conn, project_id, "second")
    third = q.create_api_key(conn, project_id, "third")
    # Same transaction, same created_at: the (time-ordered) id breaks the tie.
    assert [k.label for k in q.list_api_keys(conn, project_id)] == ["first", "second", "third"]
    # Oldest first by created_at, whatever the ids say. (The new value is a
    # constant: Citus refuses created_at - interval '1 day' in an UPDATE.)
    (created,) = conn.execute(
        "SELECT created_at FROM api_keys WHERE key_value = %s", (third,)
    ).fetchone()
    conn.execute(
        "UPDATE api_keys SET created_at = %s WHERE key_value = %s",
        (created - dt.timedelta(days=1), third),
    )
    assert q.revoke_api_key(conn, _key_id(conn, first)) == 1
    keys = q.list_api_keys(conn, project_id)
    assert [k.label for k in keys] == ["third", "first", "second"]
    assert all(isinstance(k, ApiKey) and k.project_id == project_id for k in keys)
    assert [k.revoked_at is not None for k in keys] == [False, True, False]
    assert keys[1].revoked_at is not None and keys[1].revoked_at >= keys[1].created_at
    assert [k.key_value.get_secret_value() for k in keys] == [third, first, second]
    assert [k.id for k in keys] == [_key_id(conn, k) for k in (third, first, second)]
    assert all(k.created_at.tzinfo is not None for k in keys)


def test_listed_key_values_stay_secret(conn: Conn, project_id: uuid.UUID) -> None:
    key = q.create_api_key(conn, project_id, "ci")
    (listed,) = q.list_api_keys(conn, project_id)
    assert isinstance(listed.key_value, SecretStr)
    assert listed.key_value.get_secret_value() == key
    shown: list[Any] = [listed, listed.key_value, [listed], listed.model_dump()]
    for text in (*map(repr, shown), *map(str, shown), listed.model_dump_json()):
        assert key not in text
        assert key[5:] not in text  # not even without the prefix


def test_list_api_keys_of_a_project_without_keys(conn: Conn, project_id: uuid.UUID) -> None:
    org = q.get_project(conn, project_id).org_id
    bare = q.insert_project(conn, org, "Bare", None)
    q.create_api_key(conn, project_id, "not bare's")
    assert q.list_api_keys(conn, bare) == []
    assert q.list_api_keys(conn, MISSING) == []  # a list helper: unknown is empty, not NotFound
    assert len(q.list_api_keys(conn, str(project_id))) == 1  # a UUID string works too


@pytest.mark.parametrize("bad", ["not-a-uuid", "", 42, None, b"\x00" * 16])
def test_list_api_keys_malformed_id(conn: Conn, bad: object) -> None:
    with pytest.raises(InvalidInput, match="project_id must be a UUID"):
        q.list_api_keys(conn, bad)  # type: ignore[arg-type]
    assert _no_statement_sent(conn)


# --- get_project_by_dsn ----------------------------------------------------------


@pytest.fixture
def two_projects(conn: Conn, project_id: uuid.UUID) -> tuple[Project, str, Project, str]:
    """Two projects of one organization, each with a live key."""
    org = q.get_project(conn, project_id).org_id
    other_id = q.insert_project(conn, org, "Other", None)
    key = q.create_api_key(conn, project_id, "live")
    other_key = q.create_api_key(conn, other_id, "live")
    return q.get_project(conn, project_id), key, q.get_project(conn, other_id), other_key


def test_get_project_by_dsn(conn: Conn, two_projects: tuple[Project, str, Project, str]) -> None:
    project, key, other, other_key = two_projects
    assert project.dsn_id != other.dsn_id
    found = q.get_project_by_dsn(conn, project.dsn_id, key)
    assert isinstance(found, Project)
    assert found == project
    assert q.get_project_by_dsn(conn, str(project.dsn_id), key) == project  # from a URL path
    assert q.get_project_by_dsn(conn, other.dsn_id, other_key) == other
    # A project with several live keys: each of them names it.
    extra = q.create_api_key(conn, project.id, "second")
    assert q.get_project_by_dsn(conn, project.dsn_id, extra) == project


def test_dsn_id_as_decimal_string(conn: Conn, project_id: uuid.UUID) -> None:
    conn.execute("UPDATE projects SET dsn_id = 42 WHERE id = %s", (project_id,))
    key = q.create_api_key(conn, project_id, "live")
    assert q.get_project_by_dsn(conn, "42", key).id == project_id
    assert q.get_project_by_dsn(conn, 42, key).dsn_id == 42


def test_dsn_with_a_key_it_does_not_own_is_not_found(
    conn: Conn, two_projects: tuple[Project, str, Project, str]
) -> None:
    project, key, other, other_key = two_projects
    revoked = q.create_api_key(conn, project.id, "old")
    assert q.revoke_api_key(conn, _key_id(conn, revoked)) == 1
    unknown_dsn = max(project.dsn_id, other.dsn_id) + 1000
    for dsn_id, public_key in (
        (project.dsn_id, revoked),  # its own key, but revoked
        (project.dsn_id, other_key),  # a live key of another project
        (other.dsn_id, key),  # and the other way round
        (unknown_dsn, key),  # no such project
        (project.dsn_id, "mshr_" + "0" * 48),  # no such key
    ):
        with pytest.raises(NotFound, match="project for this DSN") as info:
            q.get_project_by_dsn(conn, dsn_id, public_key)
        assert public_key not in str(info.value)
    # The key itself still works where it belongs.
    assert q.get_project_by_dsn(conn, project.dsn_id, key) == project


@pytest.mark.parametrize(
    "bad",
    [
        0,
        -1,
        "abc",
        True,
        False,
        2**63,
        "0",
        "-1",
        "",
        " 42",
        "4.2",
        "٤٢",
        4.0,
        None,
        "0042",
        str(2**63),
        "9" * 20,
    ],
)
def test_malformed_dsn_id_is_invalid_input(
    conn: Conn, two_projects: tuple[Project, str, Project, str], bad: object
) -> None:
    _, key, _, _ = two_projects
    conn.commit()
    with pytest.raises(InvalidInput, match="dsn_id must be a positive integer"):
        q.get_project_by_dsn(conn, bad, key)  # type: ignore[arg-type]
    assert _no_statement_sent(conn)


def test_largest_dsn_id_is_a_lookup(
    conn: Conn, two_projects: tuple[Project, str, Project, str]
) -> None:
    _, key, _, _ = two_projects
    with pytest.raises(NotFound):
        q.get_project_by_dsn(conn, 2**63 - 1, key)  # bigint's largest: valid, no such project
    with pytest.raises(NotFound):
        q.get_project_by_dsn(conn, str(2**63 - 1), key)  # the same from a URL path


@pytest.mark.parametrize("bad", ["", "mshr_short", "MSHR_" + "0" * 48, None, 42])
def test_dsn_with_a_key_not_of_ours_is_not_found(
    conn: Conn, two_projects: tuple[Project, str, Project, str], bad: object
) -> None:
    # Any other SDK key (a legacy 32-hex Sentry key, ...) is just unknown here.
    project, _, _, _ = two_projects
    conn.commit()
    with pytest.raises(NotFound, match="project for this DSN"):
        q.get_project_by_dsn(conn, project.dsn_id, bad)  # type: ignore[arg-type]
    assert _no_statement_sent(conn)
