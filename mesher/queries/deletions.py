# Generated from mesher/aio/queries/deletions.py by tools/gen_sync.py: edit that file.
"""Deleting issues, projects and organizations (sql/queries/deletions.sql).

A delete returns at once: it marks the row deleted, and from then on the
row is gone from the reads (``get_project``, ``list_projects_by_org``, the
issue and event reads and counts, which check ``projects.deleted_at``) and
its keys and events are refused. Its rows are removed
later, in small transactions, by ``mesher.maintenance.run_deletions`` (which
``maintain`` runs too). Like every query helper, these never commit.
"""

from __future__ import annotations

from uuid import UUID

from .._args import uuid_arg
from .._results import found
from ..errors import translate_errors
from ._common import Conn, q

__all__ = ["delete_issue", "delete_organization", "delete_project"]


def _hide(conn: Conn, project_id: UUID) -> None:
    q.deletions.forget_project_issue_counts(conn, project_id=project_id)


@translate_errors
def delete_project(conn: Conn, project_id: UUID | str) -> None:
    """Delete a project: hidden with its issues and events, its keys and
    events refused, at once; its rows removed by maintenance. Two statements
    of a few rows each, whatever the project's size. ``NotFound`` if there is
    no such project (or it was deleted already)."""
    pid = uuid_arg(project_id, "project_id")
    found(q.deletions.delete_project(conn, project_id=pid), f"project {project_id}")
    _hide(conn, pid)


@translate_errors
def delete_organization(conn: Conn, org_id: UUID | str) -> list[UUID]:
    """Delete an organization and its projects, as ``delete_project`` does;
    returns the ids of the projects deleted with it. ``NotFound`` if there is
    no such organization (or it was deleted already)."""
    oid = uuid_arg(org_id, "org_id")
    found(q.deletions.delete_organization(conn, org_id=oid), f"organization {org_id}")
    projects = [row["id"] for row in q.deletions.mark_org_projects_deleted(conn, org_id=oid)]
    for pid in projects:
        _hide(conn, pid)
    return projects


@translate_errors
def delete_issue(conn: Conn, project_id: UUID | str, issue_id: UUID | str) -> None:
    """Delete one of a project's issues (and the issues merged into it): gone
    from every read and count at once, and its fingerprints' next events open
    a new issue; its events, tag store and rollup rows are removed by
    maintenance. ``NotFound`` if the project has no such issue (another
    project's, a merged one, or one deleted already)."""
    pid = uuid_arg(project_id, "project_id")
    iid = uuid_arg(issue_id, "issue_id")
    gone = q.deletions.delete_issue(conn, project_id=pid, issue_id=iid)
    found(gone, f"issue {issue_id}")
