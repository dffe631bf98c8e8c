"""Group commit (``mesher.aio.writer``): concurrent callers, one transaction
per project and batch, each answered after the commit with its own result
or its own error."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from mesher import queries as q
from mesher.aio.writer import EnvelopeWriter
from mesher.errors import DatabaseError, InvalidInput, MesherError
from mesher.models import EnvelopeResult, SkippedItem, SkipReason

pytestmark = pytest.mark.citus  # one project per transaction: one shard on Citus

Conn = psycopg.Connection[Any]
T = TypeVar("T")


def envelope(message: str, event_id: str | None = None, *extra: tuple[str, bytes]) -> bytes:
    """An envelope of one error event (and ``extra`` (type, payload) items)."""
    eid = event_id or uuid.uuid4().hex
    payload = json.dumps({"event_id": eid, "message": message, "level": "error"}).encode()
    lines = [json.dumps({"event_id": eid}).encode()]
    for item_type, body in [("event", payload), *extra]:
        lines += [json.dumps({"type": item_type, "length": len(body)}).encode(), body]
    return b"\n".join(lines) + b"\n"


def event_id_of(body: bytes) -> uuid.UUID:
    return uuid.UUID(json.loads(body.partition(b"\n")[0])["event_id"])


class Counted:
    """A pool that counts the connections the writer took: one per batch."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self.taken = 0

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        self.taken += 1
        async with self.pool.connection() as conn:
            yield conn


def run(app_url: str, body: Callable[[Counted], Awaitable[T]]) -> T:
    async def main() -> T:
        pool = AsyncConnectionPool(
            app_url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=False
        )
        await pool.open()
        try:
            return await body(Counted(pool))
        finally:
            await pool.close()

    return asyncio.run(main())


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Wait until ``condition()`` holds (the loop runs meanwhile): a state to
    reach, not a guess of how long it takes."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.005)


def stored_messages(conn: Conn) -> list[str]:
    rows = conn.execute("SELECT message FROM events ORDER BY message").fetchall()
    conn.commit()
    return [r[0] for r in rows]


def test_concurrent_callers_share_one_transaction(
    app_url: str, conn: Conn, project_id: uuid.UUID
) -> None:
    bodies = [envelope(f"m{i:02}") for i in range(12)]

    async def body(source: Counted) -> list[EnvelopeResult]:
        async with EnvelopeWriter(source, max_events=100, max_wait=0.3) as writer:
            return await asyncio.gather(*(writer.ingest_envelope(project_id, b) for b in bodies))

    results = run(app_url, body)
    assert [r.skipped for r in results] == [[]] * 12
    # Each caller got its own event back, under the id its SDK gave it.
    assert [r.events[0].client_event_id for r in results] == [event_id_of(b) for b in bodies]
    assert len({r.events[0].event_id for r in results}) == 12
    assert stored_messages(conn) == [f"m{i:02}" for i in range(12)]
    stored = q.get_event(conn, project_id, results[5].events[0].event_id)
    assert stored.message == "m05" and stored.issue_id == results[5].events[0].issue_id


def test_one_transaction_per_batch(app_url: str, project_id: uuid.UUID) -> None:
    async def body(source: Counted) -> int:
        async with EnvelopeWriter(source, max_events=100, max_wait=0.3) as writer:
            await asyncio.gather(
                *(writer.ingest_envelope(project_id, envelope("x")) for _ in range(9))
            )
        return source.taken

    assert run(app_url, body) == 1


def test_answer_comes_after_commit(app_url: str, db_url: str, project_id: uuid.UUID) -> None:
    """When a caller gets its result, another connection already sees the event."""

    async def body(source: Counted) -> list[int]:
        seen = []
        async with (
            await psycopg.AsyncConnection.connect(db_url, autocommit=True) as other,
            EnvelopeWriter(source, max_events=50, max_wait=0.1) as writer,
        ):

            async def one(i: int) -> None:
                result = await writer.ingest_envelope(project_id, envelope(f"c{i}"))
                cur = await other.execute(
                    "SELECT count(*) FROM events WHERE id = %s", (result.events[0].event_id,)
                )
                row = await cur.fetchone()
                assert row is not None
                seen.append(row[0])

            await asyncio.gather(*(one(i) for i in range(5)))
        return seen

    assert run(app_url, body) == [1] * 5


