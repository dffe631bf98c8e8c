# Generated from mesher/aio/queries/projects.py by tools/gen_sync.py: edit that file.
"""Projects (sql/queries/projects.sql)."""

from __future__ import annotations

from uuid import UUID

from .._args import count_arg, optional_text_arg, text_arg, uuid_arg
from .._results import found
from ..errors import translate_errors
from ..limits import MAX_RETENTION_DAYS
from ..models import Project
from ._common import Conn, q

__all__ = ["get_project", "insert_project", "list_projects_by_org", "set_project_retention"]


@translate_errors
def insert_project(conn: Conn, org_id: UUID | str, name: str, platform: str | None = None) -> UUID:
    """Create a project; ``NotFound`` if the organization does not exist."""
    project_id: UUID = q.projects.insert_project(
        conn,
        org_id=uuid_arg(org_id, "org_id"),
        name=text_arg(name, "name"),
        platform=optional_text_arg(platform, "platform", max_length=64),
    )
    return project_id


@translate_errors
def get_project(conn: Conn, project_id: UUID | str) -> Project:
    row = q.projects.get_project(conn, id=uuid_arg(project_id, "project_id"))
    return Project.model_validate(found(row, f"project {project_id}"))


@translate_errors
def list_projects_by_org(conn: Conn, org_id: UUID | str) -> list[Project]:
    rows = q.projects.list_projects_by_org(conn, org_id=uuid_arg(org_id, "org_id"))
    return [Project.model_validate(row) for row in rows]


@translate_errors
def set_project_retention(conn: Conn, project_id: UUID | str, days: int | None) -> None:
    """Keep a project's events ``days`` days (1 to ``MAX_RETENTION_DAYS``);
    ``None``: the global retention. Only a retention shorter than the global
    one has an effect: maintenance (``run_deletions``) deletes the project's
    older events in chunks, and an issue whose last event expired with them.
    The hourly rollups keep their own retention. ``NotFound`` if there is no
    such project."""
    pid = uuid_arg(project_id, "project_id")
    value = None if days is None else count_arg(days, "days", minimum=1, maximum=MAX_RETENTION_DAYS)
    updated = q.projects.set_project_retention(conn, project_id=pid, retention_days=value)
    found(updated, f"project {project_id}")
