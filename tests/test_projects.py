"""Projects (sql/queries/projects.sql): happy and failure paths, DSN ids."""

from __future__ import annotations

import uuid

import pytest
from psycopg import errors as pg

from mesher import queries as q
from mesher.errors import NotFound
from mesher.models import Project

from .helpers import MISSING, Conn

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

pytest_plugins = ["tests.entities"]


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


def test_dsn_ids_are_unique_increasing_integers(conn: Conn, org_id: uuid.UUID) -> None:
    other_org = q.insert_org(conn, "Other", "other")
    made = [q.insert_project(conn, org, f"p{i}", None) for i, org in enumerate([org_id] * 3)]
    made.append(q.insert_project(conn, other_org, "p3", None))  # one sequence for all orgs
    dsn_ids = [q.get_project(conn, p).dsn_id for p in made]
    assert all(type(d) is int and d > 0 for d in dsn_ids)
    assert dsn_ids == sorted(dsn_ids) and len(set(dsn_ids)) == len(dsn_ids)
    # the same number whichever helper reads the project
    listed = {p.id: p.dsn_id for p in q.list_projects_by_org(conn, org_id)}
    assert listed == dict(zip(made[:3], dsn_ids[:3], strict=True))


def test_dsn_id_is_unique_in_the_database(conn: Conn, org_id: uuid.UUID) -> None:
    first = q.get_project(conn, q.insert_project(conn, org_id, "First", None))
    second = q.insert_project(conn, org_id, "Second", None)
    with pytest.raises(pg.UniqueViolation, match="projects_dsn_id_key"), conn.transaction():
        conn.execute("UPDATE projects SET dsn_id = %s WHERE id = %s", (first.dsn_id, second))
    assert q.get_project(conn, second).dsn_id != first.dsn_id