def test_a_full_batch_does_not_wait(app_url: str, conn: Conn, project_id: uuid.UUID) -> None:
    async def body(source: Counted) -> tuple[int, int]:
        writer = EnvelopeWriter(source, max_events=4, max_wait=10)
        full = [writer.ingest_envelope(project_id, envelope(f"f{i}")) for i in range(4)]
        await asyncio.wait_for(asyncio.gather(*full), 8)  # not the 10 s of max_wait
        late = asyncio.ensure_future(writer.ingest_envelope(project_id, envelope("late")))
        await until(lambda: writer.pending_events == 1)
        waiting = source.taken
        await writer.close()  # writes what is pending
        assert (await late).events
        return waiting, source.taken

    assert run(app_url, body) == (1, 2)  # late waited, alone, until close wrote it
    assert stored_messages(conn) == ["f0", "f1", "f2", "f3", "late"]


def test_an_envelope_that_would_overfill_a_batch_starts_the_next(
    app_url: str, project_id: uuid.UUID
) -> None:
    two = envelope("a", None, ("event", json.dumps({"message": "b"}).encode()))

    async def body(source: Counted) -> int:
        async with EnvelopeWriter(source, max_events=2, max_wait=0.2) as writer:
            first = writer.ingest_envelope(project_id, envelope("x"))
            results = await asyncio.gather(first, writer.ingest_envelope(project_id, two))
        assert [len(r.events) for r in results] == [1, 2]
        return source.taken

    assert run(app_url, body) == 2


def test_a_bad_envelope_fails_alone(
    app_url: str, conn: Conn, owner_conn: Conn, project_id: uuid.UUID
) -> None:
    """An event the database refuses fails its own caller; the batch's other
    envelopes are written again without it, and stored."""
    owner_conn.execute("ALTER TABLE events ADD CONSTRAINT no_poison CHECK (message <> 'poison')")
    owner_conn.commit()
    messages = ["ok"] * 8
    messages[3] = "poison"

    async def body(source: Counted) -> tuple[list[Any], int]:
        async with EnvelopeWriter(source, max_events=100, max_wait=0.3) as writer:
            calls = [writer.ingest_envelope(project_id, envelope(m)) for m in messages]
            return await asyncio.gather(*calls, return_exceptions=True), source.taken

    results, taken = run(app_url, body)
    assert isinstance(results[3], InvalidInput)
    assert all(isinstance(r, EnvelopeResult) and r.events for i, r in enumerate(results) if i != 3)
    assert stored_messages(conn) == sorted(m for m in messages if m != "poison")
    assert taken == 7  # 8, then 4 + 4, then 2 + 2 of the failing half, then 1 + 1
    (issue,) = {r.events[0].issue_id for i, r in enumerate(results) if i != 3}
    assert q.get_issue(conn, issue).event_count == 7  # counted once each, not per attempt


def test_a_lost_database_fails_every_caller_once(project_id: uuid.UUID) -> None:
    """Nothing an envelope holds can cause it: no retry, every caller gets it."""

    class Unreachable:
        taken = 0

        @asynccontextmanager
        async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
            self.taken += 1
            conn = await psycopg.AsyncConnection.connect(
                "postgresql://nobody@127.0.0.1:1/none", connect_timeout=5
            )
            yield conn  # not reached

    async def main() -> tuple[list[Any], int]:
        source = Unreachable()
        async with EnvelopeWriter(source, max_events=100, max_wait=0.1) as writer:
            calls = [writer.ingest_envelope(project_id, envelope(f"l{i}")) for i in range(6)]
            return await asyncio.gather(*calls, return_exceptions=True), source.taken

    results, taken = asyncio.run(main())
    assert taken == 1
    assert all(isinstance(r, DatabaseError) for r in results)
    assert all("nobody" not in str(r) for r in results)


