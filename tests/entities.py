"""Entities shared by the per-entity query tests, as a pytest plugin.

A test module enables it with ``pytest_plugins = ["tests.entities"]`` (and
imports what else it shares from tests/helpers.py). The fixtures write
through the helpers on the test's ``conn`` and do not commit.

``org_id`` is an organization of its own (slug ``acme``): do not combine it
with conftest's ``project_id``, which brings its own ``acme`` organization;
use ``q.get_project(conn, project_id).org_id`` for the organization of that
project instead.
"""

from __future__ import annotations

import uuid

import pytest

from mesher import queries as q

from .helpers import Conn


@pytest.fixture
def org_id(conn: Conn) -> uuid.UUID:
    """An organization, Acme (slug ``acme``), not committed."""
    return q.insert_org(conn, "Acme", "acme")


@pytest.fixture
def user_id(conn: Conn) -> uuid.UUID:
    """A user, Ada@Example.com with password ``correct horse``, not committed."""
    return q.create_user(conn, "Ada@Example.com", "correct horse", "Ada")


@pytest.fixture
def other_project_id(conn: Conn, project_id: uuid.UUID) -> uuid.UUID:
    """A second project, Frontend, of ``project_id``'s organization, not
    committed: the tenant whose ids the project-scoped helpers must not reach."""
    return q.insert_project(conn, q.get_project(conn, project_id).org_id, "Frontend", "js")
