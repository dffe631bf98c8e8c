"""Scenario 15: deleting a project while another project ingests.

Project A holds the events (1,000,000 at full size; ``Sizes.scales[1]``),
loaded in SQL over the last seven days with everything the write path
keeps for them: issues and their fingerprints, event_tags (one row per
minute and tag pair, as the write path's batches make), the tag store, the
hourly rollups and the counts per status. Project B's writer stores one
event at a time (``ingest_event``, its own transaction) every
``INTERVAL_S``, on its own connection, the whole time.

The baseline is B's own latency before the deletion, in the same run:
``BEFORE_S`` seconds of B's writes. Then ``delete_project(A)`` (timed, and
committed), and ``run_deletions`` until A's row is gone, while B goes on.

- 15a, 15b: B's ``ingest_event`` p99 and p50 during the deletion / before it
  (goal for the p99: at most 1.2 x);
- 15c: the ``delete_project`` call itself (goal: under 100 ms);
- 15d: the deletion's total time (every ``run_deletions`` call);
- 15e: its longest chunk (one transaction: the longest any of its locks is
  held; goal: under 1 s);
- 15f: A's rows left in any table afterwards (goal: 0).

B must have stored every event it was acknowledged (CheckFailed otherwise).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from mesher import maintenance
from mesher import queries as q
from mesher.ingest import ingest_event

from .figures import MS, SECONDS, CheckFailed, Goal, Result, Unit, below
from .scenarios import Context, _project

Conn = psycopg.Connection[Any]
ROWS = Unit("rows", False)

#: B writes one event this often (when its last write took less).
INTERVAL_S = 0.005
#: B's writes before the deletion: the baseline.
BEFORE_S = 15.0
SMOKE_BEFORE_S = 1.0
#: Events per issue in A.
PER_ISSUE = 100

LOAD_ISSUES = """
INSERT INTO issues (project_id, fingerprint, title, level, status, event_count, first_seen,
                    last_seen)
SELECT %(p)s, 'fp-' || g, 'Error ' || g, 'error', 'unresolved', 0, now(), now()
FROM generate_series(1, %(issues)s) AS g;
INSERT INTO issue_fingerprints (project_id, fingerprint, issue_id, title, level, event_count,
                                first_seen, last_seen)
SELECT project_id, fingerprint, id, title, level, 0, now(), now()
FROM issues WHERE project_id = %(p)s"""

LOAD_EVENTS = """
INSERT INTO events (id, project_id, issue_id, level, message, fingerprint, exception, stacktrace,
                    breadcrumbs, tags, extra, user_context, sdk_name, sdk_version, received_at)
SELECT uuidv7(-a.age), %(p)s, f.issue_id, 'error', 'request ' || e.g || ' failed', f.fingerprint,
       NULL, '[]', '[]',
       jsonb_build_object('browser', (ARRAY['firefox', 'chrome', 'safari'])[1 + mod(e.g, 3)],
                          'route', '/api/' || mod(e.g, 40), 'server', 'web-' || mod(e.g, 7)),
       '{}', '{}', 'mesher-python', '1.4.2', now() - a.age
FROM generate_series(%(lo)s::int, %(hi)s::int) AS e (g)
CROSS JOIN LATERAL (
    SELECT (e.g::float8 / %(n)s * 167) * interval '1 hour' AS age
) AS a
JOIN issue_fingerprints AS f
    ON f.project_id = %(p)s AND f.fingerprint = 'fp-' || (1 + mod(e.g, %(issues)s))"""

#: What the write path keeps for those events.
FILL = """
INSERT INTO event_tags (project_id, tag_key, tag_value, received_at, event_id, received_ats,
                        event_ids)
SELECT %(p)s, t.key, t.value, (array_agg(e.received_at ORDER BY e.received_at DESC, e.id DESC))[1],
       (array_agg(e.id ORDER BY e.received_at DESC, e.id DESC))[1],
       array_agg(e.received_at ORDER BY e.received_at DESC, e.id DESC),
       array_agg(e.id ORDER BY e.received_at DESC, e.id DESC)
