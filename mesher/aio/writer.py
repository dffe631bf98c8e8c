"""Group commit: many concurrent Sentry requests, one transaction.

An HTTP handler that calls ``mesher.aio.sentry.ingest_envelope`` spends a
transaction (and its round trips and its commit) on every event. An
:class:`EnvelopeWriter` lets concurrent handlers share one::

    pool = psycopg_pool.AsyncConnectionPool(url, kwargs={"autocommit": True})
    async with EnvelopeWriter(pool, max_events=200, max_wait=0.005) as writer:
        result = await writer.ingest_envelope(project_id, body, "gzip")

Each call reads its body at once, in the caller's task: a body that is not an
envelope raises ``InvalidInput`` to that caller only, and an envelope with
no event to store returns without waiting. The events of the others join
their project's pending batch, which is written when it holds
``max_events`` events, or once ``max_wait`` seconds have passed since its
first envelope came and no earlier batch of the project is still being
written (while one transaction runs, the next one fills: the busier the
database, the bigger the batches), in one transaction through the same write
path as ``ingest_envelope`` (so an SDK's retry is deduplicated the same way,
within a batch too). A call returns its own :class:`~mesher.models.EnvelopeResult`
only after that transaction committed: an acknowledged event is stored.

- **One project per transaction.** A batch holds one project's events, so on
  Citus it stays on one shard. Batches of different projects are written
  concurrently, as many as the connection source gives connections.
- **One envelope's failure is its own.** An envelope's events go in one
  batch (all or none of them, as with ``ingest_envelope``). If a batch fails
  with an error that an envelope's data could cause, its envelopes are
  split in halves and each half is written again, down to the envelope
  that fails, which gets its own ``MesherError``; the others are stored.
  A lost connection fails the batch's callers alike (nothing is retried).
  Retrying beats a savepoint per envelope: savepoints keep one write-path
  call per envelope, and measured 71 events/s against 838 for one call per
  batch of 50 (PostgreSQL 18, fsync on, 2 shared cores).
- **Big bodies.** A body over 256 KiB is read in a thread (gunzip, JSON),
  so that it does not hold up the event loop's other callers.
- **Cancellation.** A caller that stops waiting (say, its client hung up)
  does not take its events out of a batch already formed: they are stored,
  unacknowledged, and the SDK's retry is deduplicated.

- **Admission.** A caller may pass ``admit``, asked with the number of
  events before they join a batch (an ingest server's rate limit, say); a
  refusal raises :class:`RateLimited` and stores nothing.

``connections`` is anything whose ``connection()`` is an async context
manager giving an ``AsyncConnection`` in autocommit mode (or idle):
``psycopg_pool.AsyncConnectionPool`` is one. :meth:`EnvelopeWriter.close`
(or leaving ``async with``) writes what is pending, waits for it, and
refuses new calls; :meth:`EnvelopeWriter.flush` writes what is pending now;
:meth:`EnvelopeWriter.stop_waiting` writes it now and stops waiting for
more from then on (a server that shuts down, with requests still in flight).
The writer is asyncio's, so it has no synchronous twin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar
from uuid import UUID

import psycopg
from psycopg import AsyncConnection

from .._args import uuid_arg
from .._sentry_event import SentryEvent
from ..errors import DatabaseError, InvalidInput, MesherError, translate
from ..models import EnvelopeResult, IngestedEvent, SkippedItem
from ..outcomes import OutcomeCounter
from .ingest import write_sentry_events
from .sentry import read_envelope, read_store

__all__ = ["ConnectionSource", "EnvelopeWriter", "RateLimited"]

Conn = AsyncConnection[Any]
#: Bodies bigger than this are read in a thread, so that one big envelope (or
#: a decompression bomb) does not hold up every other request of the loop.
_THREAD_BYTES = 256 * 1024

T = TypeVar("T")


class RateLimited(MesherError):
    """The caller's ``admit`` refused the events: nothing was stored."""


class ConnectionSource(Protocol):
    """Where the writer gets a connection per batch (a pool, typically)."""

    def connection(self) -> AbstractAsyncContextManager[Conn]: ...


@dataclass(eq=False)
class _Entry:
    """One caller's events, and where its answer goes."""

    events: list[SentryEvent]
    answer: asyncio.Future[list[IngestedEvent]]


