"""Scenario 16: the issue lifecycle at 1,000,000 events.

One project holds the events, loaded in SQL (small events: the lifecycle
does not read their bodies): two big issues A and B, an issue C with two
fingerprints (one of them holding ``unmerge_events`` events, the one the
unmerge moves), and many small issues; one event in ten carries a user. The
tag store, the hourly counts, the users and the fingerprints are filled from
the events as the write path would have kept them.

- 16a: ``merge_issues`` of B into A (all but the small issues' events), in
  a transaction rolled back after each round; each round also asserts that
  no event row was written (the transaction's own counters of the events
  partitions). Baseline: the same statements (the fingerprint and issue
  locks, the merge) run by hand through psycopg.
- 16b, 16c: ``unmerge_issue`` of C's big fingerprint: the whole call, and
  its longest transaction (the longest time any lock is held). Baseline: the
  same statements by hand in one transaction (one chunk of every event).
  Each round merges the new issue back into C (untimed).
- 16d: the first page of the issue list, which carries ``user_count`` (a
  column of issues, kept by the write path), against the same statement by
  hand without that column; both by hand, so that the ratio is the column's
  cost alone. 16e: the layer's ``list_issues`` against the same baseline, for
  scale (no goal).
- 16f: the write path with users counted: ``ingest_events`` of events of
  which one in ten carries a user, against the same events without users
  (the same call: what counting users costs it).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg

from mesher import queries as q
from mesher._sql import sync_queries
from mesher.ingest import _lock_keys, ingest_events
from mesher.queries import fingerprints as fingerprints_module

from .data import payloads
from .figures import MS, SECONDS, CheckFailed, Result, below, ratio_at_least
from .ingest_scenarios import alternate as alternate_rounds
from .ingest_scenarios import compare
from .scenarios import SPAN_HOURS, Context, _project, alternate, timed

Conn = psycopg.Connection[Any]
SQL = sync_queries()

#: The unmerged fingerprint: the issue asks for 100,000 events.
UNMERGE_FP = "fp-unmerge"


def _layout(events: int) -> dict[str, int]:
    """How the events are spread: the unmerged fingerprint, C's own one,
    small issues of ten events, and A and B halving the rest (A the even
    events, B the odd ones: one in ten of either carries a user)."""
    unmerge = events // 10
    small_issues = max(10, events // 100 - 100)
    return {
        "unmerge": unmerge,
        "c_own": max(10, events // 1000),
        "small_issues": small_issues,
        "small": small_issues * 10,
    }


LOAD_FINGERPRINTS = """
INSERT INTO issues (project_id, fingerprint, title, level, status, event_count, first_seen,
                    last_seen)
SELECT %(p)s, 'fp-' || g, 'Error ' || g, 'error', 'unresolved', 0, now(), now()
FROM generate_series(1, %(issues)s) AS g;
INSERT INTO issue_fingerprints (project_id, fingerprint, issue_id, title, level, event_count,
                                first_seen, last_seen)
SELECT project_id, fingerprint, id, title, level, 0, now(), now()
FROM issues WHERE project_id = %(p)s;
INSERT INTO issue_fingerprints (project_id, fingerprint, issue_id, title, level, event_count,
                                first_seen, last_seen)
SELECT project_id, %(unmerge_fp)s, id, 'Split ' || title, level, 0, now(), now()
FROM issues WHERE project_id = %(p)s AND fingerprint = 'fp-3'"""

LOAD_EVENTS = f"""
INSERT INTO events (id, project_id, issue_id, level, message, fingerprint, exception, stacktrace,
                    breadcrumbs, tags, extra, user_context, sdk_name, sdk_version, received_at)
SELECT uuidv7(-a.age), %(p)s, f.issue_id, 'error', 'request ' || e.g || ' failed', f.fingerprint,
       NULL, '[]', '[]',
       jsonb_build_object('browser', (ARRAY['firefox', 'chrome', 'safari'])[1 + mod(e.g, 3)],
                          'route', '/api/' || mod(e.g, 40), 'server', 'web-' || mod(e.g, 7)),
       '{{}}',
       CASE WHEN mod(e.g, 20) IN (0, 11)
            THEN jsonb_build_object('id', 'user-' || mod(e.g::bigint * 7919, 50000))
            ELSE '{{}}' END,
       'mesher-python', '1.4.2', now() - a.age
