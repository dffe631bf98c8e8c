# Generated from mesher/aio/maintenance.py by tools/gen_sync.py: edit that file.
"""Housekeeping, run daily (``python -m mesher.migrate --maintain``) and
after every migration (sql/queries/maintenance.sql).

``maintain`` keeps the ``events`` partitions healthy and forgets what has
expired. Each step commits on its own and never waits more than
``LOCK_TIMEOUT_MS`` for a lock, so ingestion and dashboards never queue
behind it for longer: a step whose locks stay busy is retried a few times,
then reported as skipped for the next run. It never fails because of them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg import Connection
from psycopg.errors import CheckViolation, DeadlockDetected, LockNotAvailable
from psycopg.pq import TransactionStatus

from ._args import count_arg
from ._sql import sync_queries
from .errors import DatabaseError, InvalidInput, _describe, translate_errors
from .limits import (
    IDEMPOTENCY_DAYS,
    MAX_DAYS_AHEAD,
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    OUTCOMES_RETENTION_DAYS,
    ROLLUP_RETENTION_DAYS,
)
from .partitions import _create_ahead, partition_name
from .queries.fingerprints import resume_unmerges
from .queries.outcomes import expire_outcomes

_q = sync_queries()
T = TypeVar("T")
Conn = Connection[Any]

__all__ = [
    "ATTEMPTS",
    "BUSY",
    "CHUNK_PAUSE",
    "CHUNK_ROWS",
    "CHUNK_TARGET_S",
    "LOCK_TIMEOUT_MS",
    "ROWS_ARRIVING",
    "DeletionReport",
    "MaintenanceReport",
    "maintain",
    "run_deletions",
]

#: A maintenance step waits at most this long for a lock; then it is retried.
LOCK_TIMEOUT_MS = 1000
#: How often a step is tried before it is reported as skipped.
ATTEMPTS = 5
#: The most rows one deletion transaction removes (from one table).
CHUNK_ROWS = 5000
#: A deletion transaction aims to take about this long: the next chunk is
#: halved after one that took longer, doubled (up to CHUNK_ROWS) after one
#: that took under a quarter of it, so that no lock is held for long
#: whatever a table's rows cost to delete.
CHUNK_TARGET_S = 0.25
#: After each chunk, a deletion waits this share of the chunk's time: it
#: takes at most about two thirds of a server process's time from the
#: writers, and lets autovacuum and the writers' commits in between.
CHUNK_PAUSE = 0.5

# Step names, as the report's skipped list and lines() give them.
CREATE_AHEAD = "create partitions ahead"
DROP_EXPIRED = "drop expired partitions"
DELETE_ROLLUPS = "delete expired hourly rollups"
FORGET_KEYS = "forget expired idempotency keys"
FORGET_EVENT_IDS = "forget expired Sentry event ids"
DELETE_SESSIONS = "delete expired sessions"
DELETE_OUTCOMES = "delete expired outcomes"
RESUME_UNMERGES = "finish cut-short unmerges"
FIND_STRANDED = "find rows in events_default"
MOVE_STRANDED = "move rows out of events_default"  # the report line of the two above
DELETE_DELETED = "delete deleted and expired rows"
_MOVE_PREFIX = "move events of"


def _move_step(day: dt.date) -> str:
    return f"{_MOVE_PREFIX} {day} out of events_default"


@dataclass
class DeletionReport:
    """What one ``run_deletions`` did, and what it left for the next run."""

    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows removed
    projects: list[UUID] = field(default_factory=list)  # deleted projects now gone
    organizations: int = 0  # deleted organizations now gone
    projects_left: int = 0  # deleted projects that still have rows
    expired: dict[str, int] = field(
        default_factory=dict
    )  # partition -> rows past a project's retention
    issues: int = 0  # deleted issues now gone (delete_issue, or expired)
    expired_issues: int = 0  # issues marked deleted: their last event expired
    busy: bool = False  # a chunk's locks stayed busy: the next run retries it

    @property
    def rows(self) -> int:
        return sum(self.deleted.values())

    @property
    def expired_rows(self) -> int:
        return sum(self.expired.values())

    def line(self) -> str:
        said = []
        if self.rows:
            said.append(f"deleted {self.rows} rows")
        if self.projects:
            said.append(f"{len(self.projects)} projects gone")
        if self.organizations:
            said.append(f"{self.organizations} organizations gone")
        if self.expired_rows:
            said.append(f"deleted {self.expired_rows} rows past their project's retention")
        if self.expired_issues:
            said.append(f"{self.expired_issues} issues expired")
        if self.issues:
            said.append(f"{self.issues} deleted issues gone")
        if self.projects_left:
            said.append(f"{self.projects_left} projects left for the next run")
        if self.busy:
            said.append(f"skipped, {BUSY} (the next run retries)")
        return f"{DELETE_DELETED}: {'; '.join(said) or 'nothing to do'}"


@dataclass
class MaintenanceReport:
    """What one ``maintain`` run did. A step in ``skipped`` did nothing
    because its locks stayed busy; the next run retries it."""

    created: list[str] = field(default_factory=list)  # partitions made ahead
    moved: dict[str, int] = field(default_factory=dict)  # partition -> rows from events_default
    dropped: list[str] = field(default_factory=list)  # partitions past the retention
    deleted_rollups: int = 0  # hourly rollup rows past their own retention
    forgotten_keys: int = 0  # idempotency keys past their window
    forgotten_event_ids: int = 0  # Sentry SDK event ids past the same window
    deleted_sessions: int = 0  # sessions past their expiry
    deleted_outcomes: int = 0  # outcome rows past their retention
    resumed_unmerges: int = 0  # unmerges cut short, finished
    deletions: DeletionReport = field(default_factory=DeletionReport)  # deleted projects' rows
    skipped: list[str] = field(default_factory=list)  # steps that could not be done now
    #: Why each step of ``skipped`` was skipped, when not for busy locks.
    reasons: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """One line per step, for people and logs: what it did, that it had
        nothing to do, and whether its locks were busy (then the next run
        retries what it could not do)."""
        moved = sum(self.moved.values())
        return [
            self._line(
                CREATE_AHEAD,
                self.created and f"created {_names(self.created)}",
                reasons=[self.reasons[CREATE_AHEAD]] if CREATE_AHEAD in self.reasons else [],
            ),
            self._line(
                MOVE_STRANDED,
                moved and f"moved {moved} rows into {', '.join(self.moved)}",
                busy=any(
                    (s == FIND_STRANDED or s.startswith(_MOVE_PREFIX)) and s not in self.reasons
                    for s in self.skipped
                ),
                reasons=[r for s, r in self.reasons.items() if s.startswith(_MOVE_PREFIX)],
            ),
            self._line(DROP_EXPIRED, self.dropped and f"dropped {_names(self.dropped)}"),
            self._line(
                DELETE_ROLLUPS, self.deleted_rollups and f"deleted {self.deleted_rollups} rows"
            ),
            self._line(FORGET_KEYS, self.forgotten_keys and f"forgot {self.forgotten_keys}"),
            self._line(
                FORGET_EVENT_IDS, self.forgotten_event_ids and f"forgot {self.forgotten_event_ids}"
            ),
            self._line(
                DELETE_SESSIONS, self.deleted_sessions and f"deleted {self.deleted_sessions}"
            ),
            self._line(
                DELETE_OUTCOMES, self.deleted_outcomes and f"deleted {self.deleted_outcomes} rows"
            ),
            self._line(
                RESUME_UNMERGES, self.resumed_unmerges and f"finished {self.resumed_unmerges}"
            ),
            self.deletions.line(),
        ]

    def _line(
        self, step: str, done: Any, busy: bool | None = None, reasons: list[str] | None = None
    ) -> str:
        said = [done] if done else []
        if step in self.skipped and step not in self.reasons if busy is None else busy:
            said.append(f"skipped, {BUSY} (the next run retries)")
        said += [f"skipped, {why} (the next run retries)" for why in sorted(set(reasons or []))]
        return f"{step}: {'; '.join(said) or 'nothing to do'}"


#: Why a step was skipped, in the report: its locks stayed busy.
BUSY = "locks busy"
#: Why a step that creates a partition was skipped: on Citus, rows of its day
#: kept reaching the shards of events_default while it moved them (its
#: partition could not be attached; nothing was lost).
ROWS_ARRIVING = "rows of the day kept arriving in events_default"


class _Skip(Exception):
    """A step gave up for now; the next run retries it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _names(names: list[str]) -> str:
    return f"{len(names)} ({', '.join(names)})"


