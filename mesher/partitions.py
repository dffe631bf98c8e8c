# Generated from mesher/aio/partitions.py by tools/gen_sync.py: edit that file.
"""Daily partitions of the ``events`` table (sql/queries/partitions.sql).

``events`` is range-partitioned on ``received_at``; each partition
``events_YYYYMMDD`` covers one UTC day, and ``events_default`` catches rows
whose day has no partition yet, so no event is ever refused. ``event_tags``
(what ``filter_events_by_tags`` walks) is partitioned the same way, and
each day's partition of it is created and dropped with the events'. The DDL lives
in the SQL function ``create_events_partition``
(sql/functions/create_events_partition.sql), which serializes concurrent
callers with an advisory lock.

These helpers never commit, like the query helpers. Keeping the partitions
healthy day after day is ``mesher.maintenance.maintain``'s job.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import Connection

from ._args import count_arg, day_arg
from ._sql import sync_queries
from .errors import translate_errors
from .limits import MAX_DAYS_AHEAD

_q = sync_queries()

__all__ = ["create_partition", "create_partitions_ahead", "partition_name"]


def partition_name(day: dt.date | str) -> str:
    """``events_YYYYMMDD`` for a day; ``InvalidInput`` for anything else."""
    return f"events_{day_arg(day):%Y%m%d}"


@translate_errors
def create_partition(conn: Connection[Any], day: dt.date | str) -> bool:
    """Create the partition for one UTC day; True if it was created, False if
    it already existed. ``day`` is a ``date`` or a ``'YYYYMMDD'`` string.
    Rows of that day waiting in ``events_default`` move into it."""
    moved: int | None = _q.partitions.create_events_partition(conn, day=day_arg(day))
    return moved is not None


@translate_errors
def create_partitions_ahead(conn: Connection[Any], days: int) -> list[str]:
    """Ensure partitions for today (UTC) through today + days - 1; returns the
    names of those created now."""
    return _create_ahead(conn, count_arg(days, "days", maximum=MAX_DAYS_AHEAD))


def _create_ahead(conn: Connection[Any], days: int) -> list[str]:
    """create_partitions_ahead without the error translation: maintenance
    needs to see a lock timeout as such, to retry it."""
    rows = _q.partitions.create_events_partitions_ahead(conn, days=days)
    return [row["partition_name"] for row in rows if row["created"]]
