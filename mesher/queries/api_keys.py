# Generated from mesher/aio/queries/api_keys.py by tools/gen_sync.py: edit that file.
"""API keys, which SDKs authenticate with (sql/queries/api_keys.sql)."""

from __future__ import annotations

from uuid import UUID

from .._args import api_key_arg, dsn_id_arg, is_api_key, text_arg, uuid_arg
from .._results import found, project_rows
from ..errors import NotFound, translate_errors
from ..models import ApiKey, Project
from ._common import Conn, fetch_one, in_project, q

__all__ = [
    "create_api_key",
    "get_project_by_api_key",
    "get_project_by_dsn",
    "list_api_keys",
    "revoke_api_key",
]


@translate_errors
def create_api_key(conn: Conn, project_id: UUID | str, label: str = "default") -> str:
    """Issue a new ``mshr_`` key for a project and return it."""
    key: str = q.api_keys.create_api_key(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        label=text_arg(label, "label", max_length=256),
    )
    return key


@translate_errors
def get_project_by_api_key(conn: Conn, key: str) -> Project:
    """The project of a live key; ``NotFound`` for an unknown or revoked key."""
    params = {"key_value": api_key_arg(key)}
    row = fetch_one(conn, q.api_keys.get_project_by_api_key, project_rows, params)
    return found(row, "api key (unknown or revoked)")


@translate_errors
def get_project_by_dsn(conn: Conn, dsn_id: int | str, public_key: str) -> Project:
    """The project a Sentry DSN names (``https://<public_key>@<host>/<dsn_id>``):
    ``NotFound`` unless the key is live and belongs to that project."""
    what = "project for this DSN (unknown key or project)"
    if not is_api_key(public_key):  # any other SDK key is just not one of ours
        raise NotFound(f"{what} not found")
    params = {"dsn_id": dsn_id_arg(dsn_id), "key_value": public_key}
    return found(fetch_one(conn, q.api_keys.get_project_by_dsn, project_rows, params), what)


@translate_errors
def list_api_keys(conn: Conn, project_id: UUID | str) -> list[ApiKey]:
    """A project's keys, revoked ones included, oldest first. ``key_value`` is
    a ``SecretStr``: ``.get_secret_value()`` shows it."""
    rows = q.api_keys.list_api_keys(conn, project_id=uuid_arg(project_id, "project_id"))
    return [ApiKey.model_validate(row) for row in rows]


@translate_errors
def revoke_api_key(conn: Conn, key_id: UUID | str, *, project_id: UUID | str | None = None) -> int:
    """Revoke a key by id; returns 1, or 0 if it was missing or already revoked
    (with ``project_id``: or of another project)."""
    kid = uuid_arg(key_id, "key_id")
    revoke = in_project(q.api_keys.revoke_api_key, q.api_keys.revoke_api_key_in_project, project_id)
    count: int = revoke(conn, id=kid)
    return count
