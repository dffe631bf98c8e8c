"""Apply ``sql/migrations`` to a database, then create the partitions ahead.

Usage::

    python -m mesher.migrate [--database-url URL] [--days N] [--retention-days N]
                             [--status | --maintain]

The URL comes from ``--database-url``, else ``$DATABASE_URL``, else the
embedded development server (see ``mesher.embedded``).

What a run does, under a session advisory lock so that concurrent runs
queue up one behind the other:

1. ``before_migrate.sql`` (creates the ``schema_migrations`` history table);
2. every numbered file ``NNNN_name.sql`` not yet in the history, in order,
   each in its own transaction together with its history row;
3. ``after_migrate.sql`` (idempotent fix-ups, e.g. rebinding uuidv7);
4. partition maintenance (``mesher.partitions.maintain``): the ``events``
   partitions for today (UTC) and the following days, rows stranded in
   ``events_default`` moved to their day, partitions past the retention
   dropped.

``--maintain`` runs step 4 alone, for a daily cron job.

An applied file is immutable: if its checksum changed, or it disappeared,
the run stops before applying anything. Add a new numbered file instead.
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
from .errors import MesherError, MigrationError
from .partitions import MaintenanceReport, maintain

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
_q = sync_queries()


@dataclass(frozen=True)
class Migration:
    filename: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass
class MigrationReport:
    applied: list[str] = field(default_factory=list)
    already_applied: int = 0
    maintenance: MaintenanceReport = field(default_factory=MaintenanceReport)


@dataclass(frozen=True)
class FileStatus:
    filename: str
    state: str  # applied | pending | changed | missing
    applied_at: datetime | None = None


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
    if not _q.migration_history_exists(conn):
        return {}
    return {row["filename"]: row for row in _q.list_applied_migrations(conn)}


def _statuses(files: list[Migration], applied: dict[str, dict[str, Any]]) -> list[FileStatus]:
    on_disk = {m.filename: m for m in files}
    result = []
    for name in sorted(on_disk.keys() | applied.keys()):
        row = applied.get(name)
        if row is None:
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
            raise MigrationError(f"{s.filename} was applied here but is missing from sql/migrations")


def _apply(conn: psycopg.Connection[Any], name: str, sql: str) -> None:
    try:
        conn.execute(sql.encode())  # no parameters: the text goes to the server as is
    except psycopg.Error as exc:
        message = exc.diag.message_primary or str(exc).splitlines()[0]
        code = f" (SQLSTATE {exc.sqlstate})" if exc.sqlstate else ""
        raise MigrationError(f"{name} failed: {message}{code}") from exc


def migrate(
    conninfo: str,
    *,
    days: int = 7,
    retention_days: int = 90,
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
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _q.acquire_migration_lock(conn)
        try:
            with conn.transaction():
                _apply(conn, "before_migrate.sql", (folder / "before_migrate.sql").read_text())
            statuses = _statuses(files, _applied(conn))
            _refuse_drift(statuses)
            todo = {s.filename for s in statuses if s.state == "pending"}
            report.already_applied = len(statuses) - len(todo)
            for migration in files:
                if migration.filename not in todo:
                    continue
                started = time.perf_counter()
                with conn.transaction():
                    _apply(conn, migration.filename, migration.sql)
                    elapsed = round((time.perf_counter() - started) * 1000)
                    _q.record_migration(
                        conn,
                        filename=migration.filename,
                        checksum=migration.checksum,
                        duration_ms=elapsed,
                    )
                report.applied.append(migration.filename)
                say(f"applied {migration.filename} ({elapsed} ms)")
            with conn.transaction():
                _apply(conn, "after_migrate.sql", (folder / "after_migrate.sql").read_text())
            if not report.applied:
                say(f"schema up to date ({report.already_applied} migrations applied earlier)")
            report.maintenance = maintain(conn, days, retention_days)
        finally:
            if not conn.broken:
                _q.release_migration_lock(conn)
    for line in report.maintenance.lines():
        say(line)
    return report


def run_maintenance(
    conninfo: str,
    *,
    days: int = 7,
    retention_days: int = 90,
    echo: Callable[[str], None] | None = None,
) -> MaintenanceReport:
    """Partition maintenance alone (``--maintain``), on its own connection."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        report = maintain(conn, days, retention_days)
    for line in report.lines():
        (echo or (lambda _line: None))(line)
    return report


def status(conninfo: str, *, migrations_dir: Path | None = None) -> list[FileStatus]:
    """Each migration file's state: applied, pending, changed or missing."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return _statuses(load_migrations(migrations_dir), _applied(conn))


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
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--status", action="store_true", help="list applied and pending files; change nothing"
    )
    mode.add_argument(
        "--maintain", action="store_true", help="partition maintenance only (for cron)"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.days <= 10_000:
        parser.error("--days must be between 0 and 10000")
    if not 1 <= args.retention_days <= 100_000:
        parser.error("--retention-days must be between 1 and 100000")
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
                print(f"mesher.migrate: embedded PostgreSQL: {exc}", file=sys.stderr)
                return 1
            url = cluster.url()
            print(f"using the embedded PostgreSQL 18 (data in {cluster.data_dir}): {url}")
        if args.status:
            for s in status(url):
                when = f"  {s.applied_at:%Y-%m-%d %H:%M:%S %Z}" if s.applied_at else ""
                print(f"{s.state:8} {s.filename}{when}")
        elif args.maintain:
            run_maintenance(url, days=args.days, retention_days=args.retention_days, echo=print)
        else:
            migrate(url, days=args.days, retention_days=args.retention_days, echo=print)
    except MesherError as exc:
        print(f"mesher.migrate: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"mesher.migrate: cannot use {redact(url)}: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
