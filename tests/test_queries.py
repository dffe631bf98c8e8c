"""The synchronous query helpers, happy and failure paths, on real PostgreSQL."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import psycopg
import pytest

from mesher import queries as q
from mesher.errors import Conflict, InvalidCredentials, InvalidInput, NotFound
from mesher.models import Organization, OrgMembership, Project, Role, Session, User

Conn = psycopg.Connection[Any]
MISSING = uuid.UUID("00000000-0000-7000-8000-000000000000")


@pytest.fixture
def org_id(conn: Conn) -> uuid.UUID:
    return q.insert_org(conn, "Acme", "acme")


@pytest.fixture
def project_id(conn: Conn, org_id: uuid.UUID) -> uuid.UUID:
    return q.insert_project(conn, org_id, "Backend", "python")


@pytest.fixture
def user_id(conn: Conn) -> uuid.UUID:
    return q.create_user(conn, "Ada@Example.com", "correct horse", "Ada")


def _is_uuidv7(value: uuid.UUID) -> bool:
    return value.version == 7 and value.variant == uuid.RFC_4122


# --- organizations -----------------------------------------------------------


def test_insert_and_get_org(conn: Conn) -> None:
    org_id = q.insert_org(conn, "Acme", "acme")
    assert _is_uuidv7(org_id)
    org = q.get_org(conn, org_id)
    assert isinstance(org, Organization)
    assert (org.id, org.name, org.slug) == (org_id, "Acme", "acme")
    assert org.created_at.tzinfo is not None
    assert q.get_org(conn, str(org_id)) == org  # a UUID string works too


def test_list_orgs_sorted_by_slug(conn: Conn) -> None:
    assert q.list_orgs(conn) == []
    q.insert_org(conn, "Zeta", "zeta")
    q.insert_org(conn, "Alpha", "alpha")
    assert [o.slug for o in q.list_orgs(conn)] == ["alpha", "zeta"]


def test_duplicate_slug_is_conflict(conn: Conn, org_id: uuid.UUID) -> None:
    with pytest.raises(Conflict, match="slug already exists") as info:
        q.insert_org(conn, "Other", "acme")
    assert info.value.constraint == "organizations_slug_key"


def test_get_missing_org_is_not_found(conn: Conn) -> None:
    with pytest.raises(NotFound, match=str(MISSING)):
        q.get_org(conn, MISSING)


@pytest.mark.parametrize("bad", ["not-a-uuid", "", 42, None, b"\x00" * 16])
def test_malformed_id_is_invalid_input(conn: Conn, bad: object) -> None:
    with pytest.raises(InvalidInput, match="org_id must be a UUID"):
        q.get_org(conn, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "slug", "message"),
    [
        ("", "ok", "name must not be empty"),
        ("ok", "   ", "slug must not be empty"),
        (1, "ok", "name must be a string"),
        ("a\x00b", "ok", "name contains a NUL"),
        ("ok", "s" * 101, "slug is longer than 100"),
    ],
)
def test_bad_org_arguments(conn: Conn, name: object, slug: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        q.insert_org(conn, name, slug)  # type: ignore[arg-type]
    assert q.list_orgs(conn) == []


def test_lone_surrogate_is_invalid_input(conn: Conn) -> None:
    with pytest.raises(InvalidInput, match="UTF-8"):
        q.insert_org(conn, "bad \udc80 name", "bad")


# --- projects ----------------------------------------------------------------


def test_insert_get_and_list_projects(conn: Conn, org_id: uuid.UUID) -> None:
    web = q.insert_project(conn, org_id, "Web", None)
    api = q.insert_project(conn, org_id, "API", "go")
    project = q.get_project(conn, api)
    assert isinstance(project, Project)
    assert (project.org_id, project.name, project.platform) == (org_id, "API", "go")
    assert q.get_project(conn, web).platform is None
    assert [p.name for p in q.list_projects_by_org(conn, org_id)] == ["API", "Web"]
    other = q.insert_org(conn, "Other", "other")
    assert q.list_projects_by_org(conn, other) == []


def test_project_for_missing_org_is_not_found(conn: Conn) -> None:
    with pytest.raises(NotFound, match="organization not found"):
        q.insert_project(conn, MISSING, "Orphan", None)


def test_get_missing_project_is_not_found(conn: Conn) -> None:
    with pytest.raises(NotFound, match="project"):
        q.get_project(conn, MISSING)


# --- api keys ----------------------------------------------------------------


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


# --- users -------------------------------------------------------------------


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


# --- sessions ----------------------------------------------------------------


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
    import hashlib

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


# --- memberships -------------------------------------------------------------


def test_memberships(conn: Conn, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    other_org = q.insert_org(conn, "Other", "other")
    first = q.add_member(conn, user_id, org_id, "owner")
    second = q.add_member(conn, user_id, other_org, Role.ADMIN)
    members = q.get_members(conn, org_id)
    assert [(m.id, m.user_id, m.role) for m in members] == [(first, user_id, Role.OWNER)]
    assert all(isinstance(m, OrgMembership) for m in members)
    mine = q.get_user_orgs(conn, user_id)
    assert [(m.id, m.org_id, m.role) for m in mine] == [
        (first, org_id, Role.OWNER),
        (second, other_org, Role.ADMIN),
    ]


def test_default_role_is_member(conn: Conn, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    q.add_member(conn, user_id, org_id)
    assert q.get_members(conn, org_id)[0].role is Role.MEMBER


def test_duplicate_membership_is_conflict(
    conn: Conn, org_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    q.add_member(conn, user_id, org_id, "member")
    with pytest.raises(Conflict, match="already a member"):
        q.add_member(conn, user_id, org_id, "admin")


@pytest.mark.parametrize("role", ["superuser", "Owner", "", None])
def test_bad_role_is_invalid_input(conn: Conn, org_id: uuid.UUID, role: object) -> None:
    with pytest.raises(InvalidInput, match="role must be one of owner, admin, member"):
        q.add_member(conn, MISSING, org_id, role)  # type: ignore[arg-type]


def test_membership_of_missing_user_or_org_is_not_found(conn: Conn, org_id: uuid.UUID) -> None:
    with pytest.raises(NotFound, match="user not found"):
        q.add_member(conn, MISSING, org_id, "member")


# --- transactions ------------------------------------------------------------


def test_helpers_never_commit(db_url: str) -> None:
    with psycopg.connect(db_url) as first:
        q.insert_org(first, "Uncommitted", "uncommitted")
        with psycopg.connect(db_url) as second:
            assert q.list_orgs(second) == []
        first.rollback()
        assert q.list_orgs(first) == []


def test_failed_call_leaves_database_as_it_was(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        q.insert_org(conn, "Acme", "acme")
        conn.commit()
        with pytest.raises(Conflict), conn.transaction():
            q.insert_org(conn, "Acme again", "acme")
        assert [o.name for o in q.list_orgs(conn)] == ["Acme"]


def test_cascade_from_organization(conn: Conn, org_id: uuid.UUID, project_id: uuid.UUID) -> None:
    q.create_api_key(conn, project_id, "k")
    conn.execute("DELETE FROM organizations WHERE id = %s", (org_id,))
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM api_keys)"
    ).fetchone()
    assert counts == (0, 0)
