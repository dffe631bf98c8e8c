# Generated from mesher/aio/queries.py by tools/gen_sync.py: edit that file.
"""Query helpers: one function per named query in ``sql/queries``.

Every helper takes a psycopg connection first and never commits: the
caller owns the transaction (``with conn.transaction(): ...``, or
``conn.commit()``). ``get_*`` returns one model or raises
``NotFound``; ``list_*``/``get_members``/``get_user_orgs`` return lists;
``insert_*``/``create_*``/``add_*`` return what they made. Only
``mesher.errors`` exceptions escape.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import Connection

from ._args import (
    api_key_arg,
    email_arg,
    optional_text_arg,
    password_arg,
    role_arg,
    session_token_arg,
    text_arg,
    uuid_arg,
)
from ._sql import sync_queries
from .errors import InvalidCredentials, NotFound, translate_errors
from .models import Organization, OrgMembership, Project, Role, Session, User

_q = sync_queries()
Conn = Connection[Any]

__all__ = [
    "add_member",
    "authenticate_user",
    "create_api_key",
    "create_session",
    "create_user",
    "delete_session",
    "get_members",
    "get_org",
    "get_project",
    "get_project_by_api_key",
    "get_user",
    "get_user_orgs",
    "insert_org",
    "insert_project",
    "list_orgs",
    "list_projects_by_org",
    "revoke_api_key",
    "validate_session",
]


def _found(row: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if row is None:
        raise NotFound(f"{what} not found")
    return row


# --- organizations -----------------------------------------------------------


@translate_errors
def insert_org(conn: Conn, name: str, slug: str) -> UUID:
    """Create an organization; ``Conflict`` if the slug is taken."""
    org_id: UUID = _q.insert_org(
        conn, name=text_arg(name, "name"), slug=text_arg(slug, "slug", max_length=100)
    )
    return org_id


@translate_errors
def get_org(conn: Conn, org_id: UUID | str) -> Organization:
    row = _q.get_org(conn, id=uuid_arg(org_id, "org_id"))
    return Organization.model_validate(_found(row, f"organization {org_id}"))


@translate_errors
def list_orgs(conn: Conn) -> list[Organization]:
    return [Organization.model_validate(row) for row in _q.list_orgs(conn)]


# --- projects ----------------------------------------------------------------


@translate_errors
def insert_project(conn: Conn, org_id: UUID | str, name: str, platform: str | None = None) -> UUID:
    """Create a project; ``NotFound`` if the organization does not exist."""
    project_id: UUID = _q.insert_project(
        conn,
        org_id=uuid_arg(org_id, "org_id"),
        name=text_arg(name, "name"),
        platform=optional_text_arg(platform, "platform", max_length=64),
    )
    return project_id


@translate_errors
def get_project(conn: Conn, project_id: UUID | str) -> Project:
    row = _q.get_project(conn, id=uuid_arg(project_id, "project_id"))
    return Project.model_validate(_found(row, f"project {project_id}"))


@translate_errors
def list_projects_by_org(conn: Conn, org_id: UUID | str) -> list[Project]:
    rows = _q.list_projects_by_org(conn, org_id=uuid_arg(org_id, "org_id"))
    return [Project.model_validate(row) for row in rows]


# --- api keys ----------------------------------------------------------------


@translate_errors
def create_api_key(conn: Conn, project_id: UUID | str, label: str = "default") -> str:
    """Issue a new ``mshr_`` key for a project and return it."""
    key: str = _q.create_api_key(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        label=text_arg(label, "label", max_length=256),
    )
    return key


@translate_errors
def get_project_by_api_key(conn: Conn, key: str) -> Project:
    """The project of a live key; ``NotFound`` for an unknown or revoked key."""
    row = _q.get_project_by_api_key(conn, key_value=api_key_arg(key))
    return Project.model_validate(_found(row, "api key (unknown or revoked)"))


@translate_errors
def revoke_api_key(conn: Conn, key_id: UUID | str) -> int:
    """Revoke a key by id; returns 1, or 0 if it was missing or already revoked."""
    count: int = _q.revoke_api_key(conn, id=uuid_arg(key_id, "key_id"))
    return count


# --- users -------------------------------------------------------------------


@translate_errors
def create_user(conn: Conn, email: str, password: str, display_name: str) -> UUID:
    """Create a user (bcrypt cost 12); ``Conflict`` if the email is taken in any case."""
    user_id: UUID = _q.create_user(
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
    row = _q.authenticate_user(conn, email=email_arg(email), password=password_arg(password))
    if row is None:
        raise InvalidCredentials("invalid email or password")
    return User.model_validate(row)


@translate_errors
def get_user(conn: Conn, user_id: UUID | str) -> User:
    row = _q.get_user(conn, id=uuid_arg(user_id, "user_id"))
    return User.model_validate(_found(row, f"user {user_id}"))


# --- sessions ----------------------------------------------------------------


@translate_errors
def create_session(conn: Conn, user_id: UUID | str) -> str:
    """Start a 7-day session and return its token; only its digest is stored."""
    token: str = _q.create_session(conn, user_id=uuid_arg(user_id, "user_id"))
    return token


@translate_errors
def validate_session(conn: Conn, token: str) -> Session:
    """The session a token opens; ``NotFound`` if unknown or expired."""
    row = _q.validate_session(conn, token=session_token_arg(token))
    return Session.model_validate(_found(row, "session (unknown or expired)"))


@translate_errors
def delete_session(conn: Conn, token: str) -> int:
    """End a session; returns 1, or 0 if there was none."""
    count: int = _q.delete_session(conn, token=session_token_arg(token))
    return count


# --- memberships -------------------------------------------------------------


@translate_errors
def add_member(
    conn: Conn, user_id: UUID | str, org_id: UUID | str, role: Role | str = Role.MEMBER
) -> UUID:
    """Add a user to an organization; ``Conflict`` if already a member."""
    membership_id: UUID = _q.add_member(
        conn,
        user_id=uuid_arg(user_id, "user_id"),
        org_id=uuid_arg(org_id, "org_id"),
        role=role_arg(role).value,
    )
    return membership_id


@translate_errors
def get_members(conn: Conn, org_id: UUID | str) -> list[OrgMembership]:
    rows = _q.get_members(conn, org_id=uuid_arg(org_id, "org_id"))
    return [OrgMembership.model_validate(row) for row in rows]


@translate_errors
def get_user_orgs(conn: Conn, user_id: UUID | str) -> list[OrgMembership]:
    rows = _q.get_user_orgs(conn, user_id=uuid_arg(user_id, "user_id"))
    return [OrgMembership.model_validate(row) for row in rows]
