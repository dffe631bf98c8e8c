"""The benchmark scenarios. Each yields Result rows: Mesher against the
hand-written baseline (bench/baseline.py), on the same data, alternating."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from mesher import embedded, migrate
from mesher import queries as q
from mesher._args import encode_cursor
from mesher._uuid7 import uuid7_time
from mesher.fingerprint import fingerprint, title
from mesher.ingest import ingest_event, ingest_events
from mesher.models import EventPayload
from mesher.partitions import maintain

from . import baseline
from .data import payload, payloads


@dataclass
class Sizes:
    rounds: int
    batch_events: int  # per round and side, scenarios 1 and 2
    fingerprints: int
    single_events: int  # per connection, round and side, scenario 3
    keys: int
    lookups: int  # per round and side
    scales: tuple[int, int]
    read_calls: int  # per read, round and side
    partition_days: int
    batch_size: int = 500

    @classmethod
    def full(cls) -> Sizes:
        return cls(5, 20_000, 10_000, 250, 10_000, 5_000, (10_000, 1_000_000), 200, 90)

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(2, 1_000, 100, 10, 200, 200, (1_000, 5_000), 10, 10)


@dataclass
class Result:
    name: str
    mesher: str
    baseline: str
    ratio: str
    goal: str
    verdict: str


@dataclass
class Context:
    cluster: embedded.Cluster
    sizes: Sizes
    notes: list[str] = field(default_factory=list)
    batch_rate: float = 0.0
    _dbs: int = 0

    def fresh_db(self, migrated: bool = True, template: str | None = None) -> str:
        self._dbs += 1
        name = f"bench_{self._dbs}"
        with psycopg.connect(self.cluster.url("postgres"), autocommit=True) as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {name}{suffix}")
        url = self.cluster.url(name)
        if migrated and not template:
            migrate.migrate(url)
        return url


Pair = tuple[Callable[[int], Any], Callable[[int], Any]]


def alternate(
    rounds: int, mesher: Callable[[], float], base: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Run both sides ``rounds`` times, alternating which goes first."""
    m: list[float] = []
    b: list[float] = []
    for i in range(rounds):
        if i % 2:
            b.append(base())
            m.append(mesher())
        else:
            m.append(mesher())
            b.append(base())
    return m, b


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _project(url: str, slug: str) -> UUID:
    with psycopg.connect(url) as conn:
        org = q.insert_org(conn, slug, slug)
        project = q.insert_project(conn, org, slug, "python")
        conn.commit()
    return project


# --- 1, 2: batch ingest ----------------------------------------------------------


def _batch_ingest(ctx: Context, groups: int, prevalidated: bool = False) -> tuple[float, float]:
    s = ctx.sizes
    url = ctx.fresh_db()
    pm, pb = _project(url, "mesher"), _project(url, "baseline")
    data = payloads(s.batch_events, groups, seed=groups)
    models = [EventPayload.model_validate(p) for p in data]
    fps = [fingerprint(m) for m in models]  # the baseline's, computed before timing
    titles = [title(m) for m in models]
    chunks = [range(i, min(i + s.batch_size, len(data))) for i in range(0, len(data), s.batch_size)]
    with psycopg.connect(url, autocommit=True) as cm, psycopg.connect(url, autocommit=True) as cb:
        given: list[Any] = models if prevalidated else data

        def run_mesher() -> float:
            return timed(lambda: [ingest_events(cm, pm, [given[i] for i in c]) for c in chunks])

        def run_baseline() -> float:
            return timed(
                lambda: [
                    baseline.ingest_batch(
                        cb, pb, [data[i] for i in c], [fps[i] for i in c], [titles[i] for i in c]
                    )
                    for c in chunks
                ]
            )

        m, b = alternate(s.rounds, run_mesher, run_baseline)
    return len(data) / statistics.median(m), len(data) / statistics.median(b)