def test_a_retry_in_the_same_batch_is_stored_once(
    app_url: str, conn: Conn, project_id: uuid.UUID
) -> None:
    body_bytes = envelope("twice")

    async def body(source: Counted) -> list[EnvelopeResult]:
        async with EnvelopeWriter(source, max_events=100, max_wait=0.2) as writer:
            calls = [writer.ingest_envelope(project_id, body_bytes) for _ in range(2)]
            return await asyncio.gather(*calls)

    first, second = run(app_url, body)
    assert (first.events[0].duplicate, second.events[0].duplicate) == (False, True)
    assert first.events[0].event_id == second.events[0].event_id
    assert second.events[0].client_event_id == event_id_of(body_bytes)
    assert stored_messages(conn) == ["twice"]


def test_a_body_that_is_no_envelope_fails_its_caller_only(
    app_url: str, conn: Conn, project_id: uuid.UUID
) -> None:
    async def body(source: Counted) -> list[Any]:
        async with EnvelopeWriter(source, max_events=100, max_wait=0.2) as writer:
            calls = [
                writer.ingest_envelope(project_id, envelope("fine")),
                writer.ingest_envelope(project_id, b"\x1f\x8b not gzip", "gzip"),
                writer.ingest_envelope(project_id, b"{not json\n"),
            ]
            return await asyncio.gather(*calls, return_exceptions=True)

    fine, not_gzip, not_json = run(app_url, body)
    assert isinstance(fine, EnvelopeResult) and fine.events
    assert isinstance(not_gzip, InvalidInput) and isinstance(not_json, InvalidInput)
    assert stored_messages(conn) == ["fine"]


def test_an_envelope_with_nothing_to_store_does_not_wait(
    app_url: str, project_id: uuid.UUID
) -> None:
    session = json.dumps({"sid": uuid.uuid4().hex, "status": "ok"}).encode()
    body_bytes = b'{}\n{"type":"session"}\n' + session + b"\n"
    transaction = json.dumps({"type": "transaction", "spans": []}).encode()
    only_transaction = b'{}\n{"type":"event"}\n' + transaction + b"\n"

    async def body(source: Counted) -> tuple[EnvelopeResult, EnvelopeResult, int]:
        writer = EnvelopeWriter(source, max_events=100, max_wait=10)
        one = await asyncio.wait_for(writer.ingest_envelope(project_id, body_bytes), 8)
        two = await asyncio.wait_for(writer.ingest_envelope(project_id, only_transaction), 8)
        await writer.close()
        return one, two, source.taken

    one, two, taken = run(app_url, body)
    assert one.events == [] and [s.code for s in one.skipped] == [SkipReason.ITEM_TYPE]
    assert two.events == [] and [s.code for s in two.skipped] == [SkipReason.TRANSACTION]
    assert taken == 0


def test_store_bodies_join_the_batch(app_url: str, conn: Conn, project_id: uuid.UUID) -> None:
    eid = uuid.uuid4().hex
    store = json.dumps({"event_id": eid, "message": "legacy", "level": "warning"}).encode()
    transaction = json.dumps({"type": "transaction", "spans": []}).encode()

    async def body(source: Counted) -> list[Any]:
        async with EnvelopeWriter(source, max_events=100, max_wait=0.2) as writer:
            calls = [
                writer.ingest_store(project_id, store),
                writer.ingest_envelope(project_id, envelope("beside it")),
                writer.ingest_store(project_id, transaction),
                writer.ingest_store(project_id, b"[1, 2]"),
            ]
            results = await asyncio.gather(*calls, return_exceptions=True)
        assert source.taken == 1
        return results

    stored, beside, skipped, invalid = run(app_url, body)
    assert not isinstance(stored, (SkippedItem, BaseException))
    assert stored.client_event_id == uuid.UUID(eid)
    assert isinstance(beside, EnvelopeResult) and beside.events
    assert isinstance(skipped, SkippedItem) and skipped.code is SkipReason.TRANSACTION
    assert isinstance(invalid, InvalidInput)
    assert stored_messages(conn) == ["beside it", "legacy"]


