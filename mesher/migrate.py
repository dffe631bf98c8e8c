"""Apply ``sql/migrations`` and ``sql/functions`` to a database, then create
the partitions ahead. Migrate deletes nothing; retention is ``--maintain``'s.

Usage::

    python -m mesher.migrate [--database-url URL] [--days N]      # migrate
    python -m mesher.migrate [--database-url URL] --status        # list the files' states
    python -m mesher.migrate --maintain [--database-url URL] [--days N]
                             [--retention-days N] [--rollup-retention-days N]
                             [--outcomes-retention-days N]

The URL comes from ``--database-url``, else ``$DATABASE_URL``, else (not for
``--maintain``) the embedded development server (see ``mesher.embedded``),
named on the first line of output.

What a run does, under a session advisory lock so that concurrent runs
queue up one behind the other:

1. ``before_migrate.sql`` (creates the history tables ``schema_migrations``
   and ``schema_function_applications``);
2. every numbered file ``sql/migrations/NNNN_name.sql`` not yet in the
   history, in order, each in its own transaction with its history row;
3. every file of ``sql/functions/`` whose SHA-256 differs from its latest
   application (or never applied): the function files first, then the view
   files (a file holding ``CREATE [OR REPLACE] VIEW``), each group in
   alphabetical order, with ``check_function_bodies`` off so that a function
   may call one that comes later; then ``after_migrate.sql`` (idempotent
   fix-ups: Citus placement and Citus's function settings, rebinding
   uuidv7). Step 3 is one transaction: a file that fails leaves every
   function as it was and records nothing;
4. the ``events`` partitions for today (UTC) and the ``--days - 1``
   following days (a day's rows waiting in ``events_default`` move into its
   new partition).

Nothing is dropped or deleted: no partition past its retention, no rollup,
idempotency key, Sentry event id or session. That is ``--maintain`` (for a
daily cron job) and ``mesher.maintenance.maintain``; ``--maintain`` refuses
to run without a URL, so that a cron job whose ``$DATABASE_URL`` went
missing fails instead of maintaining a fresh embedded database.

Two kinds of files:

- **Numbered migrations** hold tables, columns, indexes, constraints, triggers
  and data moves. An applied file is immutable: if its checksum changed, or
  it disappeared, the run stops before applying anything. Add a new numbered
  file instead. A file may be renamed if its number and contents stay: the
  history follows it. A file whose first line is ``-- no-transaction`` runs
  statement by statement outside a transaction (for ``CREATE INDEX
  CONCURRENTLY``); write it so that a re-run after a failure half-way is
  safe (``IF NOT EXISTS``).
- **Function files**, ``sql/functions/<name>.sql``, one per function, trigger
  function or view, named after it, written with ``CREATE OR REPLACE`` (and
  any ``COMMENT ON`` for it): they are edited in place, and a run applies
  the edit. They run after the numbered files, so a function may use a
  column that a migration of the same run adds; a numbered migration must
  not rely on a function file's newest version (on a fresh database it runs
  before it). Since ``CREATE OR REPLACE`` cannot change a function's
  arguments or result type (it would create an overload next to the old
  one), a signature that old code may still call changes under a new name:
  add ``<name>_v2.sql`` (no overloads), move the callers to it, and drop the
  old function in a later numbered migration, deleting its file in the same
  change. A view's columns can only be appended the same way; anything else
  is a new view name, or a numbered migration that drops the view first.

``--status`` lists both kinds: ``applied``, ``pending``, ``changed``,
``missing`` or ``renamed`` for the numbered files; ``applied``, ``pending``
or ``changed`` for ``functions/<name>.sql``.

Every failure is a ``mesher.errors.MesherError``: ``MigrationError`` for the
files and their history, ``DatabaseError`` for the server or the connection.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from ._args import count_arg
from ._sql import sql_dir, sync_queries
from .errors import DatabaseError, MesherError, MigrationError, translate
from .limits import (
    MAX_DAYS_AHEAD,
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    OUTCOMES_RETENTION_DAYS,
    ROLLUP_RETENTION_DAYS,
)
from .maintenance import MaintenanceReport, maintain
from .partitions import _create_ahead

__all__ = [
    "FileStatus",
    "Migration",
    "MigrationReport",
    "load",
    "load_function_files",
    "load_migrations",
    "main",
    "migrate",
    "run_maintenance",
    "status",
]

_NUMBERED = re.compile(r"[0-9]{4}_[a-z0-9_]+\.sql")
_FUNCTION_FILE = re.compile(r"[a-z_][a-z0-9_]*\.sql")
_HOOKS = ("before_migrate.sql", "after_migrate.sql")
_NO_TRANSACTION = "-- no-transaction"
#: How --status and the output name a function file: apart from the numbered ones.
FUNCTIONS_PREFIX = "functions/"
_VIEW = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:TEMP|TEMPORARY|RECURSIVE)\s+)*VIEW\b", re.I)
_q = sync_queries()


@dataclass(frozen=True)
class Migration:
    filename: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def transactional(self) -> bool:
        """False when the file's first line is ``-- no-transaction``."""
        return self.sql.split("\n", 1)[0].strip() != _NO_TRANSACTION

    @property
    def is_view(self) -> bool:
        """Whether a function file creates a view (views are applied last)."""
        return any(_VIEW.match(s) for s in split_statements(_strip_comments(self.sql)))


