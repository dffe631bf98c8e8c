# Generated from mesher/aio/queries/organizations.py by tools/gen_sync.py: edit that file.
"""Organizations (sql/queries/organizations.sql)."""

from __future__ import annotations

from uuid import UUID

from .._args import text_arg, uuid_arg
from .._results import found
from ..errors import translate_errors
from ..models import Organization
from ._common import Conn, q

__all__ = ["get_org", "insert_org", "list_orgs"]


@translate_errors
def insert_org(conn: Conn, name: str, slug: str) -> UUID:
    """Create an organization; ``Conflict`` if the slug is taken."""
    org_id: UUID = q.organizations.insert_org(
        conn, name=text_arg(name, "name"), slug=text_arg(slug, "slug", max_length=100)
    )
    return org_id


@translate_errors
def get_org(conn: Conn, org_id: UUID | str) -> Organization:
    row = q.organizations.get_org(conn, id=uuid_arg(org_id, "org_id"))
    return Organization.model_validate(found(row, f"organization {org_id}"))


@translate_errors
def list_orgs(conn: Conn) -> list[Organization]:
    return [Organization.model_validate(row) for row in q.organizations.list_orgs(conn)]
