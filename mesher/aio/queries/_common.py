"""What every query module shares: the loaded SQL, the connection type, and
the choice between a query and its project-scoped variant."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any, Literal, TypeVar
from uuid import UUID

from psycopg import AsyncConnection

from ..._args import _preview, aware_datetime_arg, count_arg, uuid_arg
from ..._sql import RowMaker, async_queries, row_maker, rows_cursor
from ...errors import InvalidInput
from ...limits import MAX_BUCKETS

#: The named queries of sql/queries/*.sql, as aiosql callables.
q = async_queries()
Conn = AsyncConnection[Any]
T = TypeVar("T")


async def fetch_all(conn: Conn, query: Any, rows: RowMaker[T], params: dict[str, Any]) -> list[T]:
    """Runs ``query`` (one of ``q``'s, its SQL as aiosql loaded it) with
    ``params``: its rows, each made by ``rows`` (see mesher._sql.row_maker).
    The hot reads take this path rather than the aiosql call, which hands
    the rows over one dict at a time."""
    async with rows_cursor(conn, query) as cur:
        await cur.execute(query.sql, params)
        return list(map(row_maker(query, rows, cur), await cur.fetchall()))


async def fetch_one(conn: Conn, query: Any, rows: RowMaker[T], params: dict[str, Any]) -> T | None:
    """``fetch_all``'s first row, or None."""
    async with rows_cursor(conn, query) as cur:
        await cur.execute(query.sql, params)
        row = await cur.fetchone()
        return None if row is None else row_maker(query, rows, cur)(row)


def lock_timeout_arg(value: Any) -> int | None:
    """A helper's ``lock_timeout_ms``: None (no bound) or 1 to 60,000 ms."""
    if value is None:
        return None
    return count_arg(value, "lock_timeout_ms", minimum=1, maximum=60_000)


async def bound_lock_waits(conn: Conn, lock_timeout_ms: int | None) -> None:
    """With ``lock_timeout_ms``, the current transaction waits at most that
    long for a lock (on the Citus workers too; then ``LockNotAvailable``):
    what a helper that commits per chunk does for ``maintain``."""
    if lock_timeout_ms is not None:
        await q.maintenance.set_lock_timeout(conn, milliseconds=lock_timeout_ms)


def in_project(unscoped: Any, scoped: Any, project_id: UUID | str | None) -> Any:
    """The query a helper runs for its ``project_id=``: without one,
    ``unscoped`` (the lookup by id alone, across projects); with one, its
    ``<name>_in_project`` variant ``scoped`` with the (validated) project_id
    bound, whose ``WHERE project_id = :project_id AND ...`` routes to one shard
    on Citus and finds nothing for a row of another project."""
    if project_id is None:
        return unscoped
    return partial(scoped, project_id=uuid_arg(project_id, "project_id"))


def in_project_params(
    unscoped: Any, scoped: Any, project_id: UUID | str | None, params: dict[str, Any]
) -> Any:
    """``in_project`` for ``fetch_all`` and ``fetch_one``, which run a query's
    SQL with a dict of parameters: the query, and with a ``project_id`` the
    scoped one, the (validated) project_id added to ``params``."""
    if project_id is None:
        return unscoped
    params["project_id"] = uuid_arg(project_id, "project_id")
    return scoped


# --- time series (event_volume, issue_sparklines) -------------------------------------

Bucket = Literal["hour", "day"]
#: The buckets of the time series: UTC hours and days, sums of the hourly rollups.
BUCKETS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


def bucket_arg(value: Any) -> str:
    if not isinstance(value, str) or value not in BUCKETS:
        raise InvalidInput(f"bucket must be 'hour' or 'day', got {_preview(value)}")
    return value


def series_start(bucket: str, since: Any, default_buckets: int | None = None) -> dt.datetime:
    """A series' ``since``: aware (or, if ``default_buckets`` is given and
    ``since`` is None, that many buckets back), and at most ``MAX_BUCKETS``
    buckets back."""
    if since is None and default_buckets is not None:
        return dt.datetime.now(dt.UTC) - default_buckets * BUCKETS[bucket]
    start = aware_datetime_arg(since, "since")
    if series_length(bucket, start) > MAX_BUCKETS:
        raise InvalidInput(f"since is too far back: at most {MAX_BUCKETS} buckets")
    return start


def series_length(bucket: str, start: dt.datetime) -> int:
    """How many buckets a series from ``start`` to now has, at most."""
    span = dt.datetime.now(dt.UTC) - start
    return max(0, int(span / BUCKETS[bucket]) + 2)