def batch_ingest(ctx: Context) -> Iterator[Result]:
    """1. Batch ingest: ingest_events, batches of 500, 10,000 fingerprints"""
    s = ctx.sizes
    mesher, base = _batch_ingest(ctx, s.fingerprints)
    ctx.batch_rate = mesher
    ratio = mesher / base
    yield Result(
        f"1. batch ingest ({s.batch_size}/batch, {s.fingerprints:,} fingerprints)",
        f"{mesher:,.0f} events/s", f"{base:,.0f} events/s", f"{ratio:.2f}",
        "≥ 5,000 events/s and ≥ 0.80", verdict(mesher >= 5000 and ratio >= 0.8),
    )  # fmt: skip
    mesher, base = _batch_ingest(ctx, s.fingerprints, prevalidated=True)
    yield Result(
        "1b. the same, payloads validated beforehand (EventPayload instances)",
        f"{mesher:,.0f} events/s", f"{base:,.0f} events/s", f"{mesher / base:.2f}",
        "(evidence: the cost of validation)", "",
    )  # fmt: skip


def hot_issue(ctx: Context) -> Iterator[Result]:
    """2. Hot issue: the same batches, every event sharing one fingerprint"""
    mesher, base = _batch_ingest(ctx, 1)
    vs_batch = mesher / ctx.batch_rate if ctx.batch_rate else 0.0
    yield Result(
        "2. hot issue (one fingerprint)",
        f"{mesher:,.0f} events/s", f"{base:,.0f} events/s", f"{mesher / base:.2f}",
        "≥ 0.9 x scenario 1", f"{vs_batch:.2f} x scenario 1: {verdict(vs_batch >= 0.9)}",
    )  # fmt: skip


# --- 3: single events, 4 connections -------------------------------------------------


def single_ingest(ctx: Context) -> Iterator[Result]:
    """3. Single-event ingest: ingest_event, one transaction each, 4 connections"""
    s, workers = ctx.sizes, 4
    url = ctx.fresh_db()
    pm, pb = _project(url, "mesher"), _project(url, "baseline")
    data = payloads(s.single_events * workers, 1_000, seed=3)
    models = [EventPayload.model_validate(p) for p in data]
    fps, titles = [fingerprint(m) for m in models], [title(m) for m in models]

    def threaded(work: Callable[[psycopg.Connection[Any], int], Any]) -> float:
        conns = [psycopg.connect(url, autocommit=True) for _ in range(workers)]
        barrier = threading.Barrier(workers + 1)

        def run(n: int) -> None:
            barrier.wait()
            for i in range(n * s.single_events, (n + 1) * s.single_events):
                work(conns[n], i)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
        for t in threads:
            t.start()
        barrier.wait()
        started = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        for c in conns:
            c.close()
        return elapsed

    m, b = alternate(
        s.rounds,
        lambda: threaded(lambda c, i: ingest_event(c, pm, data[i])),
        lambda: threaded(
            lambda c, i: baseline.ingest_batch(c, pb, [data[i]], [fps[i]], [titles[i]])
        ),
    )
    total = s.single_events * workers
    mesher, base = total / statistics.median(m), total / statistics.median(b)
    yield Result(
        "3. single-event ingest (4 connections)",
        f"{mesher:,.0f} events/s", f"{base:,.0f} events/s", f"{mesher / base:.2f}",
        "≥ 0.90", verdict(mesher / base >= 0.9),
    )  # fmt: skip


# --- 4: API-key lookups -----------------------------------------------------------------


