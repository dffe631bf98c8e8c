"""mesher.testing, as an application that uses Mesher would enable it."""

from __future__ import annotations

import json

import psycopg
import pytest

from .conftest import Server

DOWNSTREAM = """
import json
from pathlib import Path

import psycopg

SEEN = Path("seen.json")


def _record(**facts):
    seen = json.loads(SEEN.read_text()) if SEEN.exists() else {}
    SEEN.write_text(json.dumps({**seen, **facts}))


def test_first_writes_a_row(mesher_conn, mesher_db_url, mesher_databases):
    applied = mesher_conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
    assert applied > 0
    mesher_conn.execute("INSERT INTO organizations (name, slug) VALUES ('Acme', 'acme')")
    mesher_conn.commit()
    _record(prefix=mesher_databases.prefix, first=mesher_db_url)


def test_second_does_not_see_it(mesher_conn, mesher_db_url):
    assert mesher_conn.execute("SELECT count(*) FROM organizations").fetchone() == (0,)
    assert mesher_conn.execute("SELECT to_regclass('events_default')").fetchone()[0]
    _record(second=mesher_db_url)


def test_an_empty_database_too(mesher_databases):
    with mesher_databases.empty() as url, psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('organizations')").fetchone() == (None,)
"""


def _databases(server: Server, prefix: str) -> list[str]:
    with psycopg.connect(server.url("postgres")) as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)
        ).fetchall()
    return [name for (name,) in rows]


def test_downstream_tests_get_migrated_isolated_databases(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: Server
) -> None:
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS downstream_app")
        admin.execute("CREATE DATABASE downstream_app")
    monkeypatch.setenv("DATABASE_URL", server.url("downstream_app"))
    pytester.makeconftest('pytest_plugins = ["mesher.testing"]\n')
    pytester.makepyfile(test_downstream=DOWNSTREAM)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)
    seen = json.loads((pytester.path / "seen.json").read_text())
    assert seen["prefix"].startswith("mesher_test_")
    assert seen["first"] != seen["second"]
    assert seen["first"].startswith(server.url(seen["prefix"]))
    assert _databases(server, seen["prefix"]) == []  # clones and template dropped
    assert _databases(server, "downstream_app") == ["downstream_app"]  # DATABASE_URL's own
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute("DROP DATABASE downstream_app")
