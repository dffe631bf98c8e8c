"""Retrying a transaction that lost a deadlock, inside the layer.

PostgreSQL (and Citus' distributed deadlock detector) breaks a cycle of lock
waits by failing one of the transactions in it with 40P01. The victim's
transaction rolled back and the other one went on, so running the victim
again is safe and almost always succeeds: a caller of ``ingest_events`` or
``resolve_issue`` should not see it. ``retry_deadlocks`` does that for the
function it wraps, which must run one whole transaction of its own.

It retries only when the connection was idle (no transaction open) when the
call began: inside a caller's transaction the work ran in a savepoint, and
the caller still holds the locks that made the cycle, so the error is the
caller's to handle (it comes out as ``DatabaseError`` with sqlstate 40P01).
On a connection that is not autocommit, the implicit transaction the call
began is rolled back before the next attempt.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from psycopg.errors import DeadlockDetected
from psycopg.pq import TransactionStatus

__all__ = ["DEADLOCK_ATTEMPTS", "retry_deadlocks"]

#: How many times a transaction that keeps losing deadlocks is run in all.
DEADLOCK_ATTEMPTS = 5

F = TypeVar("F", bound=Callable[..., Any])


def _pause(attempt: int) -> float:
    """A short, jittered pause, so that two victims do not meet again."""
    return float((0.005 + random.random() * 0.02) * 2**attempt)  # noqa: S311 (not crypto)


def _idle(conn: Any) -> bool:
    return bool(conn.info.transaction_status == TransactionStatus.IDLE)


def retry_deadlocks(fn: F) -> F:
    """Run ``fn(conn, ...)`` again, up to ``DEADLOCK_ATTEMPTS`` times in all,
    when it fails with a deadlock and ``conn`` was idle when it began."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(conn: Any, *args: Any, **kwargs: Any) -> Any:
            retry = _idle(conn)
            for attempt in range(DEADLOCK_ATTEMPTS):
                try:
                    return await fn(conn, *args, **kwargs)
                except DeadlockDetected:
                    if not retry or attempt + 1 == DEADLOCK_ATTEMPTS:
                        raise
                if not _idle(conn):  # an implicit transaction this call began
                    await conn.rollback()
                await asyncio.sleep(_pause(attempt))
            raise AssertionError("unreachable")  # pragma: no cover

        return cast(F, async_wrapper)

    @functools.wraps(fn)
    def wrapper(conn: Any, *args: Any, **kwargs: Any) -> Any:
        retry = _idle(conn)
        for attempt in range(DEADLOCK_ATTEMPTS):
            try:
                return fn(conn, *args, **kwargs)
            except DeadlockDetected:
                if not retry or attempt + 1 == DEADLOCK_ATTEMPTS:
                    raise
            if not _idle(conn):  # an implicit transaction this call began
                conn.rollback()
            time.sleep(_pause(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    return cast(F, wrapper)