def api_key_lookup(ctx: Context) -> Iterator[Result]:
    """4. API-key lookup: get_project_by_api_key, one connection"""
    s = ctx.sizes
    url = ctx.fresh_db()
    project = _project(url, "keys")
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO api_keys (project_id, label, key_value) SELECT %s, 'k' || g,"
            " 'mshr_' || encode(gen_random_bytes(24), 'hex') FROM generate_series(1, %s) g",
            (project, s.keys),
        )
        conn.execute("ANALYZE api_keys")
        keys = [r[0] for r in conn.execute("SELECT key_value FROM api_keys")]
        conn.commit()
    sample = random.Random(4).choices(keys, k=s.lookups)
    lat: dict[str, list[int]] = {"m": [], "b": []}
    with psycopg.connect(url, autocommit=True) as conn:

        def run(side: str, call: Callable[[str], Any]) -> float:
            started = time.perf_counter()
            for key in sample:
                t0 = time.perf_counter_ns()
                call(key)
                lat[side].append(time.perf_counter_ns() - t0)
            return time.perf_counter() - started

        m, b = alternate(
            s.rounds,
            lambda: run("m", lambda k: q.get_project_by_api_key(conn, k)),
            lambda: run("b", lambda k: baseline.get_project_by_api_key(conn, k)),
        )
    mesher, base = s.lookups / statistics.median(m), s.lookups / statistics.median(b)

    def pct(side: str) -> str:
        qs = statistics.quantiles(lat[side], n=100)
        return f"p50 {qs[49] / 1000:.0f} µs, p99 {qs[98] / 1000:.0f} µs"

    yield Result(
        f"4. API-key lookup ({s.keys:,} keys)",
        f"{mesher:,.0f}/s ({pct('m')})", f"{base:,.0f}/s ({pct('b')})", f"{mesher / base:.2f}",
        "≥ 0.90", verdict(mesher / base >= 0.9),
    )  # fmt: skip


# --- 5: reads at scale ----------------------------------------------------------------------

LOAD_EVENTS = """
INSERT INTO events (id, project_id, issue_id, level, message, fingerprint, exception, stacktrace,
                    breadcrumbs, tags, extra, user_context, sdk_name, sdk_version, received_at)
SELECT uuidv7(r.at - now()), %(p)s, i.id, 'error', 'request ' || g || ' failed', i.fingerprint,
       %(exc)s, %(stack)s, %(crumbs)s,
       jsonb_build_object('env', (ARRAY['prod', 'staging'])[1 + g %% 2],
                          'region', (ARRAY['eu', 'us', 'ap'])[1 + g %% 3],
                          'release', '1.' || (g %% 40) || '.0', 'browser', 'chrome'),
       %(extra)s, %(user)s, 'mesher-python', '1.4.2', r.at
FROM generate_series(%(lo)s::int, %(hi)s::int) AS g
CROSS JOIN LATERAL (SELECT now() - (g::float8 / %(n)s) * interval '6 days 23 hours') AS r (at)
JOIN (SELECT id, fingerprint, row_number() OVER (ORDER BY id) AS k FROM issues) AS i
  ON i.k = 1 + g %% %(issues)s"""


