"""Organizations (sql/queries/organizations.sql): happy and failure paths."""

from __future__ import annotations

import uuid

import pytest

from mesher import queries as q
from mesher.errors import Conflict, InvalidInput, NotFound
from mesher.models import Organization

from .helpers import MISSING, Conn, is_uuidv7

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

pytest_plugins = ["tests.entities"]


def test_insert_and_get_org(conn: Conn) -> None:
    org_id = q.insert_org(conn, "Acme", "acme")
    assert is_uuidv7(org_id)
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