def test_each_project_has_its_own_transaction(
    app_url: str, conn: Conn, project_id: uuid.UUID
) -> None:
    other = q.insert_project(conn, q.get_project(conn, project_id).org_id, "Web", "javascript")
    conn.commit()

    async def body(source: Counted) -> int:
        async with EnvelopeWriter(source, max_events=100, max_wait=0.2) as writer:
            calls = [
                writer.ingest_envelope(pid, envelope(f"{name}{i}"))
                for i in range(3)
                for pid, name in ((project_id, "a"), (other, "b"))
            ]
            await asyncio.gather(*calls)
        return source.taken

    assert run(app_url, body) == 2
    rows = conn.execute("SELECT project_id, count(*) FROM events GROUP BY 1 ORDER BY 2").fetchall()
    assert sorted(rows) == sorted([(project_id, 3), (other, 3)])


def test_an_unknown_project_fails_its_callers(app_url: str, project_id: uuid.UUID) -> None:
    async def body(source: Counted) -> list[Any]:
        async with EnvelopeWriter(source, max_events=100, max_wait=0.1) as writer:
            calls = [
                writer.ingest_envelope(project_id, envelope("known")),
                writer.ingest_envelope(uuid.uuid4(), envelope("unknown")),
                writer.ingest_envelope("not a uuid", envelope("unknown")),
            ]
            return await asyncio.gather(*calls, return_exceptions=True)

    known, unknown, malformed = run(app_url, body)
    assert isinstance(known, EnvelopeResult)
    assert isinstance(unknown, MesherError) and isinstance(malformed, InvalidInput)


def test_a_caller_that_stops_waiting_still_has_its_event_stored(
    app_url: str, conn: Conn, project_id: uuid.UUID
) -> None:
    async def body(source: Counted) -> None:
        async with EnvelopeWriter(source, max_events=100, max_wait=10) as writer:
            gone = asyncio.ensure_future(writer.ingest_envelope(project_id, envelope("gone")))
            stays = asyncio.ensure_future(writer.ingest_envelope(project_id, envelope("stays")))
            await until(lambda: writer.pending_events == 2)  # both in the batch
            gone.cancel()
            await writer.flush()
            assert (await stays).events

    run(app_url, body)
    assert stored_messages(conn) == ["gone", "stays"]


def test_a_closed_writer_refuses(app_url: str, project_id: uuid.UUID) -> None:
    async def body(source: Counted) -> None:
        writer = EnvelopeWriter(source)
        await writer.close()
        with pytest.raises(DatabaseError, match="closed"):
            await writer.ingest_envelope(project_id, envelope("late"))

    run(app_url, body)


@pytest.mark.parametrize(
    "options", [{"max_events": 0}, {"max_events": 1001}, {"max_events": 2.0}, {"max_wait": -1}]
)
def test_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        EnvelopeWriter(None, **options)  # type: ignore[arg-type]


def test_the_next_batch_fills_while_one_is_written(app_url: str, project_id: uuid.UUID) -> None:
    """While a project's batch is being written, the envelopes that come join
    the next batch, written in one transaction as soon as the first is done,
    even after max_wait."""

    class Slow(Counted):
        @asynccontextmanager
        async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
            self.taken += 1
            if self.taken == 1:
                await asyncio.sleep(0.5)  # the first batch takes long
            async with self.pool.connection() as conn:
                yield conn

    async def body(source: Counted) -> tuple[int, list[int]]:
        slow = Slow(source.pool)
        async with EnvelopeWriter(slow, max_events=100, max_wait=0.01) as writer:
            first = asyncio.ensure_future(writer.ingest_envelope(project_id, envelope("a")))
            await asyncio.sleep(0.1)  # the first batch is being written
            later = [writer.ingest_envelope(project_id, envelope(f"b{i}")) for i in range(5)]
            gathered = asyncio.gather(*later)
            await asyncio.sleep(0.1)  # past max_wait: still waiting for the first
            waiting = writer.pending_events
            results = await gathered
            await first
        assert len({r.events[0].event_id for r in results}) == 5
        return slow.taken, [waiting]

    assert run(app_url, body) == (2, [5])