def _step(conn: Conn, work: Callable[[], T], creates: bool = False) -> T:
    """Run one step in its own transaction under LOCK_TIMEOUT_MS, retrying
    when a lock is busy or the step lost a deadlock; ``_Skip`` if every
    attempt failed so. A step that ``creates`` partitions is retried too when
    attaching one failed its partition constraint (rows of the day still
    reaching events_default on Citus). Any other database error is a
    ``DatabaseError`` with its SQLSTATE: nothing maintenance does is the
    caller's input."""
    reason = BUSY
    for attempt in range(ATTEMPTS):
        try:
            with conn.transaction():
                _q.maintenance.set_lock_timeout(conn, milliseconds=LOCK_TIMEOUT_MS)
                return work()
        except (LockNotAvailable, DeadlockDetected):
            reason = BUSY
        except CheckViolation as exc:
            if not creates:
                raise DatabaseError(_describe(exc), exc.sqlstate) from exc
            reason = ROWS_ARRIVING
        except psycopg.Error as exc:
            raise DatabaseError(_describe(exc), exc.sqlstate) from exc
        if attempt + 1 < ATTEMPTS:
            time.sleep(0.1 * 2**attempt)
    raise _Skip(reason)


def _resume_unmerges(conn: Conn) -> int:
    with conn.transaction():
        rows = _q.maintenance.projects_with_unmerges(conn)
        projects = [row["project_id"] for row in rows]
    finished = 0
    for project_id in projects:
        finished += resume_unmerges(conn, project_id, lock_timeout_ms=LOCK_TIMEOUT_MS)
    return finished


