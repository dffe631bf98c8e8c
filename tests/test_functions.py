"""sql/functions/: every function, trigger function and view in a file of its
own, applied by migrate when the file changes, and recorded in the history."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg

from mesher._sql import sql_dir
from mesher.errors import MigrationError
from mesher.migrate import (
    FUNCTIONS_PREFIX,
    load_function_files,
    load_migrations,
    migrate,
    split_statements,
    status,
)

from .conftest import Server

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

Conn = psycopg.Connection[Any]
FUNCTIONS = sql_dir() / "functions"
#: The last numbered migration written before sql/functions/ existed: every
#: later one leaves functions and views to sql/functions/.
LAST_WITH_FUNCTIONS = 19
_DEFINES = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE|VIEW)\s+(?:public\.)?\"?(\w+)", re.I
)


def _defined(sql: str) -> set[str]:
    """The functions, procedures and views a text creates, comments left out."""
    names = set()
    for statement in split_statements(sql):
        code = re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.S)
        names |= {m.lower() for m in _DEFINES.findall(code)}
    return names


def _public_functions(conn: Conn) -> list[tuple[str, str]]:
    """(name, signature) of every function in public that is not an
    extension's (pgcrypto's, Citus's)."""
    rows = conn.execute(
        """SELECT p.proname, p.oid::regprocedure::text
        FROM pg_proc AS p
        WHERE p.pronamespace = 'public'::regnamespace
          AND NOT EXISTS (
              SELECT FROM pg_depend AS d
              WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
          )
        ORDER BY 1, 2"""
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _views(conn: Conn) -> list[str]:
    """Every view in public that is not an extension's (Citus has some)."""
    rows = conn.execute(
        """SELECT c.relname
        FROM pg_class AS c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm')
          AND NOT EXISTS (
              SELECT FROM pg_depend AS d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
          )
        ORDER BY 1"""
    ).fetchall()
    return [r[0] for r in rows]


def _history(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT filename, checksum FROM schema_function_applications ORDER BY id"
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


@pytest.fixture
def functions_copy(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "functions"
    shutil.copytree(FUNCTIONS, target)
    yield target


# --- one file per function --------------------------------------------------------


def test_every_function_and_view_is_defined_in_exactly_one_file(db_url: str) -> None:
    files = {path.stem: _defined(path.read_text()) for path in FUNCTIONS.glob("*.sql")}
    with psycopg.connect(db_url) as conn:
        functions = _public_functions(conn)
        objects = [name for name, _ in functions] + _views(conn)
        builtin_uuidv7 = conn.info.server_version >= 180000
    assert objects, "the migrated database has functions"
    for name in objects:
        defining = [stem for stem, names in files.items() if name in names]
        assert defining == [name], f"{name} is defined in {defining}, not in {name}.sql alone"
    # One signature per name: a signature change is a new name (<name>_v2).
    signatures = [signature for _, signature in functions]
    assert len(set(objects)) == len(objects), signatures
    # Each file defines what it is named after, and that exists here (the
    # uuidv7 polyfill only where the server lacks the built-in).
    for stem, names in files.items():
        assert names == {stem}, f"{stem}.sql defines {sorted(names)}"
        if not (stem == "uuidv7" and builtin_uuidv7):
            assert stem in objects, f"{stem}.sql defines nothing this database has"


def test_no_migration_after_0019_creates_a_function_or_view() -> None:
    later = [m for m in load_migrations() if int(m.filename[:4]) > LAST_WITH_FUNCTIONS]
    for migration in later:
        assert _defined(migration.sql) == set(), (
            f"{migration.filename}: functions and views go in sql/functions/<name>.sql"
        )


def test_defined_sees_through_comments_and_finds_each_form() -> None:
    """The scan the two tests above rely on."""
    assert _defined("-- CREATE FUNCTION f() ...\nSELECT 1;") == set()
    assert _defined("CREATE FUNCTION f() RETURNS int RETURN 1;") == {"f"}
    assert _defined("create or replace function public.g(x int) returns int return x;") == {"g"}
    assert _defined("CREATE OR REPLACE VIEW v AS SELECT 1;") == {"v"}
    do_block = "DO $$ BEGIN CREATE OR REPLACE FUNCTION h() RETURNS int RETURN 1; END $$;"
    assert _defined(do_block) == {"h"}
    assert _defined("COMMENT ON FUNCTION f() IS 'about f';\n/* CREATE VIEW w */") == set()


def test_functions_come_before_views_each_alphabetically(db_url: str, functions_copy: Path) -> None:
    (functions_copy / "a_view.sql").write_text(
        "-- A view is parsed when created: b_function must exist by then.\n"
        "CREATE OR REPLACE VIEW a_view AS SELECT b_function() AS b;\n"
    )
    (functions_copy / "b_function.sql").write_text(
        "CREATE OR REPLACE FUNCTION b_function() RETURNS INTEGER\nLANGUAGE sql RETURN 7;\n"
    )
    files = load_function_files(functions_copy)
    kinds = [f.is_view for f in files]
    assert kinds == sorted(kinds)  # every function, then every view
    functions = [f.filename for f in files if not f.is_view]
    views = [f.filename for f in files if f.is_view]
    assert "a_view.sql" in views and "b_function.sql" in functions
    assert (functions, views) == (sorted(functions), sorted(views))
    report = migrate(db_url, functions_dir=functions_copy)
    applied = report.functions_applied
    assert applied.index("functions/b_function.sql") < applied.index("functions/a_view.sql")
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT b FROM a_view").fetchone() == (7,)


# --- applied when changed, once ---------------------------------------------------------


def test_a_fresh_database_applies_every_file_once(empty_db_url: str) -> None:
    report = migrate(empty_db_url)
    files = load_function_files()
    assert report.functions_applied == [FUNCTIONS_PREFIX + f.filename for f in files]
    assert _history(empty_db_url) == [(f.filename, f.checksum) for f in files]
    assert migrate(empty_db_url).functions_applied == []
    assert len(_history(empty_db_url)) == len(files)


def test_a_database_migrated_before_sql_functions_gets_every_file(db_url: str) -> None:
    """The upgrade: a database whose history predates sql/functions/."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP TABLE schema_function_applications")
    names = [FUNCTIONS_PREFIX + f.filename for f in load_function_files()]
    states = {s.filename: s.state for s in status(db_url)}
    assert [states[name] for name in names] == ["pending"] * len(names)
    report = migrate(db_url)
    assert (report.applied, report.functions_applied) == ([], names)
    assert {s.state for s in status(db_url)} == {"applied"}


def test_a_changed_file_is_applied_once(server: Server, db_url: str, functions_copy: Path) -> None:
    before = _history(db_url)
    target = functions_copy / "severity_rank.sql"
    edited = target.read_text().replace("level);", "level) + 100;")
    # A function file may hold more statements: a COMMENT ON, here.
    edited += "\nCOMMENT ON FUNCTION severity_rank(TEXT) IS 'edited; twice';\n"
    assert edited != target.read_text()
    target.write_text(edited)
    states = {s.filename: s.state for s in status(db_url, functions_dir=functions_copy)}
    assert states[FUNCTIONS_PREFIX + "severity_rank.sql"] == "changed"
    assert {s for n, s in states.items() if n != FUNCTIONS_PREFIX + "severity_rank.sql"} == {
        "applied"
    }
    lines: list[str] = []
    report = migrate(db_url, functions_dir=functions_copy, echo=lines.append)
    assert report.functions_applied == [FUNCTIONS_PREFIX + "severity_rank.sql"]
    assert any(line.startswith("applied functions/severity_rank.sql (") for line in lines)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT severity_rank('debug')").fetchone() == (101,)
        comment = conn.execute(
            "SELECT obj_description('severity_rank(text)'::regprocedure, 'pg_proc')"
        ).fetchone()
        assert comment == ("edited; twice",)
    if server.workers:  # Citus: the coordinator's CREATE OR REPLACE reached the workers
        dbname = db_url.rsplit("/", 1)[1]
        for worker in server.workers:
            with psycopg.connect(worker.url(dbname)) as conn:
                assert conn.execute("SELECT severity_rank('debug')").fetchone() == (101,)
    checksum = hashlib.sha256(edited.encode()).hexdigest()
    assert _history(db_url) == [*before, ("severity_rank.sql", checksum)]
    assert {s.state for s in status(db_url, functions_dir=functions_copy)} == {"applied"}
    again = migrate(db_url, functions_dir=functions_copy)
    assert again.functions_applied == []
    assert len(_history(db_url)) == len(before) + 1
    # Back to the original: a change too, applied once more.
    shutil.copy(FUNCTIONS / "severity_rank.sql", target)
    assert migrate(db_url, functions_dir=functions_copy).functions_applied == [
        FUNCTIONS_PREFIX + "severity_rank.sql"
    ]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT severity_rank('debug')").fetchone() == (1,)


def test_a_new_file_may_call_one_that_comes_later(db_url: str, functions_copy: Path) -> None:
    """check_function_bodies is off while the files run: order does not matter
    between functions."""
    (functions_copy / "aa_caller.sql").write_text(
        "CREATE OR REPLACE FUNCTION aa_caller() RETURNS INTEGER\n"
        "LANGUAGE sql AS $$ SELECT zz_callee() + 1 $$;\n"
    )
    (functions_copy / "zz_callee.sql").write_text(
        "CREATE OR REPLACE FUNCTION zz_callee() RETURNS INTEGER\nLANGUAGE sql AS $$ SELECT 41 $$;\n"
    )
    states = {s.filename: s.state for s in status(db_url, functions_dir=functions_copy)}
    assert (states["functions/aa_caller.sql"], states["functions/zz_callee.sql"]) == (
        "pending",
        "pending",
    )
    report = migrate(db_url, functions_dir=functions_copy)
    assert report.functions_applied == ["functions/aa_caller.sql", "functions/zz_callee.sql"]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT aa_caller()").fetchone() == (42,)
        # check_function_bodies was off for the files only.
        assert conn.execute("SHOW check_function_bodies").fetchone() == ("on",)


# --- failures -----------------------------------------------------------------------------


def test_a_broken_file_fails_by_name_and_records_nothing(db_url: str, functions_copy: Path) -> None:
    before = _history(db_url)
    # A good change that comes first in the order, then a broken file.
    good = functions_copy / "lock_fingerprints.sql"
    good.write_text(
        good.read_text() + "\nCOMMENT ON FUNCTION lock_fingerprints(BIGINT[]) IS 'x';\n"
    )
    (functions_copy / "severity_rank.sql").write_text(
        "CREATE OR REPLACE FUNCTION severity_rank(level TEXT) RETURNS INTEGER\n"
        "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE\n"
        "RETURN array_position(ARRAY['debug'], level) +;\n"
    )
    with pytest.raises(
        MigrationError, match=r"^functions/severity_rank\.sql failed: syntax error .*42601"
    ):
        migrate(db_url, functions_dir=functions_copy)
    assert _history(db_url) == before
    with psycopg.connect(db_url) as conn:
        comment = conn.execute(
            "SELECT obj_description('lock_fingerprints(bigint[])'::regprocedure, 'pg_proc')"
        ).fetchone()
        assert comment != ("x",)  # the whole step rolled back
        assert conn.execute("SELECT severity_rank('fatal')").fetchone() == (5,)
    states = {s.filename: s.state for s in status(db_url, functions_dir=functions_copy)}
    assert states["functions/severity_rank.sql"] == "changed"
    assert states["functions/lock_fingerprints.sql"] == "changed"


def test_a_file_that_fails_when_run_fails_by_name(db_url: str, functions_copy: Path) -> None:
    """A return type CREATE OR REPLACE cannot change: the rule is a new name."""
    before = _history(db_url)
    (functions_copy / "severity_rank.sql").write_text(
        "CREATE OR REPLACE FUNCTION severity_rank(level TEXT) RETURNS BIGINT\n"
        "LANGUAGE sql IMMUTABLE RETURN 1;\n"
    )
    with pytest.raises(
        MigrationError,
        match=r"functions/severity_rank\.sql failed: cannot change return type .*42P13",
    ):
        migrate(db_url, functions_dir=functions_copy)
    assert _history(db_url) == before
    assert [s.state for s in status(db_url, functions_dir=functions_copy)].count("changed") == 1


@pytest.mark.parametrize("name", ["Upper.sql", "with-dash.sql", "1st.sql"])
def test_misnamed_function_file_is_refused(
    empty_db_url: str, functions_copy: Path, name: str
) -> None:
    (functions_copy / name).write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match=r"named <function_name>\.sql"):
        migrate(empty_db_url, functions_dir=functions_copy)
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT to_regclass('organizations')").fetchone() == (None,)


# --- the history -------------------------------------------------------------------------


def test_app_role_cannot_read_or_write_the_histories(conn: Conn) -> None:
    for statement in (
        "SELECT * FROM schema_function_applications",
        "INSERT INTO schema_function_applications (filename, checksum, duration_ms)"
        " VALUES ('x.sql', 'x', 0)",
        "SELECT * FROM schema_migrations",
    ):
        with pytest.raises(pg.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()