@dataclass(eq=False)
class _Batch:
    entries: list[_Entry] = field(default_factory=list)
    size: int = 0
    timer: asyncio.TimerHandle | None = None
    #: max_wait has passed: written as soon as no other batch of its project is.
    due: bool = False


async def _read(read: Callable[[bytes, str | None], T], body: bytes, encoding: str | None) -> T:
    """``read(body, encoding)``; in a thread for a body over 256 KiB (gunzip,
    JSON), so that it does not hold up the event loop's other callers."""
    if isinstance(body, (bytes, bytearray)) and len(body) > _THREAD_BYTES:
        return await asyncio.to_thread(read, body, encoding)
    return read(body, encoding)


def _isolatable(exc: Exception) -> bool:
    """Whether one envelope's data could have caused the error (so retrying
    the others without it can succeed): not a lost connection, a pool
    timeout, or a server out of resources, shutting down or cancelling."""
    return not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


class EnvelopeWriter:
    """Stores Sentry envelopes of concurrent callers in shared transactions
    (see the module docstring). ``max_events`` (1 to 1000) bounds a batch's
    events; an envelope with more is a batch of its own. ``max_wait`` is in
    seconds. With an ``outcomes`` counter (``mesher.outcomes``), the writer
    counts what it accepted (after the commit), filtered and refused, and what
    the envelopes' client reports say."""

    def __init__(
        self,
        connections: ConnectionSource,
        *,
        max_events: int = 200,
        max_wait: float = 0.005,
        outcomes: OutcomeCounter | None = None,
    ) -> None:
        if type(max_events) is not int or not 1 <= max_events <= 1000:
            raise InvalidInput("max_events must be an integer from 1 to 1000")
        if not 0 <= max_wait <= 10:
            raise InvalidInput("max_wait must be from 0 to 10 seconds")
        self._connections = connections
        self._max_events = max_events
        self._max_wait = max_wait
        self._pending: dict[UUID, _Batch] = {}
        self._writing: set[asyncio.Task[None]] = set()
        self._in_flight: dict[UUID, int] = {}  # batches being written, per project
        self._closed = False
        self._outcomes = outcomes

    def __repr__(self) -> str:
        return f"EnvelopeWriter(max_events={self._max_events}, max_wait={self._max_wait})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def pending_events(self) -> int:
        """Events waiting for their batch to start (not those being written)."""
        return sum(batch.size for batch in self._pending.values())

    async def ingest_envelope(
        self,
        project_id: UUID | str,
        body: bytes,
        content_encoding: str | None = None,
        *,
        admit: Callable[[int], bool] | None = None,
    ) -> EnvelopeResult:
        """``mesher.aio.sentry.ingest_envelope``'s result for this envelope,
        once its batch committed. ``admit``, if given, is asked with the
        number of events to store (when there are any) and may refuse them:
        then nothing is stored and :class:`RateLimited` is raised."""
        pid = uuid_arg(project_id, "project_id")
        self._check_open()
        try:
            events, skipped, reports = await _read(read_envelope, body, content_encoding)
        except InvalidInput:
            self._count(pid, "invalid", "payload")
            raise
        if self._outcomes is not None:
            self._outcomes.add_skipped(pid, skipped)
            for report in reports:
                self._outcomes.add_client_report(pid, report)
        if events and admit is not None and not admit(len(events)):
            self._count(pid, "rate_limited", "project_quota", len(events))
            raise RateLimited("the project's rate limit is reached")
        stored = await self._submit(pid, events) if events else []
        return EnvelopeResult(events=stored, skipped=skipped)

    async def ingest_store(
        self,
        project_id: UUID | str,
        body: bytes,
        content_encoding: str | None = None,
        *,
        admit: Callable[[int], bool] | None = None,
    ) -> IngestedEvent | SkippedItem:
        """``mesher.aio.sentry.ingest_store``'s result for this body (the
        legacy ``/store/`` endpoint), once its batch committed; ``admit`` as
        for :meth:`ingest_envelope`."""
        pid = uuid_arg(project_id, "project_id")
        self._check_open()
        try:
            event = await _read(read_store, body, content_encoding)
        except InvalidInput:
            self._count(pid, "invalid", "payload")
            raise
        if isinstance(event, SkippedItem):
            if self._outcomes is not None:
                self._outcomes.add_skipped(pid, [event])
            return event
        if admit is not None and not admit(1):
            self._count(pid, "rate_limited", "project_quota")
            raise RateLimited("the project's rate limit is reached")
        (stored,) = await self._submit(pid, [event])
        return stored

    async def flush(self) -> None:
        """Write every pending batch now, and wait until all are done."""
        for pid in list(self._pending):
            self._start(pid)
        while self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)

    def stop_waiting(self) -> None:
        """Write the pending batches now, and from now on every batch as soon
        as no earlier one of its project is being written (``max_wait`` 0):
        what a server does when it starts to shut down, so that the requests
        in flight are answered at once instead of after ``max_wait``."""
        self._max_wait = 0
        for pid, batch in list(self._pending.items()):
            self._due(pid, batch)

    async def close(self) -> None:
        """Refuse new calls, then :meth:`flush`."""
        self._closed = True
        await self.flush()

    def _count(self, pid: UUID, outcome: str, reason: str = "", quantity: int = 1) -> None:
        """Count error events (when the writer counts outcomes)."""
        if self._outcomes is not None:
            self._outcomes.add(pid, "error", outcome, reason, quantity)

    def _check_open(self) -> None:
        if self._closed:
            raise DatabaseError("the writer is closed")

    async def _submit(self, pid: UUID, events: list[SentryEvent]) -> list[IngestedEvent]:
        self._check_open()
        batch = self._pending.get(pid)
        if batch is not None and batch.size + len(events) > self._max_events:
            self._start(pid)  # this envelope would overfill it
            batch = None
        loop = asyncio.get_running_loop()
        if batch is None:
            batch = self._pending[pid] = _Batch()
            batch.timer = loop.call_later(self._max_wait, self._due, pid, batch)
        entry = _Entry(events, loop.create_future())
        batch.entries.append(entry)
        batch.size += len(events)
        if batch.size >= self._max_events:
            self._start(pid)
        return await entry.answer

    def _due(self, pid: UUID, batch: _Batch) -> None:
        """max_wait has passed: write the batch now, or when the project's
        batch being written is done (more join it meanwhile)."""
        batch.due = True
        if self._pending.get(pid) is batch and not self._in_flight.get(pid):
            self._start(pid)

    def _start(self, pid: UUID) -> None:
        """Take the project's pending batch and write it in a task of its own."""
        batch = self._pending.pop(pid, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        self._in_flight[pid] = self._in_flight.get(pid, 0) + 1
        task = asyncio.get_running_loop().create_task(self._write_batch(pid, batch.entries))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _write_batch(self, pid: UUID, entries: Sequence[_Entry]) -> None:
        try:
            await self._write(pid, entries)
        finally:
            self._in_flight[pid] -= 1
            if not self._in_flight[pid]:
                del self._in_flight[pid]
                waiting = self._pending.get(pid)
                if waiting is not None and waiting.due:
                    self._start(pid)

    async def _write(self, pid: UUID, entries: Sequence[_Entry]) -> None:
        """Write the entries in one transaction; on an error an envelope could
        cause, each half again, down to the envelope at fault."""
        events = [event for entry in entries for event in entry.events]
        try:
            async with self._connections.connection() as conn:
                stored = await write_sentry_events(conn, pid, events)
        except asyncio.CancelledError:
            _fail(entries, DatabaseError("the write was cancelled"))
            raise
        except Exception as exc:
            if len(entries) == 1 or not _isolatable(exc):
                error = translate(exc)
                if isinstance(error, InvalidInput):
                    self._count(pid, "invalid", "database", len(events))
                _fail(entries, error)
                return
            half = len(entries) // 2
            await self._write(pid, entries[:half])
            await self._write(pid, entries[half:])
            return
        seen: set[UUID] = set()
        start = 0
        for entry in entries:
            end = start + len(entry.events)
            results = []
            for result, event in zip(stored[start:end], entry.events, strict=True):
                # A retry in the same batch stored nothing: say so, like a later one.
                again = result.duplicate or event.client_event_id in seen
                seen.add(event.client_event_id)
                results.append(
                    result._replace(client_event_id=event.client_event_id, duplicate=again)
                )
            start = end
            self._count(pid, "accepted", "", sum(not r.duplicate for r in results))
            if not entry.answer.done():  # its caller may have stopped waiting
                entry.answer.set_result(results)


def _fail(entries: Sequence[_Entry], error: MesherError) -> None:
    for entry in entries:
        if not entry.answer.done():
            entry.answer.set_exception(error)