#: The SQLSTATEs of a chunk whose locks stayed busy (lock_timeout) or that
#: kept losing deadlocks.
_BUSY_STATES = frozenset({LockNotAvailable.sqlstate, DeadlockDetected.sqlstate})


@translate_errors
def maintain(
    conn: Conn,
    days_ahead: int = 7,
    retention_days: int = 90,
    rollup_retention_days: int = ROLLUP_RETENTION_DAYS,
    deletion_budget_s: float = 60.0,
    outcomes_retention_days: int = OUTCOMES_RETENTION_DAYS,
) -> MaintenanceReport:
    """Keep the partitions healthy and forget what expired; idempotent, one
    run at a time (an advisory lock).

    1. create the partitions for today (UTC) and ``days_ahead - 1`` days after;
    2. move rows that landed in ``events_default`` into their own daily
       partitions (created for them), one day per transaction;
    3. drop the partitions whose whole day is older than ``retention_days``.
       Issues and their counts, the tag store and the hourly rollups are left
       as they are;
    4. delete the hourly rollups' hours older than ``rollup_retention_days``
       (default 400: they outlive the partitions they counted);
    5. forget idempotency keys and Sentry event ids older than
       ``IDEMPOTENCY_DAYS``;
    6. delete expired login sessions, and the outcomes of hours that ended
       more than ``outcomes_retention_days`` ago (default 90, as Sentry
       keeps them; ``queries.expire_outcomes``, in chunks);
    7. finish the unmerges that were cut short (``queries.resume_unmerges``,
       a chunk per transaction), project by project (a chunk of these two
       steps whose locks stay busy leaves the rest of its step to the next
       run);
    8. remove the rows of deleted projects and organizations, and the
       events past a project's own retention, as ``run_deletions`` does, for
       at most ``deletion_budget_s`` seconds.

    Each step commits on its own, so ``conn`` must not be inside a transaction.
    A step whose locks stay busy, or (on Citus) whose day's rows kept arriving
    in events_default while it attached the day's partition, is listed in
    ``skipped`` (with ``reasons`` when not for locks) and the later steps
    still run. Any other database failure raises ``DatabaseError`` with its
    SQLSTATE; ``InvalidInput`` is only for the arguments.
    """
    ahead = count_arg(days_ahead, "days_ahead", maximum=MAX_DAYS_AHEAD)
    retention = count_arg(
        retention_days, "retention_days", minimum=MIN_RETENTION_DAYS, maximum=MAX_RETENTION_DAYS
    )
    rollup_retention = count_arg(
        rollup_retention_days,
        "rollup_retention_days",
        minimum=MIN_RETENTION_DAYS,
        maximum=MAX_RETENTION_DAYS,
    )
    budget = _budget_arg(deletion_budget_s, "deletion_budget_s")
    outcomes_retention = count_arg(
        outcomes_retention_days,
        "outcomes_retention_days",
        minimum=MIN_RETENTION_DAYS,
        maximum=MAX_RETENTION_DAYS,
    )
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise InvalidInput("maintain commits each step: call it outside a transaction")
    report = MaintenanceReport()

    def run(step: str, work: Callable[[], T], creates: bool = False) -> T | None:
        try:
            return _step(conn, work, creates)
        except _Skip as skip:
            report.skipped.append(step)
            if skip.reason != BUSY:
                report.reasons[step] = skip.reason
            return None

    def chunked(step: str, work: Callable[[], int]) -> int:
        # A step that commits chunk by chunk, each under LOCK_TIMEOUT_MS: a
        # busy chunk leaves the rest to the next run, as a deletion's does.
        try:
            return work()
        except DatabaseError as exc:
            if exc.sqlstate not in _BUSY_STATES:
                raise
            report.skipped.append(step)
            return 0

    with conn.transaction():  # commits even on a connection that is not autocommit
        _q.maintenance.acquire_maintenance_lock(conn)
    try:
        create = partial(_create_ahead, conn, ahead)
        report.created = run(CREATE_AHEAD, create, creates=True) or []
        for day in run(FIND_STRANDED, lambda: _stranded_days(conn)) or []:
            moved = run(_move_step(day), partial(_move_day, conn, day), creates=True)
            if moved is not None:
                report.moved[partition_name(day)] = moved
        report.dropped = run(DROP_EXPIRED, lambda: _drop_expired(conn, retention)) or []
        delete = partial(_q.maintenance.delete_expired_rollups, conn, keep_days=rollup_retention)
        report.deleted_rollups = run(DELETE_ROLLUPS, delete) or 0
        forget = partial(_q.maintenance.forget_ingest_batches, conn, keep_days=IDEMPOTENCY_DAYS)
        report.forgotten_keys = run(FORGET_KEYS, forget) or 0
        forget = partial(_q.maintenance.forget_sentry_event_ids, conn, keep_days=IDEMPOTENCY_DAYS)
        report.forgotten_event_ids = run(FORGET_EVENT_IDS, forget) or 0
        report.deleted_sessions = (
            run(DELETE_SESSIONS, lambda: _q.maintenance.delete_expired_sessions(conn)) or 0
        )
        expire = partial(expire_outcomes, conn, outcomes_retention, lock_timeout_ms=LOCK_TIMEOUT_MS)
        report.deleted_outcomes = chunked(DELETE_OUTCOMES, expire)
        report.resumed_unmerges = chunked(RESUME_UNMERGES, partial(_resume_unmerges, conn))
        report.deletions = _run_deletions(conn, budget)
    finally:
        if not conn.broken:
            with conn.transaction():
                _q.maintenance.release_maintenance_lock(conn)
    return report


