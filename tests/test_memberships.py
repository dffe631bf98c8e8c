"""Organization memberships (sql/queries/memberships.sql)."""

from __future__ import annotations

import uuid

import pytest

from mesher import queries as q
from mesher.errors import Conflict, InvalidInput, NotFound
from mesher.models import OrgMembership, Role

from .helpers import MISSING, Conn

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

pytest_plugins = ["tests.entities"]


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
