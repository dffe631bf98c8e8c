"""Scenario 17: high-cardinality tags, two tag sets in one run.

Small events of 10 issues, written by ``ingest_events`` in batches of 1,000
into two databases at once, a chunk at a time, the two
alternating:

- *plain*: ``env`` and ``browser`` (few values);
- *high-cardinality*: the same, plus ``request_id`` (never repeats) and
  ``url`` (20,000 values, at random).

Rows, at each size (``Sizes.tag_events``):

- 17a: ingest throughput, the high-cardinality set (Mesher column) against the
  plain set (baseline column), the same call: what the two tags cost the
  write path. Goal: at least 0.85.
- 17b: tag-store bytes per event (event_tags, issue_tag_values,
  project_tag_values, project_tag_keys, with their indexes), both sets; the
  goal is on the difference: at most 150 bytes per event.
- 17c-h: reads on the high-cardinality project, each the layer's call against
  the same statement by hand through psycopg (prepared; a search against the
  page written by hand from the tag; goal: at least 0.9 of it):
  ``issue_tag_facets`` of the issue with the most url values (and in at most
  5 ms), ``project_tag_values`` of url with a
  prefix, ``filter_events_by_tags`` of a request id without rows and of a url
  with rows, ``search_issues`` for each. Every read checks, before it is
  timed, that both sides return the same non-empty rows, and the facets that
  the key's event count is the brute-force count of the events.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from mesher import queries as q
from mesher._sql import sync_queries
from mesher.ingest import ingest_events

from . import baseline
from .figures import EVENTS_PER_S, MS, CheckFailed, Result, Unit, below, ratio_at_least
from .scenarios import (
    READ_GOAL,
    READ_RATIO,
    WARMUP,
    BaselineCall,
    Context,
    Read,
    Seen,
    _always,
    _check,
    _page,
    _page_rows,
    _per_call_ms,
    _project,
    _row_ids,
    _warm_up,
    alternate,
)

SQL = sync_queries()
BYTES = Unit("B/event", False)
ISSUES = 10
URLS = 20_000
BATCH = 1_000

TAG_STORE_BYTES = """
SELECT sum(pg_total_relation_size(t.relid))
FROM (
    SELECT relid FROM pg_partition_tree('event_tags')
    UNION ALL SELECT 'issue_tag_values'::regclass
    UNION ALL SELECT 'project_tag_values'::regclass
    UNION ALL SELECT 'project_tag_keys'::regclass
) AS t"""

#: The issues of a tag value without rows, from the events' GIN index.
FROM_EVENTS = """SELECT e.issue_id FROM events AS e
WHERE e.project_id = %(project_id)s AND e.tags @> %(tags)s"""


def _payloads(rng: random.Random, start: int, count: int, high: bool) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + count):
        tags = {"env": rng.choice(["production", "staging"]),
                "browser": rng.choice(["chrome", "firefox", "safari"])}  # fmt: skip
        if high:
            tags["request_id"] = f"req-{i:09d}"
            tags["url"] = f"/p/{rng.randrange(URLS)}"
        out.append({"message": "m", "fingerprint": f"fp-{rng.randrange(ISSUES)}", "tags": tags})
    return out


def _load(
    conns: dict[bool, psycopg.Connection[Any]], projects: dict[bool, UUID], done: int, target: int
) -> tuple[list[float], list[float]]:
    """Ingests events ``done`` to ``target`` into both projects, a chunk at a
    time, alternating; each chunk's rate per side."""
    chunk = max(BATCH, (target - done) // 10)
    rates: dict[bool, list[float]] = {True: [], False: []}
    n = 0
    while done < target:
        count = min(chunk, target - done)
        for high in (True, False) if n % 2 == 0 else (False, True):
            rng = random.Random(done * 2 + high)
            payloads = _payloads(rng, done, count, high)
            started = time.perf_counter()
            for lo in range(0, count, BATCH):
                ingest_events(conns[high], projects[high], payloads[lo : lo + BATCH])
            rates[high].append(count / (time.perf_counter() - started))
        done += count
        n += 1
    return rates[True], rates[False]


def _facets_view(facets: Any) -> Seen:
    rows = [(f.key, f.event_count, f.distinct_values, f.untracked_events,
             [(v.value, v.count) for v in f.top_values]) for f in facets]  # fmt: skip
    return rows, len(rows), f"{len(rows)} keys"


def _facet_rows_view(rows: Any) -> Seen:
    keys: dict[str, tuple[Any, ...]] = {}
    values: dict[str, list[tuple[str, int]]] = {}
    # issue_event_count, key, value, times_seen, first, last, distinct, events, untracked
    for r in rows:
        keys.setdefault(r[1], (r[1], r[7], r[6], r[8]))
        if r[2] is not None:
            values.setdefault(r[1], []).append((r[2], r[3]))
    out = [(*keys[k], values.get(k, [])) for k in keys]
    return out, len(out), f"{len(out)} keys"


def _values_view(values: Any) -> Seen:
    rows = [(v.value, v.count) for v in values]
    return rows, len(rows), f"{len(rows)} values"


def _value_rows_view(rows: Any) -> Seen:
    out = [(r[0], r[1]) for r in rows]
    return out, len(out), f"{len(out)} values"


def _reads(conn: psycopg.Connection[Any], project: UUID) -> list[Read]:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    (issue,) = conn.execute(
        "SELECT issue_id FROM issue_tag_values WHERE project_id = %s AND tag_key = 'url'"
        " GROUP BY issue_id ORDER BY count(*) DESC, issue_id LIMIT 1",
        (project,),
    ).fetchall()[0]
    (events, keyed) = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE tags ? 'url') FROM events WHERE issue_id = %s",
        (issue,),
    ).fetchall()[0]
    facets = q.issue_tag_facets(conn, issue, project_id=project)
    url = next(f for f in facets if f.key == "url")
    if url.event_count != keyed or sum(f.event_count for f in facets) != 4 * events:
        raise CheckFailed(f"facets of {issue}: url counts {url.event_count}, events say {keyed}")
    (untracked,) = conn.execute(
        "SELECT tags ->> 'request_id' FROM events WHERE project_id = %s"
        " ORDER BY received_at DESC LIMIT 1",
        (project,),
    ).fetchall()[0]
    (tracked,) = conn.execute(
        "SELECT tag_value FROM project_tag_values WHERE project_id = %s AND tag_key = 'url'"
        " ORDER BY times_seen, tag_value LIMIT 1",
        (project,),
    ).fetchall()[0]
    page = {"project_id": project, "since": since, "page_size": 100}
    return [
        Read(
            f"issue_tag_facets, {url.distinct_values:,}+ url values ({url.untracked_events:,}"
            " events without rows)",
            lambda i: q.issue_tag_facets(conn, issue, project_id=project),
            BaselineCall(conn, SQL.tags.issue_tag_facets_in_project.sql,
                         _always({"project_id": project, "issue_id": issue, "top": 10})),
            _facets_view, _facet_rows_view,
        ),
        Read(
            "project_tag_values url, prefix '/p/1'",
            lambda i: q.project_tag_values(conn, project, "url", "/p/1"),
            BaselineCall(conn, SQL.tags.project_tag_values.sql,
                         _always({"project_id": project, "tag_key": "url", "prefix": "/p/1",
                                  "prefix_end": "/p/2", "page_size": 20})),
            _values_view, _value_rows_view,
        ),
        Read(
            "filter_events_by_tags request_id (a value without rows)",
            lambda i: q.filter_events_by_tags(conn, project, {"request_id": untracked}, since),
            BaselineCall(conn, SQL.events.filter_events_by_tags.sql,
                         _always({**page, "tags": Jsonb({"request_id": untracked})})),
            _ids_view, _row_ids,
        ),
        Read(
            "filter_events_by_tags url (a value with rows)",
            lambda i: q.filter_events_by_tags(conn, project, {"url": tracked}, since),
            BaselineCall(conn, SQL.events.filter_events_by_tags.sql,
                         _always({**page, "tags": Jsonb({"url": tracked})})),
            _ids_view, _row_ids,
        ),
        Read(
            "search_issues request_id (a value without rows)",
            partial(_search, conn, project, f"request_id:{untracked}"),
            BaselineCall(conn, baseline.page_by_hand(FROM_EVENTS, "last_seen"),
                         _always({"project_id": project,
                                  "tags": Jsonb({"request_id": untracked})})),
            _page, _page_rows(50),
        ),
        Read(
            "search_issues url (a value with rows)",
            partial(_search, conn, project, f"url:{tracked}"),
            BaselineCall(conn, baseline.page_by_hand(baseline.TAG_ISSUES, "last_seen"),
                         _always({"project_id": project, "key": "url", "value": tracked})),
            _page, _page_rows(50),
        ),
    ]  # fmt: skip


