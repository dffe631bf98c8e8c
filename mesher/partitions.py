# Generated from mesher/aio/partitions.py by tools/gen_sync.py: edit that file.
"""Daily partitions of the ``events`` table, and their maintenance.

``events`` is range-partitioned on ``received_at``; each partition
``events_YYYYMMDD`` covers one UTC day, and ``events_default`` catches rows
whose day has no partition yet, so no event is ever refused. The DDL lives
in SQL functions (``sql/schema/0007_ingest_alerts.sql``) that serialize
concurrent callers with an advisory lock.

``create_partition`` and ``create_partitions_ahead`` never commit, like the
query helpers. ``maintain`` commits each of its steps itself.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from psycopg import Connection
from psycopg.errors import LockNotAvailable
from psycopg.pq import TransactionStatus

from ._args import count_arg, day_arg
from ._sql import sync_queries
from .errors import InvalidInput, translate_errors
from .ingest import IDEMPOTENCY_DAYS

_q = sync_queries()
T = TypeVar("T")

__all__ = [
    "LOCK_TIMEOUT_MS",
    "MaintenanceReport",
    "create_partition",
    "create_partitions_ahead",
    "maintain",
    "partition_name",
]


def partition_name(day: dt.date | str) -> str:
    """``events_YYYYMMDD`` for a day; ``InvalidInput`` for anything else."""
    return f"events_{day_arg(day):%Y%m%d}"


@translate_errors
def create_partition(conn: Connection[Any], day: dt.date | str) -> bool:
    """Create the partition for one UTC day; True if it was created, False if
    it already existed. ``day`` is a ``date`` or a ``'YYYYMMDD'`` string.
    Rows of that day waiting in ``events_default`` move into it."""
    moved: int | None = _q.create_events_partition(conn, day=day_arg(day))
    return moved is not None


@translate_errors
def create_partitions_ahead(conn: Connection[Any], days: int) -> list[str]:
    """Ensure partitions for today (UTC) through today + days - 1; returns the
    names of those created now."""
    rows = _q.create_events_partitions_ahead(conn, days=count_arg(days, "days"))
    return [row["partition_name"] for row in rows if row["created"]]


@dataclass
class MaintenanceReport:
    created: list[str] = field(default_factory=list)  # partitions made ahead
    moved: dict[str, int] = field(default_factory=dict)  # partition -> rows from events_default
    dropped: list[str] = field(default_factory=list)  # partitions past the retention
    forgotten: int = 0  # idempotency keys past their window
    skipped: list[str] = field(default_factory=list)  # steps that never got their locks

    def lines(self) -> list[str]:
        """What was done, one line per kind of step, for people and logs."""
        out = [
            f"partitions: created {len(self.created)} ({', '.join(self.created)})"
            if self.created
            else "partitions: the days ahead already exist"
        ]
        if self.moved:
            rows = sum(self.moved.values())
            out.append(f"moved {rows} rows out of events_default into {', '.join(self.moved)}")
        if self.dropped:
            out.append(f"dropped {len(self.dropped)} expired ({', '.join(self.dropped)})")
        if self.forgotten:
            out.append(f"forgot {self.forgotten} expired idempotency keys")
        for step in self.skipped:
            out.append(f"skipped: {step} (locks busy; the next run retries)")
        return out


#: A maintenance step waits at most this long for a lock, so ingestion never
#: queues behind it for longer; a step that times out is retried.
LOCK_TIMEOUT_MS = 1000
ATTEMPTS = 5


def _step(conn: Connection[Any], work: Callable[[], T]) -> T | None:
    """Run one step in its own transaction under LOCK_TIMEOUT_MS, retrying
    when a lock is busy; None if every attempt timed out."""
    for attempt in range(ATTEMPTS):
        try:
            with conn.transaction():
                _q.set_lock_timeout(conn, milliseconds=LOCK_TIMEOUT_MS)
                return work()
        except LockNotAvailable:
            time.sleep(0.1 * 2**attempt)
    return None


@translate_errors
def maintain(
    conn: Connection[Any], days_ahead: int = 7, retention_days: int = 90
) -> MaintenanceReport:
    """Keep the partitions healthy; idempotent, one run at a time.

    1. create the partitions for today (UTC) and ``days_ahead - 1`` days after;
    2. move rows that landed in ``events_default`` into their own daily
       partitions (created for them), one day per transaction;
    3. drop the partitions whose whole day is older than ``retention_days``.
       Issues and their counts are left as they are;
    4. forget idempotency keys older than ``IDEMPOTENCY_DAYS``.

    Each step commits on its own, so ``conn`` must not be inside a transaction.
    No step waits more than ``LOCK_TIMEOUT_MS`` for a lock (ingestion never
    queues behind maintenance for longer); busy steps are retried, then
    reported as skipped.
    """
    ahead = count_arg(days_ahead, "days_ahead")
    retention = count_arg(retention_days, "retention_days", minimum=1, maximum=100_000)
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise InvalidInput("maintain commits each step: call it outside a transaction")
    report = MaintenanceReport()
    _q.acquire_maintenance_lock(conn)
    try:
        created = _step(conn, lambda: create_partitions_ahead(conn, ahead))
        if created is None:
            report.skipped.append("create partitions ahead")
        report.created = created or []
        with conn.transaction():
            stranded = [row["partition_day"] for row in _q.list_default_partition_days(conn)]
        for day in stranded:
            moved = _step(conn, partial(_q.create_events_partition, conn, day=day))
            if moved is None:
                report.skipped.append(f"move events of {day} out of events_default")
            else:
                report.moved[partition_name(day)] = moved
        dropped = _step(
            conn, lambda: _names(_q.drop_expired_events_partitions(conn, retention_days=retention))
        )
        if dropped is None:
            report.skipped.append("drop expired partitions")
        report.dropped = dropped or []
        forgotten = _step(conn, lambda: _q.forget_ingest_batches(conn, keep_days=IDEMPOTENCY_DAYS))
        report.forgotten = forgotten or 0
    finally:
        if not conn.broken:
            _q.release_maintenance_lock(conn)
    return report


def _names(rows: Iterator[dict[str, Any]]) -> list[str]:
    return [row["partition_name"] for row in rows]