@dataclass
class MigrationReport:
    """What one ``migrate`` run did. It deletes nothing: there is nothing
    dropped or deleted to report."""

    applied: list[str] = field(default_factory=list)  # numbered files applied now
    already_applied: int = 0  # numbered files applied by earlier runs
    functions_applied: list[str] = field(default_factory=list)  # functions/<name>.sql
    partitions_created: list[str] = field(default_factory=list)  # events_YYYYMMDD made ahead


@dataclass(frozen=True)
class FileStatus:
    filename: str  # NNNN_name.sql, or functions/<name>.sql for a function file
    state: str  # applied | pending | changed | missing | renamed (numbered files only)
    applied_at: datetime | None = None
    renamed_from: str | None = None  # state "renamed": the name in the history


def load_migrations(migrations_dir: Path | None = None) -> list[Migration]:
    """The numbered files, in order. A stray .sql file is an error, not a skip."""
    folder = migrations_dir or sql_dir() / "migrations"
    found = []
    for path in sorted(folder.glob("*.sql")):
        if path.name in _HOOKS:
            continue
        if not _NUMBERED.fullmatch(path.name):
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        found.append(Migration(path.name, path.read_text()))
    numbers = [m.filename[:4] for m in found]
    if len(set(numbers)) != len(numbers):
        raise MigrationError(f"two migration files share a number in {folder}")
    return found


def load_function_files(functions_dir: Path | None = None) -> list[Migration]:
    """The files of sql/functions, in the order they are applied: the
    function files, then the view files, each alphabetically. A .sql file
    that is not named like a function is an error."""
    folder = functions_dir or sql_dir() / "functions"
    found = []
    for path in sorted(folder.glob("*.sql")):
        if not _FUNCTION_FILE.fullmatch(path.name):
            raise MigrationError(
                f"{FUNCTIONS_PREFIX}{path.name}: function files are named <function_name>.sql"
            )
        found.append(Migration(path.name, path.read_text()))
    return sorted(found, key=lambda f: (f.is_view, f.filename))


def _strip_comments(sql: str) -> str:
    """The text with its comments blanked (not those inside quotes or bodies)."""
    out, i = [], 0
    while i < len(sql):
        end = _skip_token(sql, i)
        if end > i and sql.startswith(("--", "/*"), i):
            out.append(" ")
        else:
            end = max(end, i + 1)
            out.append(sql[i:end])
        i = end
    return "".join(out)