FROM (
    SELECT g, CASE
        WHEN g <= %(unmerge)s::int THEN %(unmerge_fp)s
        WHEN g <= %(unmerge)s::int + %(c_own)s::int THEN 'fp-3'
        WHEN g <= %(unmerge)s::int + %(c_own)s::int + %(small)s::int
            THEN 'fp-' || (4 + mod(g, %(small_issues)s::int))
        WHEN mod(g, 2) = 0 THEN 'fp-1' ELSE 'fp-2' END AS fingerprint
    FROM generate_series(%(lo)s::int, %(hi)s::int) AS g
) AS e
CROSS JOIN LATERAL (
    SELECT (e.g::float8 / %(n)s * {SPAN_HOURS}) * interval '1 hour' AS age
) AS a
JOIN issue_fingerprints AS f ON f.project_id = %(p)s AND f.fingerprint = e.fingerprint"""

#: The rollups of those events, as the write path keeps them.
FILL_ROLLUPS = """
UPDATE issue_fingerprints AS f SET event_count = s.n, first_seen = s.lo, last_seen = s.hi
FROM (SELECT fingerprint, count(*) AS n, min(received_at) AS lo, max(received_at) AS hi
      FROM events WHERE project_id = %(p)s GROUP BY fingerprint) AS s
WHERE f.project_id = %(p)s AND f.fingerprint = s.fingerprint;
UPDATE issues AS i SET event_count = s.n, first_seen = s.lo, last_seen = s.hi
FROM (SELECT issue_id, count(*) AS n, min(received_at) AS lo, max(received_at) AS hi
      FROM events WHERE project_id = %(p)s GROUP BY issue_id) AS s
WHERE i.project_id = %(p)s AND i.id = s.issue_id;
INSERT INTO issue_tag_values (project_id, issue_id, tag_key, tag_value, times_seen, first_seen,
                              last_seen)
SELECT e.project_id, e.issue_id, t.key, t.value, count(*), min(e.received_at),
       max(e.received_at)
FROM events AS e CROSS JOIN LATERAL jsonb_each_text(e.tags) AS t
WHERE e.project_id = %(p)s GROUP BY e.project_id, e.issue_id, t.key, t.value;
INSERT INTO project_tag_values (project_id, tag_key, tag_value, times_seen, first_seen,
                                last_seen)
SELECT project_id, tag_key, tag_value, sum(times_seen), min(first_seen), max(last_seen)
FROM issue_tag_values WHERE project_id = %(p)s GROUP BY project_id, tag_key, tag_value;
INSERT INTO project_tag_keys (project_id, tag_key, tracked_values)
SELECT project_id, tag_key, count(*) FROM project_tag_values WHERE project_id = %(p)s
GROUP BY project_id, tag_key;
INSERT INTO issue_hourly_counts (project_id, issue_id, hour_start, event_count)
SELECT project_id, issue_id, date_trunc('hour', received_at, 'UTC'), count(*)
FROM events WHERE project_id = %(p)s
GROUP BY project_id, issue_id, date_trunc('hour', received_at, 'UTC');
INSERT INTO issue_users (project_id, issue_id, user_key, times_seen)
SELECT project_id, issue_id, 'id:' || (user_context ->> 'id'), count(*)
FROM events WHERE project_id = %(p)s AND user_context ? 'id'
GROUP BY project_id, issue_id, 'id:' || (user_context ->> 'id');
UPDATE issues AS i SET user_count = s.n
FROM (SELECT issue_id, count(*) AS n FROM issue_users WHERE project_id = %(p)s
      GROUP BY issue_id) AS s
