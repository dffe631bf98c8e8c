# Generated from mesher/aio/queries/memberships.py by tools/gen_sync.py: edit that file.
"""Organization memberships (sql/queries/memberships.sql)."""

from __future__ import annotations

from uuid import UUID

from .._args import role_arg, uuid_arg
from ..errors import translate_errors
from ..models import OrgMembership, Role
from ._common import Conn, q

__all__ = ["add_member", "get_members", "get_user_orgs"]


@translate_errors
def add_member(
    conn: Conn, user_id: UUID | str, org_id: UUID | str, role: Role | str = Role.MEMBER
) -> UUID:
    """Add a user to an organization; ``Conflict`` if already a member."""
    membership_id: UUID = q.memberships.add_member(
        conn,
        user_id=uuid_arg(user_id, "user_id"),
        org_id=uuid_arg(org_id, "org_id"),
        role=role_arg(role).value,
    )
    return membership_id


@translate_errors
def get_members(conn: Conn, org_id: UUID | str) -> list[OrgMembership]:
    rows = q.memberships.get_members(conn, org_id=uuid_arg(org_id, "org_id"))
    return [OrgMembership.model_validate(row) for row in rows]


@translate_errors
def get_user_orgs(conn: Conn, user_id: UUID | str) -> list[OrgMembership]:
    rows = q.memberships.get_user_orgs(conn, user_id=uuid_arg(user_id, "user_id"))
    return [OrgMembership.model_validate(row) for row in rows]