def _ids_view(events: Any) -> Seen:
    return _row_ids([(e.id,) for e in events])


def _search(conn: psycopg.Connection[Any], project: UUID, query: str, i: int) -> Any:
    return q.search_issues(conn, project, query, "date", 50)


def _timed_reads(ctx: Context, make: Callable[[], list[Read]], events: int) -> Iterator[Result]:
    s = ctx.sizes
    for read in make():
        slowest = _warm_up(read)
        described, _ = _check(read, events, WARMUP - 1)
        calls = max(1, min(s.read_calls, int(s.read_budget / max(slowest, 1e-6))))
        m, b = alternate(
            s.rounds,
            partial(_per_call_ms, read.mesher, calls),
            partial(_per_call_ms, read.baseline, calls),
        )
        goal = below(5, MS, READ_RATIO) if read.key.startswith("issue_tag_facets") else READ_GOAL
        yield Result(
            f"17 {read.key.split(' (')[0].split(',')[0]} @ {events:,}", MS, m, b, goal,
            name=f"17. {read.key} @ {events:,} events → {described}",
        )  # fmt: skip


def high_cardinality_tags(ctx: Context) -> Iterator[Result]:
    """17. High-cardinality tags: a never-repeating tag and a 20,000-value one, against two tags"""
    urls = {high: ctx.fresh_db() for high in (True, False)}
    projects = {high: _project(url, "tags") for high, url in urls.items()}
    done = 0
    conns = {high: psycopg.connect(url, autocommit=True) for high, url in urls.items()}
    try:
        for events in ctx.sizes.tag_events:
            print(f"   (ingesting to {events:,} events, both tag sets)", flush=True)
            high, plain = _load(conns, projects, done, events)
            done = events
            yield Result(
                f"17a ingest @ {events:,}", EVENTS_PER_S, high, plain, ratio_at_least(0.85),
                name=f"17a. ingest_events, batches of {BATCH:,}, {ISSUES} issues, to {events:,}"
                " events: with request_id and url (Mesher) / without (baseline)",
            )  # fmt: skip
            sizes = {}
            for side, conn in conns.items():
                conn.execute("VACUUM ANALYZE")
                (total,) = conn.execute(TAG_STORE_BYTES).fetchall()[0]
                sizes[side] = total / events
            yield Result(
                f"17b tag store bytes @ {events:,}", BYTES, [sizes[True] - sizes[False]],
                goal=below(150, BYTES), paired=False,
                name=f"17b. tag store bytes per event added by request_id and url @ {events:,}"
                f" events (all tables and indexes: {sizes[True]:,.0f} with them, "
                f"{sizes[False]:,.0f} without)",
            )  # fmt: skip
            yield from _timed_reads(ctx, partial(_reads, conns[True], projects[True]), events)
    finally:
        for conn in conns.values():
            conn.close()