def _applied(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    if not _q.migrations.migration_history_exists(conn):
        return {}
    return {row["filename"]: row for row in _q.migrations.list_applied_migrations(conn)}


def _statuses(files: list[Migration], applied: dict[str, dict[str, Any]]) -> list[FileStatus]:
    on_disk = {m.filename: m for m in files}
    # An applied file that is gone, and a new file with its number and contents:
    # the same migration, renamed.
    gone = {(n[:4], r["checksum"]): n for n, r in applied.items() if n not in on_disk}
    renamed = {
        m.filename: gone[(m.filename[:4], m.checksum)]
        for m in files
        if m.filename not in applied and (m.filename[:4], m.checksum) in gone
    }
    result = []
    for name in sorted((on_disk.keys() | applied.keys()) - set(renamed.values())):
        row = applied.get(name)
        if name in renamed:
            old = renamed[name]
            result.append(FileStatus(name, "renamed", applied[old]["applied_at"], old))
        elif row is None:
            result.append(FileStatus(name, "pending"))
        elif name not in on_disk:
            result.append(FileStatus(name, "missing", row["applied_at"]))
        elif row["checksum"] != on_disk[name].checksum:
            result.append(FileStatus(name, "changed", row["applied_at"]))
        else:
            result.append(FileStatus(name, "applied", row["applied_at"]))
    return result


def _function_applied(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    if not _q.migrations.function_history_exists(conn):
        return {}
    return {row["filename"]: row for row in _q.migrations.list_function_applications(conn)}


def _function_statuses(
    files: list[Migration], applied: dict[str, dict[str, Any]]
) -> list[FileStatus]:
    """applied, pending (never applied here) or changed (applied, then edited)."""
    result = []
    for f in files:
        row = applied.get(f.filename)
        if row is None:
            state = "pending"
        else:
            state = "applied" if row["checksum"] == f.checksum else "changed"
        when = row["applied_at"] if row else None
        result.append(FileStatus(FUNCTIONS_PREFIX + f.filename, state, when))
    return result


def _refuse_drift(statuses: list[FileStatus]) -> None:
    for s in statuses:
        if s.state == "changed":
            raise MigrationError(
                f"{s.filename} was changed after it was applied (checksum differs); "
                "applied migrations are immutable: restore it and add a new numbered file"
            )
        if s.state == "missing":
            raise MigrationError(
                f"{s.filename} was applied here but is missing from sql/migrations"
            )


def _apply(conn: psycopg.Connection[Any], name: str, sql: str) -> None:
    """Run a file's statements one at a time: in the caller's transaction, or,
    outside one (the connection is in autocommit mode), each committed on its
    own, as a ``-- no-transaction`` file needs. One at a time also because
    Citus propagates a DDL statement to the workers by its text, which it
    cannot cut out of a multi-statement string."""
    try:
        for statement in split_statements(sql):
            conn.execute(statement.encode())  # no parameters: the text goes as is
    except psycopg.Error as exc:
        raise _failed(name, exc) from exc


def _failed(name: str, exc: psycopg.Error) -> MigrationError:
    message = exc.diag.message_primary or str(exc).splitlines()[0]
    code = f" (SQLSTATE {exc.sqlstate})" if exc.sqlstate else ""
    return MigrationError(f"{name} failed: {message}{code}")


def split_statements(sql: str) -> list[str]:
    """The statements of a SQL text, split at top-level semicolons: not inside
    quotes, quoted identifiers, dollar-quoted bodies or comments."""
    statements, start, i = [], 0, 0
    while i < len(sql):
        end = _skip_token(sql, i)
        if end == i and sql[i] == ";":
            statements.append(sql[start : i + 1])
            start = i + 1
        i = max(end, i + 1)
    statements.append(sql[start:])
    return [s.strip() for s in statements if _has_code(s)]


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _skip_token(sql: str, i: int) -> int:
    """Where the quoted string, identifier, dollar-quoted body or comment
    starting at ``i`` ends (the text's end if it is not closed); ``i`` itself
    when none starts there."""
    c, before = sql[i], sql[i - 1] if i else " "
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end
    if sql.startswith("/*", i):  # block comments nest in PostgreSQL
        depth, j = 1, i + 2
        while depth and j < len(sql):
            if sql.startswith("/*", j):
                depth, j = depth + 1, j + 2
            elif sql.startswith("*/", j):
                depth, j = depth - 1, j + 2
            else:
                j += 1
        return j
    if c in "'\"":
        escapes = c == "'" and before in "eE" and not _in_word(sql, i - 1)
        j = i + 1
        while j < len(sql):
            if escapes and sql[j] == "\\":
                j += 2
            elif sql[j] == c:
                return j + 1
            else:
                j += 1
        return len(sql)
    if c == "$" and not _in_word(sql, i) and (tag := _DOLLAR_TAG.match(sql, i)):
        end = sql.find(tag.group(), tag.end())
        return len(sql) if end < 0 else end + len(tag.group())
    return i


def _in_word(sql: str, i: int) -> bool:
    """Whether the character before ``i`` continues an identifier."""
    return i > 0 and (sql[i - 1].isalnum() or sql[i - 1] in "_$")


def _has_code(sql: str) -> bool:
    """Whether a piece holds more than comments, blanks and semicolons."""
    i = 0
    while i < len(sql):
        if sql.startswith(("--", "/*"), i):
            i = _skip_token(sql, i)
        elif sql[i].isspace() or sql[i] == ";":
            i += 1
        else:
            return True
    return False


def migrate(
    conninfo: str,
    *,
    days: int = 7,
    echo: Callable[[str], None] | None = None,
    migrations_dir: Path | None = None,
    functions_dir: Path | None = None,
) -> MigrationReport:
    """Bring the database at ``conninfo`` up to date and create the
    partitions of today and the ``days - 1`` days after; see the module
    docstring. Deletes nothing (retention is ``maintain``'s).

    ``echo`` receives one line per step; ``migrations_dir`` and
    ``functions_dir`` default to sql/migrations and sql/functions.
    """
    ahead = count_arg(days, "days", maximum=MAX_DAYS_AHEAD)
    say = echo or (lambda _line: None)
    folder = migrations_dir or sql_dir() / "migrations"
    files = load_migrations(folder)
    function_files = load_function_files(functions_dir)
    report = MigrationReport()
    with _connect(conninfo) as conn:
        try:
            _migrate(conn, folder, files, function_files, report, ahead, say)
        except psycopg.Error as exc:
            raise _database_error(exc, conninfo) from exc
    return report


def _migrate(
    conn: psycopg.Connection[Any],
    folder: Path,
    files: list[Migration],
    function_files: list[Migration],
    report: MigrationReport,
    days: int,
    say: Callable[[str], None],
) -> None:
    _q.migrations.acquire_migration_lock(conn)
    try:
        with conn.transaction():
            _apply(conn, "before_migrate.sql", (folder / "before_migrate.sql").read_text())
        statuses = _statuses(files, _applied(conn))
        _refuse_drift(statuses)
        for s in statuses:
            if s.state == "renamed":
                _q.migrations.rename_migration(
                    conn, old_filename=s.renamed_from, filename=s.filename
                )
                say(f"renamed {s.renamed_from} to {s.filename} in the history")
        todo = {s.filename for s in statuses if s.state == "pending"}
        report.already_applied = len(statuses) - len(todo)
        for migration in files:
            if migration.filename in todo:
                elapsed = _apply_migration(conn, migration)
                report.applied.append(migration.filename)
                say(f"applied {migration.filename} ({elapsed} ms)")
        if not report.applied:
            say(f"schema up to date ({report.already_applied} migrations applied earlier)")
        _apply_function_files(conn, folder, function_files, report, say)
        with conn.transaction():
            report.partitions_created = _create_ahead(conn, days)
        created = report.partitions_created
        say(
            "create partitions ahead: "
            + (f"created {len(created)} ({', '.join(created)})" if created else "nothing to do")
        )
    finally:
        if not conn.broken:
            _q.migrations.release_migration_lock(conn)


def _apply_migration(conn: psycopg.Connection[Any], migration: Migration) -> int:
    """Apply one file and record it; returns how long it took, in ms. A
    transactional file and its history row commit together."""
    started = time.perf_counter()
    if not migration.transactional:
        _apply(conn, migration.filename, migration.sql)  # outside a transaction
    with conn.transaction():
        if migration.transactional:
            _apply(conn, migration.filename, migration.sql)
        elapsed = _ms_since(started)
        _q.migrations.record_migration(
            conn, filename=migration.filename, checksum=migration.checksum, duration_ms=elapsed
        )
    return elapsed


def _apply_function_files(
    conn: psycopg.Connection[Any],
    folder: Path,
    function_files: list[Migration],
    report: MigrationReport,
    say: Callable[[str], None],
) -> None:
    """The function files that changed since their latest application, then
    after_migrate.sql, in one transaction: on Citus, a function re-created
    from its file is never seen without the settings after_migrate.sql gives
    it back."""
    statuses = _function_statuses(function_files, _function_applied(conn))
    todo = {s.filename for s in statuses if s.state != "applied"}
    applied = []
    with conn.transaction():
        # Bodies are checked when called, not when created: a function may
        # call one whose file comes later in the order.
        conn.execute("SET LOCAL check_function_bodies TO off")
        for f in function_files:
            name = FUNCTIONS_PREFIX + f.filename
            if name not in todo:
                continue
            started = time.perf_counter()
            _apply(conn, name, f.sql)
            elapsed = _ms_since(started)
            _q.migrations.record_function_application(
                conn, filename=f.filename, checksum=f.checksum, duration_ms=elapsed
            )
            applied.append((name, elapsed))
        _apply(conn, "after_migrate.sql", (folder / "after_migrate.sql").read_text())
    report.functions_applied = [name for name, _ in applied]
    for name, elapsed in applied:
        say(f"applied {name} ({elapsed} ms)")
    if not applied:
        say(f"functions up to date ({len(function_files)} files applied earlier)")


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _connect(conninfo: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        raise _database_error(exc, conninfo) from exc


def _database_error(exc: psycopg.Error, conninfo: str) -> MesherError:
    """A driver error as a MesherError; the message names the database,
    never its password."""
    error = translate(exc)
    if isinstance(error, DatabaseError):
        return DatabaseError(f"cannot use {redact(conninfo)}: {_one_line(exc)}", exc.sqlstate)
    return error


def run_maintenance(
    conninfo: str,
    *,
    days: int = 7,
    retention_days: int = 90,
    rollup_retention_days: int = ROLLUP_RETENTION_DAYS,
    echo: Callable[[str], None] | None = None,
    outcomes_retention_days: int = OUTCOMES_RETENTION_DAYS,
) -> MaintenanceReport:
    """The maintenance (``--maintain``), on its own connection: partitions
    ahead, and everything past its retention dropped or deleted."""
    with _connect(conninfo) as conn:
        try:
            report = maintain(
                conn,
                days,
                retention_days,
                rollup_retention_days,
                outcomes_retention_days=outcomes_retention_days,
            )
        except psycopg.Error as exc:
            raise _database_error(exc, conninfo) from exc
    for line in report.lines():
        (echo or (lambda _line: None))(line)
    return report


def status(
    conninfo: str, *, migrations_dir: Path | None = None, functions_dir: Path | None = None
) -> list[FileStatus]:
    """Each numbered file's state (applied, pending, changed, missing or
    renamed), then each function file's (``functions/<name>.sql``: applied,
    pending or changed), in the order a run applies them."""
    files = load_migrations(migrations_dir)
    function_files = load_function_files(functions_dir)
    with _connect(conninfo) as conn:
        try:
            return _statuses(files, _applied(conn)) + _function_statuses(
                function_files, _function_applied(conn)
            )
        except psycopg.Error as exc:
            raise _database_error(exc, conninfo) from exc


_CONNINFO_KEYS = ("host", "port", "user", "password", "dbname", "options")


def load(**connect_kwargs: Any) -> None:
    """pytest-postgresql ``load=`` hook: migrate the database it describes.

    It receives host, port, user, password, dbname and options (and loader
    settings such as autocommit, which do not apply here).
    """
    params = {k: connect_kwargs[k] for k in _CONNINFO_KEYS if connect_kwargs.get(k)}
    migrate(make_conninfo(**params))


def redact(url: str) -> str:
    """A connection string fit to print: any password replaced by ***."""
    url = re.sub(r"(://[^:/@?]*:)[^@]*@", r"\1***@", url)
    return re.sub(r"(password\s*=\s*)(?:'[^']*'|\S+)", r"\1***", url)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0]) if text else type(exc).__name__


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mesher.migrate", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL (default: $DATABASE_URL, else the embedded server;"
        " --maintain requires one)",
    )
    parser.add_argument(
        "--days", type=int, default=7, help="days of event partitions to create ahead (default 7)"
    )
    parser.add_argument(
        "--retention-days",
        type=int,
        help="with --maintain: drop event partitions whose day is older than this (default 90)",
    )
    parser.add_argument(
        "--rollup-retention-days",
        type=int,
        help="with --maintain: delete hourly rollups older than this"
        f" (default {ROLLUP_RETENTION_DAYS})",
    )
    parser.add_argument(
        "--outcomes-retention-days",
        type=int,
        help="with --maintain: delete outcomes older than this"
        f" (default {OUTCOMES_RETENTION_DAYS})",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--status", action="store_true", help="list the files' states; change nothing"
    )
    mode.add_argument(
        "--maintain",
        action="store_true",
        help="maintenance only, for cron: partitions ahead, and delete what is past its retention",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.days <= MAX_DAYS_AHEAD:
        parser.error(f"--days must be between 0 and {MAX_DAYS_AHEAD}")
    for option, value in (
        ("--retention-days", args.retention_days),
        ("--rollup-retention-days", args.rollup_retention_days),
        ("--outcomes-retention-days", args.outcomes_retention_days),
    ):
        if value is None:
            continue
        if not args.maintain:
            parser.error(f"{option} applies to --maintain only: migrate deletes nothing")
        if not MIN_RETENTION_DAYS <= value <= MAX_RETENTION_DAYS:
            parser.error(f"{option} must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS}")
    if args.retention_days is None:
        args.retention_days = 90
    if args.rollup_retention_days is None:
        args.rollup_retention_days = ROLLUP_RETENTION_DAYS
    if args.outcomes_retention_days is None:
        args.outcomes_retention_days = OUTCOMES_RETENTION_DAYS
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    url = args.database_url or os.environ.get("DATABASE_URL", "")
    if args.maintain and not url:
        print(
            "mesher.migrate: --maintain needs the database to maintain: pass --database-url"
            " or set DATABASE_URL (it never maintains the embedded development server)",
            file=sys.stderr,
        )
        return 2
    try:
        if not url:
            from .embedded import EmbeddedError, ensure_dev_server

            try:
                cluster = ensure_dev_server()
            except EmbeddedError as exc:
                raise EmbeddedError(f"embedded PostgreSQL: {exc}") from exc
            url = cluster.url()
            print(f"using the embedded PostgreSQL 18 (data in {cluster.data_dir}): {url}")
        if args.status:
            for s in status(url):
                when = f"  {s.applied_at:%Y-%m-%d %H:%M:%S %Z}" if s.applied_at else ""
                print(f"{s.state:8} {s.filename}{when}")
        elif args.maintain:
            run_maintenance(
                url,
                days=args.days,
                retention_days=args.retention_days,
                rollup_retention_days=args.rollup_retention_days,
                outcomes_retention_days=args.outcomes_retention_days,
                echo=print,
            )
        else:
            migrate(url, days=args.days, echo=print)
    except MesherError as exc:
        print(f"mesher.migrate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