def _load(ctx: Context, events: int) -> tuple[str, UUID]:
    url = ctx.fresh_db()
    project = _project(url, "reads")
    issues = max(events // 100, 10)
    sample = payload(random.Random(5), 1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT create_events_partition(((now() AT TIME ZONE 'UTC')::date - d))"
            " FROM generate_series(1, 7) AS d"
        )
        conn.execute(
            "INSERT INTO issues (project_id, fingerprint, title, level, event_count, first_seen,"
            " last_seen) SELECT %s, 'fp-' || g, 'Error ' || g, 'error', %s,"
            " now() - interval '7 days', now() - g * interval '1 second'"
            " FROM generate_series(1, %s) AS g",
            (project, events // issues, issues),
        )
        step = 100_000
        for lo in range(1, events + 1, step):
            conn.execute(
                LOAD_EVENTS,
                {
                    "p": project, "exc": Jsonb(sample["exception"]),
                    "stack": Jsonb(sample["stacktrace"]), "crumbs": Jsonb(sample["breadcrumbs"]),
                    "extra": Jsonb(sample["extra"]), "user": Jsonb(sample["user_context"]),
                    "lo": lo, "hi": min(lo + step - 1, events), "n": events, "issues": issues,
                },
            )  # fmt: skip
        conn.execute("VACUUM ANALYZE")
    return url, project


def _reads(conn: psycopg.Connection[Any], project: UUID, calls: int) -> dict[str, Pair]:
    """Each read as (Mesher call, baseline call), both taking a call number."""
    issue_ids = [
        r[0] for r in conn.execute("SELECT id FROM issues ORDER BY last_seen DESC, id DESC")
    ]
    # 80 percent down the list, but with a full page after it at either size
    deep = issue_ids[max(0, min(int(len(issue_ids) * 0.8), len(issue_ids) - 52))]
    (deep_seen,) = conn.execute("SELECT last_seen FROM issues WHERE id = %s", (deep,)).fetchall()[0]
    cursor = encode_cursor(deep_seen, deep)
    events = [
        r[0]
        for r in conn.execute("SELECT id FROM events TABLESAMPLE SYSTEM (5) LIMIT %s", (calls,))
    ]
    # 1 event in 80 matches: a full page of 100 at either size (a week of data)
    tags = {"release": "1.7.0", "env": "prod"}
    week_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)

    def event_params(i: int) -> dict[str, Any]:
        at = uuid7_time(events[i % len(events)])
        hi, lo = at + q.EVENT_TIME_SLACK, at - q.EVENT_TIME_SLACK
        return {"p": project, "id": events[i % len(events)], "lo": lo, "hi": hi}

    return {
        "list_issues, first page": (
            lambda i: q.list_issues(conn, project),
            lambda i: baseline.read(conn, "list_issues", {"p": project, "c": None, "i": None}),
        ),
        "list_issues, deep page": (
            lambda i: q.list_issues(conn, project, cursor=cursor),
            lambda i: baseline.read(
                conn, "list_issues", {"p": project, "c": deep_seen, "i": deep}
            ),
        ),
        "list_events_for_issue": (
            lambda i: q.list_events_for_issue(conn, issue_ids[0]),
            lambda i: baseline.read(conn, "list_events_for_issue", {"issue": issue_ids[0]}),
        ),
        "filter_events_by_tags": (
            lambda i: q.filter_events_by_tags(conn, project, tags, since=week_ago),
            lambda i: baseline.read(
                conn,
                "filter_events_by_tags",
                {"p": project, "tags": Jsonb(tags), "since": week_ago},
            ),
        ),
        "get_event": (
            lambda i: q.get_event(conn, project, events[i % len(events)]),
            lambda i: baseline.read(conn, "get_event", event_params(i)),
        ),
    }  # fmt: skip


def reads_at_scale(ctx: Context) -> Iterator[Result]:
    """5. Reads at scale: the same reads at two table sizes"""
    s = ctx.sizes
    medians: dict[tuple[str, int], float] = {}
    rows: list[Result] = []
    for events in s.scales:
        url, project = _load(ctx, events)
        with psycopg.connect(url, autocommit=True) as conn:
            for name, (mesher_call, base_call) in _reads(conn, project, s.read_calls).items():
                for i in range(5):  # warm up caches and prepared statements
                    mesher_call(i)
                    base_call(i)
                m, b = alternate(
                    s.rounds,
                    partial(_calls, mesher_call, s.read_calls),
                    partial(_calls, base_call, s.read_calls),
                )
                ms = statistics.median(m) / s.read_calls * 1000
                bs = statistics.median(b) / s.read_calls * 1000
                medians[(name, events)] = ms
                rows.append(Result(
                    f"5. {name} @ {events:,} events", f"{ms:.2f} ms", f"{bs:.2f} ms",
                    f"{bs / ms:.2f}", "", "",
                ))  # fmt: skip
    small, large = s.scales
    for name in sorted({k[0] for k in medians}):
        growth = medians[(name, large)] / medians[(name, small)]
        rows.append(Result(
            f"5. {name}: {large:,} vs {small:,} events", f"{growth:.2f} x the latency", "",
            "", "≤ 1.5 x", verdict(growth <= 1.5),
        ))  # fmt: skip
    yield from rows


def _calls(call: Callable[[int], Any], count: int) -> float:
    return timed(lambda: [call(i) for i in range(count)])


# --- 6: migrate and maintenance ------------------------------------------------------------


AHEAD = (
    "SELECT create_events_partition(((now() AT TIME ZONE 'UTC')::date + d))"
    " FROM generate_series(0, 6) AS d"
)


def _apply_by_hand(url: str) -> None:
    """The baseline migrate: the same files and partitions, no bookkeeping."""
    from mesher._sql import sql_dir

    with psycopg.connect(url, autocommit=True) as conn:
        for path in sorted((sql_dir() / "migrations").glob("*.sql")):
            with conn.transaction():
                conn.execute(path.read_bytes())
        with conn.transaction():
            conn.execute(AHEAD)


def migrate_and_maintain(ctx: Context) -> Iterator[Result]:
    """6. Migrate and maintenance"""
    s = ctx.sizes
    m, b = alternate(
        s.rounds,
        lambda: timed(lambda: migrate.migrate(ctx.fresh_db(migrated=False))),
        lambda: timed(lambda: _apply_by_hand(ctx.fresh_db(migrated=False))),
    )
    fresh, fresh_b = statistics.median(m), statistics.median(b)
    yield Result("6. fresh migrate + 7 days of partitions", f"{fresh:.2f} s", f"{fresh_b:.2f} s",
                 f"{fresh_b / fresh:.2f}", "< 2 s", verdict(fresh < 2))  # fmt: skip
    url = ctx.fresh_db()
    noop = [timed(lambda: migrate.migrate(url)) for _ in range(s.rounds)]
    yield Result("6. no-op migrate re-run", f"{statistics.median(noop):.2f} s", "", "",
                 "< 0.5 s", verdict(statistics.median(noop) < 0.5))  # fmt: skip

    # A template with partitions for the past days, seven ahead, and stranded rows.
    template = ctx.fresh_db()
    project = _project(template, "maint")
    with psycopg.connect(template, autocommit=True) as conn:
        conn.execute(
            "SELECT create_events_partition(((now() AT TIME ZONE 'UTC')::date - d))"
            " FROM generate_series(1, %s) AS d",
            (s.partition_days,),
        )
        issue = ingest_event(conn, project, {"message": "seed"}).issue_id
        conn.execute(
            "INSERT INTO events (project_id, issue_id, level, message, fingerprint, received_at)"
            " SELECT %s, %s, 'error', 'stranded', 'fp', now() + (10 + g %% 2) * interval '1 day'"
            " FROM generate_series(1, 1000) AS g",
            (project, issue),
        )
    template_name = template.rsplit("/", 1)[1]
    retention = s.partition_days - 5

    def run_maintain() -> float:
        url = ctx.fresh_db(template=template_name)
        with psycopg.connect(url, autocommit=True) as conn:
            return timed(lambda: maintain(conn, 7, retention))

    def run_by_hand() -> float:
        url = ctx.fresh_db(template=template_name)
        with psycopg.connect(url, autocommit=True) as conn:

            def work() -> None:
                conn.execute(
                    "SELECT create_events_partition(((now() AT TIME ZONE 'UTC')::date + d))"
                    " FROM generate_series(0, 6) AS d"
                )
                for (day,) in conn.execute(
                    "SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::date FROM events_default"
                ).fetchall():
                    conn.execute("SELECT create_events_partition(%s)", (day,))
                conn.execute("SELECT drop_expired_events_partitions(%s)", (retention,)).fetchall()

            return timed(work)

    m, b = alternate(s.rounds, run_maintain, run_by_hand)
    took, took_b = statistics.median(m), statistics.median(b)
    yield Result(
        f"6. maintain over {s.partition_days + 7} partitions (moves 1,000 rows, drops 5)",
        f"{took:.2f} s", f"{took_b:.2f} s", f"{took_b / took:.2f}", "< 5 s", verdict(took < 5),
    )  # fmt: skip


SCENARIOS = [
    batch_ingest,
    hot_issue,
    single_ingest,
    api_key_lookup,
    reads_at_scale,
    migrate_and_maintain,
]