WHERE i.project_id = %(p)s AND i.id = s.issue_id;
INSERT INTO project_issue_counts (project_id, status, issue_count)
SELECT project_id, status, count(*) FROM issues WHERE project_id = %(p)s
GROUP BY project_id, status
ON CONFLICT (project_id, status) DO UPDATE SET issue_count = excluded.issue_count"""


def _load(ctx: Context, events: int) -> tuple[str, UUID, dict[str, UUID]]:
    layout = _layout(events)
    print(f"   (loading {events:,} events for the lifecycle scenario)", flush=True)
    started = time.perf_counter()
    url = ctx.fresh_db()
    project = _project(url, "lifecycle")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT create_events_partition(((now() AT TIME ZONE 'UTC')::date - d))"
            " FROM generate_series(0, 7) AS d"
        )
        for statement in LOAD_FINGERPRINTS.split(";"):
            conn.execute(
                statement,
                {"p": project, "issues": 3 + layout["small_issues"], "unmerge_fp": UNMERGE_FP},
            )
        step = 100_000
        for lo in range(1, events + 1, step):
            conn.execute(
                LOAD_EVENTS,
                {"p": project, "unmerge_fp": UNMERGE_FP, "lo": lo,
                 "hi": min(lo + step - 1, events), "n": events, **layout},
            )  # fmt: skip
        for statement in FILL_ROLLUPS.split(";"):
            conn.execute(statement, {"p": project})
        conn.execute("VACUUM ANALYZE")
        ids = {
            name: row[0]
            for name, fp in (("a", "fp-1"), ("b", "fp-2"), ("c", "fp-3"))
            for row in conn.execute(
                "SELECT id FROM issues WHERE project_id = %s AND fingerprint = %s", (project, fp)
            )
        }
        held = conn.execute(
            "SELECT count(*) FROM events WHERE project_id = %s AND fingerprint = %s",
            (project, UNMERGE_FP),
        ).fetchone()
    if held is None or held[0] != layout["unmerge"]:
        raise CheckFailed(f"lifecycle: the unmerged fingerprint holds {held}")
    ctx.load_seconds[f"{events:,} events (lifecycle)"] = time.perf_counter() - started
    return url, project, ids


def lifecycle(ctx: Context) -> Iterator[Result]:
    """16. Issue lifecycle: merge, unmerge, the list with user_count, ingest with users"""
    s = ctx.sizes
    events = s.scales[1]
    url, project, ids = _load(ctx, events)
    layout = _layout(events)
    with psycopg.connect(url) as conn:
        yield from _merge(s.rounds, conn, project, ids, events)
        yield from _unmerge(s.rounds, conn, project, ids["c"], layout["unmerge"])
        yield from _list(ctx, conn, project, events)
    yield from _write_with_users(ctx)


# --- 16a: merge ---------------------------------------------------------------------

#: Rows the events partitions got in the current transaction.
EVENT_WRITES = """SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)
FROM pg_stat_xact_user_tables WHERE relname LIKE 'events%'"""


def _merge(
    rounds: int, conn: Conn, project: UUID, ids: dict[str, UUID], events: int
) -> Iterator[Result]:
    a, b = ids["a"], ids["b"]
    before = q.get_issue(conn, a).event_count + q.get_issue(conn, b).event_count
    conn.rollback()
    sources = {"project_id": project, "issue_ids": [b]}
    fps = [r[0] for r in conn.execute(SQL.fingerprints_of_issues.sql, sources)]
    conn.rollback()

    def check(event_count: int) -> None:
        if event_count != before:
            raise CheckFailed(f"merge: {event_count:,} events, expected {before:,}")
        row = conn.execute(EVENT_WRITES).fetchone()
        if row is None or row[0] != 0:
            raise CheckFailed(f"merge rewrote {row} event rows")

    def mesher() -> float:
        conn.execute("SELECT")  # a transaction of ours: merge_issues takes a savepoint in it
        started = time.perf_counter()
        merged = q.merge_issues(conn, project, a, [b])
        took = time.perf_counter() - started
        check(merged.event_count)
        conn.rollback()
        return took

    def by_hand() -> float:
        args = {"project_id": project, "target_id": a, "source_ids": [b]}
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(SQL.lock_fingerprints.sql, {"keys": _lock_keys(project, fps)})
            cur.execute(
                SQL.fingerprints.lock_issues_for_change.sql,
                {"project_id": project, "issue_ids": sorted([a, b])},
            )
            cur.execute(SQL.fingerprints_of_issues.sql, {"project_id": project, "issue_ids": [b]})
            cur.execute(SQL.fingerprints.merge_issues.sql, args)
            row = cur.fetchone()
            took = time.perf_counter() - started
            names = [c.name for c in cur.description or []]
        if row is None:
            raise CheckFailed("merge by hand: no target")
        check(row[names.index("event_count")])
        conn.rollback()
        return took

    m, base = alternate(rounds, mesher, by_hand)
    yield Result(
        "16a", SECONDS, m, base, below(2, SECONDS),
        name=f"16a. merge_issues, two issues holding {before:,} of {events:,} events"
        " (rolled back; asserts no event row written)",
    )  # fmt: skip


# --- 16b, 16c: unmerge ----------------------------------------------------------------


def _unmerge(rounds: int, conn: Conn, project: UUID, c: UUID, moved: int) -> Iterator[Result]:
    chunks: list[float] = []
    real_chunk = fingerprints_module._chunk

    def timed_chunk(*args: Any, **kwargs: Any) -> bool:
        started = time.perf_counter()
        try:
            return bool(real_chunk(*args, **kwargs))
        finally:
            chunks.append(time.perf_counter() - started)

    def check(new_id: UUID) -> None:
        row = conn.execute("SELECT event_count FROM issues WHERE id = %s", [new_id]).fetchone()
        if row is None or row[0] != moved:
            raise CheckFailed(f"unmerge: the new issue has {row} events, expected {moved:,}")
        conn.rollback()

    def merge_back(new_id: UUID) -> None:
        q.merge_issues(conn, project, c, [new_id])
        conn.commit()

    longest: dict[str, list[float]] = {"m": [], "b": []}

    def mesher() -> float:
        chunks.clear()
        setattr(fingerprints_module, "_chunk", timed_chunk)  # noqa: B010
        try:
            started = time.perf_counter()
            new = q.unmerge_issue(conn, project, c, [UNMERGE_FP])
            took = time.perf_counter() - started
        finally:
            setattr(fingerprints_module, "_chunk", real_chunk)  # noqa: B010
        conn.rollback()
        longest["m"].append(max(chunks))
        check(new.id)
        merge_back(new.id)
        return took

    def by_hand() -> float:
        started = time.perf_counter()
        new_id = _unmerge_by_hand(conn, project, c, moved)
        conn.commit()
        took = time.perf_counter() - started
        longest["b"].append(took)
        check(new_id)
        merge_back(new_id)
        return took

    m, base = alternate(rounds, mesher, by_hand)
    yield Result(
        "16b", SECONDS, m, base,
        name=f"16b. unmerge_issue, a fingerprint of {moved:,} events: the whole call"
        " (baseline: the same statements in one transaction)",
    )  # fmt: skip
    yield Result(
        "16c", MS, [x * 1000 for x in longest["m"]], [x * 1000 for x in longest["b"]],
        below(1000, MS),
        name="16c. the same, its longest chunk's transaction (the longest any lock is held"
        " while events move; baseline: its one transaction)",
    )  # fmt: skip


def _unmerge_by_hand(conn: Conn, project: UUID, c: UUID, moved: int) -> UUID:
    """unmerge_issue's statements in one transaction, its one chunk moving
    every event."""
    fps = [UNMERGE_FP]
    p = {"project_id": project}
    with conn.cursor() as cur:
        cur.execute(SQL.lock_fingerprints.sql, {"keys": _lock_keys(project, fps)})
        cur.execute(SQL.fingerprints.lock_issues_for_change.sql, p | {"issue_ids": [c]})
        cur.execute(SQL.fingerprints.unmerge_issue.sql, p | {"issue_id": c, "fingerprints": fps})
        new_id: UUID = cur.fetchone()[0]  # type: ignore[index]
        cur.execute(SQL.fingerprints.lock_unmerge.sql, p | {"new_issue_id": new_id})
        _, from_ids, _ = cur.fetchone()  # type: ignore[misc]
        both = sorted([c, new_id])
        cur.execute(SQL.fingerprints.lock_issues_for_change.sql, p | {"issue_ids": both})
        which = p | {"from_issue_ids": from_ids, "fingerprints": fps}
        cur.execute(SQL.fingerprints.unmerged_event_span.sql, which)
        oldest, newest = cur.fetchone()  # type: ignore[misc]
        span = {"not_before": oldest, "not_after": newest + dt.timedelta(seconds=1)}
        cur.execute(SQL.fingerprints.unmerged_event_ids.sql, which | span)
        events = cur.fetchall()
        if len(events) != moved:
            raise CheckFailed(f"unmerge by hand: {len(events):,} events to move")
        cur.execute(
            SQL.fingerprints.move_unmerged_events.sql,
            p | {"from_issue_ids": from_ids, "fingerprints": fps, "new_issue_id": new_id,
                 "event_ids": [e[0] for e in events], "received_ats": [e[1] for e in events],
                 "not_before": events[0][1], "not_after": events[-1][1],
                 "old_rollup_id": c, "new_rollup_id": new_id},
        )  # fmt: skip
        ids = {"old_issue_id": c, "new_issue_id": new_id}
        cur.execute(SQL.fingerprints.tidy_unmerge.sql, p | ids)
        cur.execute(SQL.fingerprints.recount_issue_users.sql, p | {"issue_ids": both})
        cur.execute(SQL.fingerprints.settle_unmerge.sql, p | {"issue_id": c})
        cur.execute(SQL.fingerprints.forget_unmerge.sql, p | {"new_issue_id": new_id})
    conn.commit()
    return new_id


# --- 16d, 16e: the issue list with user_count -------------------------------------------


def _without_user_count(conn: Conn) -> str:
    """list_issues' statement, its columns named but for user_count."""
    columns = [
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'issues'::regclass"
            " AND attnum > 0 AND NOT attisdropped AND attname <> 'user_count' ORDER BY attnum"
        )
    ]
    conn.rollback()
    return SQL.list_issues.sql.replace("SELECT *", "SELECT " + ", ".join(columns), 1)


