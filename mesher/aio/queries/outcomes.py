"""What happened to what SDKs sent (sql/queries/outcomes.sql)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from uuid import UUID

from psycopg.pq import TransactionStatus

from ..._args import aware_datetime_arg, count_arg, uuid_arg
from ..._sql import BinaryArray
from ...errors import InvalidInput, translate_errors
from ...limits import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, OUTCOMES_RETENTION_DAYS
from ...models import Outcome
from ._common import Conn, bound_lock_waits, lock_timeout_arg, q

__all__ = ["expire_outcomes", "project_outcomes", "record_outcomes"]

#: An outcome's key: (UTC hour's start, category, outcome, reason).
OutcomeKey = tuple[dt.datetime, str, str, str]


@translate_errors
async def record_outcomes(
    conn: Conn, project_id: UUID | str, counts: Mapping[OutcomeKey, int]
) -> None:
    """Add ``counts`` to a project's outcomes in one statement: keys are
    (start of a UTC hour, category, outcome, reason), values how many.
    ``InvalidInput`` for an unknown outcome or an over-long category or
    reason; ``NotFound`` for an unknown project."""
    pid = uuid_arg(project_id, "project_id")
    if not isinstance(counts, Mapping):
        raise InvalidInput("counts must be a mapping of (hour, category, outcome, reason) to int")
    keys = sorted(counts)
    for hour, *_ in keys:
        aware_datetime_arg(hour, "an outcome's hour")
    if not keys:
        return
    await q.outcomes.record_outcomes(
        conn,
        project_id=pid,
        hour_starts=BinaryArray(k[0] for k in keys),
        categories=BinaryArray(k[1] for k in keys),
        outcomes=BinaryArray(k[2] for k in keys),
        reasons=BinaryArray(k[3] for k in keys),
        quantities=BinaryArray(counts[k] for k in keys),
    )


@translate_errors
async def project_outcomes(conn: Conn, project_id: UUID | str, since: dt.datetime) -> list[Outcome]:
    """A project's outcomes from the UTC hour that holds ``since`` on, oldest
    hour first, then by category, outcome and reason."""
    pid = uuid_arg(project_id, "project_id")
    rows = q.outcomes.project_outcomes(
        conn, project_id=pid, since=aware_datetime_arg(since, "since")
    )
    return [Outcome.model_validate(row) async for row in rows]


@translate_errors
async def expire_outcomes(
    conn: Conn,
    keep_days: int = OUTCOMES_RETENTION_DAYS,
    *,
    now: dt.datetime | None = None,
    chunk_rows: int = 5000,
    lock_timeout_ms: int | None = None,
) -> int:
    """Delete the outcomes of the hours that ended more than ``keep_days``
    days before ``now`` (default: the current time), project by project, at
    most ``chunk_rows`` rows per transaction, each committed on its own
    (``conn`` must not be inside a transaction); returns how many rows.
    With ``lock_timeout_ms``, a transaction waits at most that long for a
    lock (then ``DatabaseError``, sqlstate 55P03; the next call goes on).
    ``maintain`` runs it with its ``outcomes_retention_days``."""
    days = count_arg(keep_days, "keep_days", minimum=MIN_RETENTION_DAYS, maximum=MAX_RETENTION_DAYS)
    chunk = count_arg(chunk_rows, "chunk_rows", minimum=1, maximum=100_000)
    wait = lock_timeout_arg(lock_timeout_ms)
    when = dt.datetime.now(dt.UTC) if now is None else aware_datetime_arg(now, "now")
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise InvalidInput("expire_outcomes commits each chunk: call it outside a transaction")
    not_after = when - dt.timedelta(days=days, hours=1)
    async with conn.transaction():
        rows = q.outcomes.list_projects_with_expired_outcomes(conn, not_after=not_after)
        projects = [row["project_id"] async for row in rows]
    deleted = 0
    for project_id in projects:
        while True:
            async with conn.transaction():
                await bound_lock_waits(conn, wait)
                n: int = await q.outcomes.expire_outcomes(
                    conn, project_id=project_id, not_after=not_after, chunk_size=chunk
                )
            deleted += n
            if n < chunk:
                break
    return deleted