def _stranded_days(conn: Conn) -> list[dt.date]:
    return [row["partition_day"] for row in _q.maintenance.list_default_partition_days(conn)]


def _move_day(conn: Conn, day: dt.date) -> int:
    """Create the day's partition, moving its rows out of events_default."""
    moved: int | None = _q.partitions.create_events_partition(conn, day=day)
    return moved or 0


def _drop_expired(conn: Conn, retention_days: int) -> list[str]:
    rows = _q.maintenance.drop_expired_events_partitions(conn, retention_days=retention_days)
    return [row["partition_name"] for row in rows]


def _budget_arg(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 86400:
        raise InvalidInput(f"{name} must be a number of seconds from 0 to 86400")
    return float(value)


@translate_errors
def run_deletions(conn: Conn, time_budget_s: float = 60.0) -> DeletionReport:
    """Remove the rows of deleted projects (``queries.delete_project``,
    ``delete_organization``) for about ``time_budget_s`` seconds, in
    transactions of at most ``CHUNK_ROWS`` rows from one table each: the
    events and their tags one daily partition at a time, oldest first, then
    the rest, then the project's row, then an organization whose projects
    are all gone. Then, for each project with a retention of its own
    (``queries.set_project_retention``), its events and event_tags rows
    older than that, in chunks the same way, and its issues whose last event
    is older: they are deleted as ``queries.delete_issue`` does. Last, the
    rows of deleted issues: their events, tag store and rollup rows, then the
    issue's row. Each chunk commits on its own
    (``conn`` must not be inside a transaction) and waits at most
    ``LOCK_TIMEOUT_MS`` for a lock, so a run killed at any moment loses
    nothing and the next one goes on from what is left. ``maintain`` runs it
    too; call it more often to free the space sooner (autovacuum makes the
    space of deleted rows reusable; dropped partitions give it back)."""
    budget = _budget_arg(time_budget_s, "time_budget_s")
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise InvalidInput("run_deletions commits each chunk: call it outside a transaction")
    return _run_deletions(conn, budget)


def _run_deletions(conn: Conn, budget: float) -> DeletionReport:
    report = DeletionReport()
    deadline = time.monotonic() + budget
    with conn.transaction():
        pending = [row["id"] for row in _q.maintenance.list_deleted_projects(conn)]
    for project_id in pending:
        delete = partial(_q.maintenance.delete_project_rows, project_id=project_id)
        deleted: dict[str, int] = {}
        if not _chunks(conn, delete, deadline, deleted):
            report.busy = True  # the next project; the next run for this one
        if deleted.get("projects"):  # its row goes last
            report.projects.append(project_id)
        for table, rows in deleted.items():
            report.deleted[table] = report.deleted.get(table, 0) + rows
    report.projects_left = len(pending) - len(report.projects)
    with conn.transaction():
        report.organizations = _q.maintenance.delete_emptied_orgs(conn)
        rows = _q.maintenance.list_projects_with_retention(conn)
        kept = [(row["id"], row["retention_days"]) for row in rows]
    for project_id, days in kept:
        expire = partial(
            _q.maintenance.expire_project_events, project_id=project_id, keep_days=days
        )
        if not _chunks(conn, expire, deadline, report.expired):
            report.busy = True
        report.expired_issues += _expire_issues(conn, project_id, days, deadline, report)
    with conn.transaction():
        rows = _q.maintenance.list_deleted_issues(conn, page_size=1000)
        issues = [(row["project_id"], row["id"]) for row in rows]
    for project_id, issue_id in issues:
        purge = partial(_q.maintenance.delete_issue_rows, project_id=project_id, issue_id=issue_id)
        purged: dict[str, int] = {}
        if not _chunks(conn, purge, deadline, purged):
            report.busy = True
        report.issues += purged.get("issues", 0)  # its row goes last
        for table, rows in purged.items():
            report.deleted[table] = report.deleted.get(table, 0) + rows
    return report


class _LocksBusy(Exception):
    """A deletion chunk's locks stayed busy; the next run goes on."""


def _in_chunk(conn: Conn, work: Callable[[], T]) -> T:
    """One deletion chunk in its own transaction under LOCK_TIMEOUT_MS:
    ``_LocksBusy`` if a lock stayed busy or it lost a deadlock; any other
    database error is a ``DatabaseError`` with its SQLSTATE."""
    try:
        with conn.transaction():
            _q.maintenance.set_lock_timeout(conn, milliseconds=LOCK_TIMEOUT_MS)
            return work()
    except (LockNotAvailable, DeadlockDetected) as exc:
        raise _LocksBusy from exc
    except psycopg.Error as exc:
        raise DatabaseError(_describe(exc), exc.sqlstate) from exc


def _expire_issues(
    conn: Conn, project_id: UUID, days: int, deadline: float, report: DeletionReport
) -> int:
    """Mark deleted, in chunks, the project's issues whose last event is
    older than its retention."""
    expired = 0
    expire = partial(
        _q.maintenance.expire_project_issues,
        conn,
        project_id=project_id,
        keep_days=days,
        chunk_size=CHUNK_ROWS,
    )
    while time.monotonic() < deadline:
        try:
            n: int = _in_chunk(conn, expire)
        except _LocksBusy:
            report.busy = True
            break
        expired += n
        if n < CHUNK_ROWS:
            break
    return expired


def _chunks(
    conn: Conn,
    delete: Callable[..., Any],
    deadline: float,
    counts: dict[str, int],
) -> bool:
    """Run ``delete`` one chunk per transaction until it finds nothing or the
    budget is spent, adding its rows to ``counts``; False if a lock stayed busy.
    Chunks aim at CHUNK_TARGET_S each, with a CHUNK_PAUSE between them."""
    size = CHUNK_ROWS
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            chunk = _in_chunk(conn, partial(delete, conn, chunk_size=size))
        except _LocksBusy:
            return False
        if chunk is None:
            return True
        counts[chunk["table_name"]] = counts.get(chunk["table_name"], 0) + chunk["deleted_rows"]
        took = time.monotonic() - started
        size = _next_chunk(size, took)
        time.sleep(took * CHUNK_PAUSE)
    return True


def _next_chunk(size: int, took: float) -> int:
    """The next chunk's size, after a chunk of ``size`` rows took ``took`` s."""
    if took > CHUNK_TARGET_S:
        return max(1, size // 2)
    if took < CHUNK_TARGET_S / 4:
        return min(CHUNK_ROWS, size * 2)
    return min(CHUNK_ROWS, size)