def _list(ctx: Context, conn: Conn, project: UUID, events: int) -> Iterator[Result]:
    s = ctx.sizes
    args = {"project_id": project, "status": None, "level": None, "page_size": 50}
    with_users, without = SQL.list_issues.sql, _without_user_count(conn)
    conn.autocommit = True
    try:
        mine = [i.id for i in q.list_issues(conn, project, limit=50).items]
        theirs = [r[0] for r in conn.execute(without, args, prepare=True)]
        if mine != theirs or not mine:
            raise CheckFailed("list_issues: the two sides listed different issues")
        users = conn.execute(
            "SELECT count(*) FROM issues WHERE project_id = %s AND user_count > 0", [project]
        ).fetchone()
        if users is None or users[0] == 0:
            raise CheckFailed("list_issues: no issue has users")

        def calls(fn: Any) -> float:
            for _ in range(7):  # past the prepare threshold and the custom plans
                fn()
            n = s.read_calls * 5  # a sub-millisecond statement: many calls, less noise
            return timed(lambda: [fn() for _ in range(n)]) / n * 1000

        def statement(sql: str) -> Any:
            return lambda: conn.execute(sql, args, prepare=True).fetchall()

        m, base = alternate(
            s.rounds, lambda: calls(statement(with_users)), lambda: calls(statement(without))
        )
        yield Result(
            "16d", MS, m, base, ratio_at_least(1 / 1.5),
            name=f"16d. the issue list's statement with user_count / without it (both by hand),"
            f" first page of 50 @ {events:,} events",
        )  # fmt: skip
        m, base = alternate(
            s.rounds,
            lambda: calls(lambda: q.list_issues(conn, project, limit=50)),
            lambda: calls(statement(without)),
        )
        yield Result(
            "16e", MS, m, base,
            name="16e. the same: list_issues (the layer, with user_count) / the statement"
            " without it by hand, for scale",
        )  # fmt: skip
    finally:
        conn.autocommit = False