FROM events AS e CROSS JOIN LATERAL jsonb_each_text(e.tags) AS t
WHERE e.project_id = %(p)s
GROUP BY date_trunc('minute', e.received_at), t.key, t.value;
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
INSERT INTO issue_hourly_counts (project_id, issue_id, hour_start, event_count)
SELECT project_id, issue_id, date_trunc('hour', received_at, 'UTC'), count(*)
FROM events WHERE project_id = %(p)s
GROUP BY project_id, issue_id, date_trunc('hour', received_at, 'UTC');
INSERT INTO project_hourly_counts (project_id, hour_start, level, event_count)
SELECT project_id, date_trunc('hour', received_at, 'UTC'), level, count(*)
FROM events WHERE project_id = %(p)s
GROUP BY project_id, date_trunc('hour', received_at, 'UTC'), level;
INSERT INTO project_issue_counts (project_id, status, issue_count)
SELECT project_id, status, count(*) FROM issues WHERE project_id = %(p)s
GROUP BY project_id, status"""


def _load(ctx: Context, events: int) -> tuple[str, UUID, UUID]:
    print(f"   (loading {events:,} events for the deletion scenario)", flush=True)
    started = time.perf_counter()
    url = ctx.fresh_db()
    doomed, other = _project(url, "doomed"), _project(url, "other")
    issues = max(1, events // PER_ISSUE)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT create_events_partition(((now() AT TIME ZONE 'UTC')::date - d))"
            " FROM generate_series(-1, 7) AS d"
        )
        for statement in LOAD_ISSUES.split(";"):
            conn.execute(statement, {"p": doomed, "issues": issues})
        step = 100_000
        for lo in range(1, events + 1, step):
            hi = min(lo + step - 1, events)
            params = {"p": doomed, "lo": lo, "hi": hi, "n": events, "issues": issues}
            conn.execute(LOAD_EVENTS, params)
        for statement in FILL.split(";"):
            conn.execute(statement, {"p": doomed})
        conn.execute("VACUUM ANALYZE")
    if _rows(url, doomed).get("events") != events:
        raise CheckFailed("deletion: the loaded project does not hold its events")
    ctx.load_seconds[f"{events:,} events (deletion)"] = time.perf_counter() - started
    return url, doomed, other


def _rows(url: str, project: UUID) -> dict[str, int]:
    """The project's rows in every table that has a project_id (and its own
    row), those that have any."""
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_attribute a"
                " ON a.attrelid = c.oid AND a.attname = 'project_id'"
                " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"
                " AND NOT c.relispartition"
            )
        ]
        counts = {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE project_id = %s").format(sql.Identifier(t)),
                (project,),
            ).fetchone()[0]  # type: ignore[index]
            for t in tables
        }
        counts["projects"] = conn.execute(
            "SELECT count(*) FROM projects WHERE id = %s", (project,)
        ).fetchone()[0]  # type: ignore[index]
    return {t: n for t, n in counts.items() if n}


class _Writer(threading.Thread):
    """Project B's writer: one event at a time, every INTERVAL_S; each
    call's latency, by phase."""

    def __init__(self, url: str, project: UUID) -> None:
        super().__init__(daemon=True)
        self.url, self.project = url, project
        self.phase = "before"
        self.latencies: dict[str, list[float]] = {"before": [], "during": [], "after": []}
        self.acked = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                next_at = time.perf_counter()
                n = 0
                while not self.stop.is_set():
                    phase = self.phase
                    started = time.perf_counter()
                    ingest_event(conn, self.project, {"message": f"b {n % 20}", "tags": {"n": "1"}})
                    self.latencies[phase].append(time.perf_counter() - started)
                    self.acked += 1
                    n += 1
                    next_at = max(next_at + INTERVAL_S, time.perf_counter())
                    time.sleep(max(0.0, next_at - time.perf_counter()))
        except BaseException as exc:
            self.error = exc


def _p(values: list[float], share: float) -> float:
    """The ``share`` quantile, in ms."""
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1] * 1000


