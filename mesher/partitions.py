# Generated from mesher/aio/partitions.py by tools/gen_sync.py: edit that file.
"""Daily partitions of the ``events`` table.

``events`` is range-partitioned on ``received_at``; each partition
``events_YYYYMMDD`` covers one UTC day. The DDL lives in the SQL function
``create_events_partition`` (``sql/schema/0005_events.sql``), which
serializes concurrent callers with an advisory lock held to the end of the
caller's transaction. Like the query helpers, these never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import Connection

from ._args import count_arg, day_arg
from ._sql import sync_queries
from .errors import translate_errors

_q = sync_queries()

__all__ = ["create_partition", "create_partitions_ahead", "partition_name"]


def partition_name(day: dt.date | str) -> str:
    """``events_YYYYMMDD`` for a day; ``InvalidInput`` for anything else."""
    return f"events_{day_arg(day):%Y%m%d}"


@translate_errors
def create_partition(conn: Connection[Any], day: dt.date | str) -> bool:
    """Create the partition for one UTC day; True if it was created, False if
    it already existed. ``day`` is a ``date`` or a ``'YYYYMMDD'`` string."""
    created: bool = _q.create_events_partition(conn, day=day_arg(day))
    return created


@translate_errors
def create_partitions_ahead(conn: Connection[Any], days: int) -> list[str]:
    """Ensure partitions for today (UTC) through today + days - 1; returns the
    names of those created now."""
    rows = _q.create_events_partitions_ahead(conn, days=count_arg(days, "days"))
    return [row["partition_name"] for row in rows if row["created"]]