# --- 16f: the write path with users --------------------------------------------------------


def _write_with_users(ctx: Context) -> Iterator[Result]:
    s = ctx.sizes
    url = ctx.fresh_db()
    with_users, without = _project(url, "with-users"), _project(url, "without-users")
    data = payloads(s.batch_events, s.fingerprints, seed=16)
    for i, p in enumerate(data):
        if i % 10:
            p["user_context"] = {}
    plain = [{**p, "user_context": {}} for p in data]
    size = s.batch_size
    chunks = [range(i, min(i + size, len(data))) for i in range(0, len(data), size)]
    with psycopg.connect(url, autocommit=True) as cw, psycopg.connect(url, autocommit=True) as co:

        def write(conn: Conn, project: UUID, given: list[dict[str, Any]]) -> None:
            for c in chunks:
                ingest_events(conn, project, [given[i] for i in c])

        m, b = alternate_rounds(
            s.rounds,
            lambda r: write(cw, with_users, data),
            lambda r: write(co, without, plain),
        )
        row = cw.execute(
            "SELECT count(*) FROM issues WHERE project_id = %s AND user_count > 0", [with_users]
        ).fetchone()
        if row is None or row[0] == 0:
            raise CheckFailed("write path: no issue counted a user")
    yield compare(
        f"16f. ingest_events with users counted (1 event in 10 with a user) / the same events"
        f" without users, {size}/batch, {len(data):,} events, {s.fingerprints:,} fingerprints",
        m, b, len(data), "event", 0.9,
    )  # fmt: skip