def _longest_chunk(times: list[tuple[float, str, int]]) -> Callable[..., Any]:
    """A wrapper of maintenance._in_chunk (one deletion transaction) that
    records each call's time, table and rows."""
    real = maintenance._in_chunk

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        chunk = real(*args, **kwargs)
        took = time.perf_counter() - started
        if isinstance(chunk, dict):
            times.append((took, chunk["table_name"], chunk["deleted_rows"]))
        return chunk

    return timed


def at_most_times_baseline(limit: float) -> Goal:
    """Mesher's median at most ``limit`` times the baseline's."""

    def test(r: Result, _: Any) -> tuple[bool, str]:
        times = r.median / statistics.median(r.baseline)
        return times <= limit, f"{times:.2f} x"

    return Goal(f"≤ {limit:g} x before", test)


def deletion(ctx: Context) -> Iterator[Result]:
    """15. Deleting a project of 1,000,000 events while another ingests one event at a time"""
    events = ctx.sizes.scales[1]
    before_s = SMOKE_BEFORE_S if events < 100_000 else BEFORE_S
    url, doomed, other = _load(ctx, events)
    stored_before = _rows(url, other).get("events", 0)
    writer = _Writer(url, other)
    writer.start()
    chunks: list[tuple[float, str, int]] = []
    real_chunk = maintenance._in_chunk
    try:
        time.sleep(before_s)
        writer.phase = "during"
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            q.delete_project(conn, doomed)
            conn.commit()
            delete_call = time.perf_counter() - started
        maintenance._in_chunk = _longest_chunk(chunks)  # type: ignore[assignment]
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as owner:
            while True:
                report = maintenance.run_deletions(owner, time_budget_s=5)
                if doomed in report.projects:
                    break
                if report.rows == 0 and not report.busy:
                    raise CheckFailed("deletion: run_deletions stopped with the project left")
        total = time.perf_counter() - started
        writer.phase = "after"
        time.sleep(min(1.0, before_s))
    finally:
        maintenance._in_chunk = real_chunk  # type: ignore[assignment]
        writer.stop.set()
        writer.join()
    if writer.error is not None:
        raise CheckFailed(f"deletion: project B's writer failed: {writer.error!r}")
    if _rows(url, other).get("events", 0) != stored_before + writer.acked:
        raise CheckFailed("deletion: project B lost events")
    left = sum(_rows(url, doomed).values())
    before, during = writer.latencies["before"], writer.latencies["during"]
    yield Result(
        "15a", MS, [_p(during, 0.99)], [_p(before, 0.99)], at_most_times_baseline(1.2),
        name=f"15a. project B's ingest_event p99 while A ({events:,} events) is deleted"
        f" / before ({len(during):,} / {len(before):,} calls, one every {INTERVAL_S * 1000:g} ms)",
    )  # fmt: skip
    yield Result(
        "15b", MS, [_p(during, 0.5)], [_p(before, 0.5)],
        name="15b. the same, p50",
    )  # fmt: skip
    yield Result(
        "15c", MS, [delete_call * 1000], goal=below(100, MS),
        name="15c. delete_project(A) and its commit",
    )  # fmt: skip
    yield Result(
        "15d", SECONDS, [total],
        name=f"15d. the deletion: run_deletions until A is gone ({len(chunks):,} transactions"
        f" of at most {maintenance.CHUNK_ROWS:,} rows, each aiming at"
        f" {maintenance.CHUNK_TARGET_S * 1000:g} ms, a pause of"
        f" {maintenance.CHUNK_PAUSE:g} x its time after each)",
    )  # fmt: skip
    took, table, rows = max(chunks)
    yield Result(
        "15e", MS, [took * 1000], goal=below(1000, MS),
        name=f"15e. its longest transaction (the longest it holds a lock: {rows:,} rows"
        f" of {table})",
    )  # fmt: skip
    yield Result(
        "15f", ROWS, [float(left)], goal=Goal("0", lambda r, _: (r.median == 0, "")),
        name="15f. A's rows left afterwards, in every table",
    )  # fmt: skip
