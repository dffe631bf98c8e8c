"""Apply ``sql/migrations`` to a database, then create the partitions ahead.

Usage::

    python -m mesher.migrate [--database-url URL] [--days N] [--retention-days N]
                             [--rollup-retention-days N] [--status | --maintain]

The URL comes from ``--database-url``, else ``$DATABASE_URL``, else the
embedded development server (see ``mesher.embedded``).

What a run does, under a session advisory lock so that concurrent runs
queue up one behind the other:

1. ``before_migrate.sql`` (creates the ``schema_migrations`` history table);
2. every numbered file ``NNNN_name.sql`` not yet in the history, in order,
   each in its own transaction together with its history row;
3. ``after_migrate.sql`` (idempotent fix-ups, e.g. rebinding uuidv7);
4. maintenance (``mesher.maintenance.maintain``): the ``events`` partitions
   for today (UTC) and the following days, rows stranded in
   ``events_default`` moved to their day, partitions past the retention
   dropped, hourly rollups past theirs, expired idempotency keys, Sentry
   event ids and sessions deleted.

``--maintain`` runs step 4 alone, for a daily cron job.

An applied file is immutable: if its checksum changed, or it disappeared,
the run stops before applying anything. Add a new numbered file instead. A
file may be renamed if its number and contents stay: the history follows it.
A file whose first line is ``-- no-transaction`` runs statement by statement
outside a transaction (for ``CREATE INDEX CONCURRENTLY``); write it so that a
re-run after a failure half-way is safe (``IF NOT EXISTS``).

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

from ._sql import sql_dir, sync_queries
from .errors import DatabaseError, MesherError, MigrationError, translate
from .limits import (
    MAX_DAYS_AHEAD,
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    ROLLUP_RETENTION_DAYS,
)
from .maintenance import MaintenanceReport, maintain

__all__ = [
    "FileStatus",
    "Migration",
    "MigrationReport",
    "load",
    "main",
    "migrate",
    "run_maintenance",
    "status",
]

_NUMBERED = re.compile(r"[0-9]{4}_[a-z0-9_]+\.sql")
_HOOKS = ("before_migrate.sql", "after_migrate.sql")
_NO_TRANSACTION = "-- no-transaction"
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


@dataclass
class MigrationReport:
    applied: list[str] = field(default_factory=list)
    already_applied: int = 0
    maintenance: MaintenanceReport = field(default_factory=MaintenanceReport)


@dataclass(frozen=True)
class FileStatus:
    filename: str
    state: str  # applied | pending | changed | missing | renamed
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
    retention_days: int = 90,
    rollup_retention_days: int = ROLLUP_RETENTION_DAYS,
    echo: Callable[[str], None] | None = None,
    migrations_dir: Path | None = None,
) -> MigrationReport:
    """Bring the database at ``conninfo`` up to date; see the module docstring.

    ``echo`` receives one line per step; ``migrations_dir`` defaults to sql/migrations.
    """
    say = echo or (lambda _line: None)
    folder = migrations_dir or sql_dir() / "migrations"
    files = load_migrations(folder)
    report = MigrationReport()
    with _connect(conninfo) as conn:
        try:
            retention = (days, retention_days, rollup_retention_days)
            _migrate(conn, folder, files, report, retention, say)
        except psycopg.Error as exc:
            raise _database_error(exc, conninfo) from exc
    for line in report.maintenance.lines():
        say(line)
    return report


def _migrate(
    conn: psycopg.Connection[Any],
    folder: Path,
    files: list[Migration],
    report: MigrationReport,
    maintenance: tuple[int, int, int],
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
        with conn.transaction():
            _apply(conn, "after_migrate.sql", (folder / "after_migrate.sql").read_text())
        if not report.applied:
            say(f"schema up to date ({report.already_applied} migrations applied earlier)")
        report.maintenance = maintain(conn, *maintenance)
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
        elapsed = round((time.perf_counter() - started) * 1000)
        _q.migrations.record_migration(
            conn, filename=migration.filename, checksum=migration.checksum, duration_ms=elapsed
        )
    return elapsed


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
) -> MaintenanceReport:
    """Partition maintenance alone (``--maintain``), on its own connection."""
    with _connect(conninfo) as conn:
        try:
            report = maintain(conn, days, retention_days, rollup_retention_days)
        except psycopg.Error as exc:
            raise _database_error(exc, conninfo) from exc
    for line in report.lines():
        (echo or (lambda _line: None))(line)
    return report


def status(conninfo: str, *, migrations_dir: Path | None = None) -> list[FileStatus]:
    """Each migration file's state: applied, pending, changed, missing or renamed."""
    files = load_migrations(migrations_dir)
    with _connect(conninfo) as conn:
        try:
            return _statuses(files, _applied(conn))
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
        "--database-url", help="PostgreSQL URL (default: $DATABASE_URL, else the embedded server)"
    )
    parser.add_argument(
        "--days", type=int, default=7, help="days of event partitions to create ahead (default 7)"
    )
    parser.add_argument(
        "--retention-days",
        type=int,
        default=90,
        help="drop event partitions whose day is older than this (default 90)",
    )
    parser.add_argument(
        "--rollup-retention-days",
        type=int,
        default=ROLLUP_RETENTION_DAYS,
        help=f"delete hourly rollups older than this (default {ROLLUP_RETENTION_DAYS})",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--status", action="store_true", help="list applied and pending files; change nothing"
    )
    mode.add_argument(
        "--maintain", action="store_true", help="partition maintenance only (for cron)"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.days <= MAX_DAYS_AHEAD:
        parser.error(f"--days must be between 0 and {MAX_DAYS_AHEAD}")
    if not MIN_RETENTION_DAYS <= args.retention_days <= MAX_RETENTION_DAYS:
        parser.error(
            f"--retention-days must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS}"
        )
    if not MIN_RETENTION_DAYS <= args.rollup_retention_days <= MAX_RETENTION_DAYS:
        parser.error(
            f"--rollup-retention-days must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS}"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    url = args.database_url or os.environ.get("DATABASE_URL", "")
    try:
        if not url:
            from .embedded import EmbeddedError, ensure_dev_server

            try:
                cluster = ensure_dev_server()
            except EmbeddedError as exc:
                raise EmbeddedError(f"embedded PostgreSQL: {exc}") from exc
            url = cluster.url()
            print(f"using the embedded PostgreSQL 18 (data in {cluster.data_dir}): {url}")
        retention = {
            "days": args.days,
            "retention_days": args.retention_days,
            "rollup_retention_days": args.rollup_retention_days,
        }
        if args.status:
            for s in status(url):
                when = f"  {s.applied_at:%Y-%m-%d %H:%M:%S %Z}" if s.applied_at else ""
                print(f"{s.state:8} {s.filename}{when}")
        elif args.maintain:
            run_maintenance(url, **retention, echo=print)
        else:
            migrate(url, **retention, echo=print)
    except MesherError as exc:
        print(f"mesher.migrate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
