"""A pytest plugin for applications that use Mesher: a migrated database per test.

Enable it in your top-level ``conftest.py`` (or run ``pytest -p mesher.testing``)::

    pytest_plugins = ["mesher.testing"]

Fixtures:

``mesher_db_url`` (per test)
    The URL of a new database with Mesher's schema, cloned from a template
    database that is migrated once per session (pytest-postgresql's
    ``DatabaseJanitor``, ``CREATE DATABASE ... TEMPLATE``). Dropped after
    the test, so tests never see each other's rows.
``mesher_conn`` (per test)
    A ``psycopg.Connection`` to ``mesher_db_url``, not in autocommit mode:
    commits are the test's business. Closed after the test.
``mesher_databases`` (per session)
    The :class:`MesherDatabases` behind them, for a test that needs more
    databases: ``with mesher_databases.migrated() as url:`` (a migrated
    clone) or ``.empty()`` (never migrated).
``mesher_server_url`` (per session)
    Where the databases are made: ``--mesher-database-url URL``, else the
    ``mesher_database_url`` ini setting, else ``$DATABASE_URL``, else the
    embedded PostgreSQL 18 of ``mesher.embedded`` (started if needed and
    left running, like ``python -m mesher.migrate``). Override this fixture
    to choose the server in code.

The server's role must be allowed to ``CREATE DATABASE``. The database named
in the URL is only connected to, to run ``CREATE``/``DROP DATABASE``; it is
never changed or dropped. The plugin drops only the databases it created,
all named ``mesher_test_<8 random hex>_...`` (one prefix per session, so
parallel sessions on one server do not collide). A session that is killed
leaves its databases behind; drop them by that prefix.

If your application connects as ``mesher_app`` (see ``sql/roles.sql``), run
``sql/roles.sql`` once on the test server first: the migrations grant that
role its rights only where it exists.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql.janitor import DatabaseJanitor

import mesher.migrate

__all__ = ["MesherDatabases", "database_url"]

PREFIX = "mesher_test_"


def database_url(server_url: str, dbname: str) -> str:
    """``server_url`` with another database; a URL stays a URL, a DSN a DSN."""
    parts = urlsplit(server_url)
    if parts.scheme in ("postgresql", "postgres"):
        return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))
    return make_conninfo(server_url, dbname=dbname)


class MesherDatabases:
    """Databases on one server: a template migrated once, then clones of it.

    Every database it makes is named ``<prefix>_...``; :meth:`close` drops
    the template. Nothing else on the server is dropped.
    """

    def __init__(self, server_url: str, *, connection_timeout: int = 10) -> None:
        self.server_url = server_url
        self.prefix = f"{PREFIX}{secrets.token_hex(4)}"
        self.template = f"{self.prefix}_template"
        params = conninfo_to_dict(server_url)
        self._params = {k: params.get(k) for k in ("user", "password", "host", "port")}
        self._maintenance = str(params.get("dbname") or "postgres")
        self._timeout = connection_timeout
        self._counter = itertools.count(1)
        self._template_ready = False

    def url(self, dbname: str) -> str:
        return database_url(self.server_url, dbname)

    def _janitor(self, dbname: str, **kwargs: Any) -> DatabaseJanitor:
        if not dbname.startswith(self.prefix + "_"):  # never someone else's database
            raise ValueError(f"{dbname!r} is not one of this session's databases")
        return DatabaseJanitor(
            **self._params,  # type: ignore[arg-type]  # None means libpq's default
            dbname=dbname,
            maintenance_dbname=self._maintenance,
            connection_timeout=self._timeout,
            **kwargs,
        )

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        janitor = self._janitor(self.template, as_template=True)
        janitor.init()
        try:
            mesher.migrate.migrate(self.url(self.template))
        except BaseException:
            janitor.drop()
            raise
        self._template_ready = True

    @contextmanager
    def _database(self, template: str | None) -> Iterator[str]:
        janitor = self._janitor(f"{self.prefix}_{next(self._counter)}", template_dbname=template)
        janitor.init()
        try:
            yield self.url(janitor.dbname)
        finally:
            janitor.drop()

    @contextmanager
    def migrated(self) -> Iterator[str]:
        """A new database with the current schema, dropped on exit."""
        self._ensure_template()
        with self._database(self.template) as url:
            yield url

    @contextmanager
    def empty(self) -> Iterator[str]:
        """A new database that was never migrated, dropped on exit."""
        with self._database(None) as url:
            yield url

    def close(self) -> None:
        """Drop the template (the clones are dropped as they go)."""
        if self._template_ready:
            self._janitor(self.template, as_template=True).drop()
            self._template_ready = False


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = "PostgreSQL URL where mesher.testing creates its databases (else $DATABASE_URL)"
    parser.addoption("--mesher-database-url", dest="mesher_database_url", help=help_text)
    parser.addini("mesher_database_url", help_text)


@pytest.fixture(scope="session")
def mesher_server_url(pytestconfig: pytest.Config) -> str:
    """The server's URL; see the module docstring for where it comes from."""
    url = (
        pytestconfig.getoption("mesher_database_url")
        or pytestconfig.getini("mesher_database_url")
        or os.environ.get("DATABASE_URL")
    )
    if url:
        return str(url)
    from mesher.embedded import ensure_dev_server

    return ensure_dev_server().url()


@pytest.fixture(scope="session")
def mesher_databases(mesher_server_url: str) -> Iterator[MesherDatabases]:
    databases = MesherDatabases(mesher_server_url)
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def mesher_db_url(mesher_databases: MesherDatabases) -> Iterator[str]:
    """A fresh database with Mesher's schema, dropped after the test."""
    with mesher_databases.migrated() as url:
        yield url


@pytest.fixture
def mesher_conn(mesher_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to ``mesher_db_url``; commits are the test's business."""
    with psycopg.connect(mesher_db_url) as conn:
        yield conn