def test_big_bodies_are_read_too(app_url: str, conn: Conn, project_id: uuid.UUID) -> None:
    """Over 256 KiB, a body is read in a thread: the same results."""
    attachment = b"x" * 300_000
    big = envelope("with a big attachment", None, ("attachment", attachment))
    store = json.dumps({"message": "big store", "extra": {"blob": "y" * 300_000}}).encode()

    async def body(source: Counted) -> tuple[EnvelopeResult, Any, Any]:
        async with EnvelopeWriter(source, max_events=100, max_wait=0.05) as writer:
            calls = [
                writer.ingest_envelope(project_id, big),
                writer.ingest_store(project_id, store),
                writer.ingest_envelope(project_id, b"{}\n" + b"{" * 300_000),
            ]
            one, two, three = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(one, EnvelopeResult)
        return one, two, three

    result, stored, refused = run(app_url, body)
    assert len(result.events) == 1 and [s.item_type for s in result.skipped] == ["attachment"]
    assert not isinstance(stored, (SkippedItem, BaseException)) and stored.event_id
    assert isinstance(refused, InvalidInput)
    assert stored_messages(conn) == ["big store", "with a big attachment"]


def test_the_writer_reads_envelopes_as_ingest_envelope_does(
    app_url: str, conn: Conn, project_id: uuid.UUID
) -> None:
    """The writer's reading of an envelope is a copy of ingest_envelope's:
    the same events stored and items skipped, with the same codes."""
    from mesher.aio.sentry import ingest_envelope

    other = q.insert_project(conn, q.get_project(conn, project_id).org_id, "Twin", "python")
    conn.commit()
    transaction = json.dumps({"type": "transaction", "spans": []}).encode()
    bodies = [
        envelope("plain"),
        envelope("mixed", None, ("session", b"{}"), ("attachment", b"abc"), ("event", b"[1]")),
        envelope("transaction inside", None, ("event", transaction), ("client_report", b"{}")),
        envelope("not json", None, ("event", b"{oops")),
    ]

    def shape(result: EnvelopeResult) -> tuple[int, list[tuple[str, SkipReason]]]:
        return len(result.events), [(s.item_type, s.code) for s in result.skipped]

    async def body(source: Counted) -> None:
        async with EnvelopeWriter(source, max_events=100, max_wait=0.05) as writer:
            written = await asyncio.gather(*(writer.ingest_envelope(project_id, b) for b in bodies))
        async with source.pool.connection() as aconn:
            direct = [await ingest_envelope(aconn, other, b) for b in bodies]
        assert [shape(r) for r in written] == [shape(r) for r in direct]
        assert [shape(r) for r in written][1] == (
            1,
            [
                ("session", SkipReason.ITEM_TYPE),
                ("attachment", SkipReason.ITEM_TYPE),
                ("event", SkipReason.INVALID),
            ],
        )

    run(app_url, body)


def test_stop_waiting_writes_what_is_pending_and_what_comes(
    app_url: str, conn: Conn, project_id: uuid.UUID
) -> None:
    """As a server does when it shuts down: the pending batch is written at
    once, and so is each one after it, not after max_wait (10 s)."""

    async def body(source: Counted) -> int:
        writer = EnvelopeWriter(source, max_events=100, max_wait=10)
        pending = asyncio.ensure_future(writer.ingest_envelope(project_id, envelope("pending")))
        await until(lambda: writer.pending_events == 1)
        writer.stop_waiting()
        assert (await asyncio.wait_for(pending, 5)).events
        later = writer.ingest_envelope(project_id, envelope("later"))
        assert (await asyncio.wait_for(later, 5)).events
        await writer.close()
        return source.taken

    assert run(app_url, body) == 2
    assert stored_messages(conn) == ["later", "pending"]
