"""Ingest and hot-path scenarios: Sentry envelopes, native batches, the hot paths, the tag store.

Each scenario runs Mesher and a hand-written psycopg baseline on the same
data and the same SQL (the text of sql/queries/*.sql, through raw psycopg),
the two sides alternating over rounds after one untimed warm-up round each.
A round's ratio is baseline time / Mesher time; the table shows the median
ratio with [min-max], and each side's client CPU per event or call
(``time.process_time``), which the machine's load does not inflate.

They are scenarios 8 to 11 of ``python -m bench`` (``--only 8,9,10,11``).
Scenario 11 is not Mesher against the baseline but the write path against
itself: the hand-written batch writer with the tag store and the hourly
rollups (the Mesher column) and without them (the baseline column, the
write path as it was before migration 0012).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from hashlib import sha256
from typing import Any
from uuid import UUID

import psycopg

from mesher import queries as q
from mesher._rows import COPY_EVENTS, INSERT_EVENT, EventRow, JsonText
from mesher._sql import BinaryArray, sync_queries
from mesher._uuid7 import uuid7_time, uuid7_with_time
from mesher.fingerprint import fingerprint, title
from mesher.ingest import ingest_event, ingest_events
from mesher.models import EventPayload
from mesher.queries.events import EVENT_TIME_SLACK
from mesher.sentry import ingest_envelope

from . import baseline
from .data import payloads
from .figures import US, Result, ratio_at_least
from .scenarios import Context, _project

SQL = sync_queries()  # the layer's own SQL text, in psycopg's %(name)s style
SEVERITY = ["debug", "info", "warning", "error", "fatal"]
Conn = psycopg.Connection[Any]

#: Events per envelope. SDKs send one event per envelope: that case pays the
#: whole transaction per event. 100 is what a relay or an SDK's offline
#: cache forwards at once; it spreads the per-transaction statements over
#: 100 events (under 2 % of the work), so it shows the per-event cost.
PER_ENVELOPE = (1, 100)


@dataclass
class Timing:
    """One side's rounds: wall-clock and client CPU seconds."""

    wall: list[float]
    cpu: list[float]


def measure(fn: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def alternate(
    rounds: int, mesher: Callable[[int], Any], base: Callable[[int], Any]
) -> tuple[Timing, Timing]:
    """Round 0 warms both sides up (untimed); then ``rounds`` rounds each,
    alternating which side goes first. Each callable gets its round number."""
    mesher(0)
    base(0)
    m, b = Timing([], []), Timing([], [])
    for r in range(1, rounds + 1):
        order = [(mesher, m), (base, b)] if r % 2 else [(base, b), (mesher, m)]
        for fn, into in order:
            wall, cpu = measure(partial(fn, r))
            into.wall.append(wall)
            into.cpu.append(cpu)
    return m, b


def compare(name: str, m: Timing, b: Timing, per: int, unit: str, goal: float | None) -> Result:
    """A row of µs per event or call, per round; the name adds each side's
    median client CPU per event or call."""

    def per_item(seconds: list[float]) -> list[float]:
        return [s / per * 1e6 for s in seconds]

    cpu_m, cpu_b = statistics.median(per_item(m.cpu)), statistics.median(per_item(b.cpu))
    return Result(
        key=name,
        unit=US,
        mesher=per_item(m.wall),
        baseline=per_item(b.wall),
        goal=None if goal is None else ratio_at_least(goal),
        name=f"{name}, {len(m.wall)} rounds (client CPU µs/{unit}: {cpu_m:,.0f} vs {cpu_b:,.0f})",
    )


# --- the baseline's write: ingest.sql's statements through raw psycopg ----------------


def _lock_keys(project_id: UUID, fingerprints: Sequence[str]) -> list[int]:
    keys = {
        int.from_bytes(sha256(project_id.bytes + fp.encode()).digest()[:8], signed=True)
        for fp in fingerprints
    }
    return BinaryArray(sorted(keys))


def write_batch(
    conn: Conn,
    project_id: UUID,
    rows: list[EventRow],
    titles: list[str],
    tags: Sequence[Mapping[str, str]],
    *,
    locks: bool = True,
    tag_store: bool = True,
) -> None:
    """Lock, upsert one issue per fingerprint, COPY (INSERT for one row), then
    the tag store and the hourly rollups. ``rows`` are the events rows with
    issue_id still None; ``tags`` what each event counts as tags. Without
    ``locks``, no fingerprint locks (the issues' rows are still read, to
    route the upsert); without ``tag_store``, no tag store and rollups
    statement: both off is bare COPY (scenario 9b)."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row.fingerprint, []).append(i)
    a = BinaryArray  # as the layer sends its arrays
    keys = a(sorted(groups))
    releases = [[rows[i].release for i in groups[k] if rows[i].release] for k in keys]
    pairs = sorted({(k, r) for k, rs in zip(keys, releases, strict=True) for r in rs})
    params = {
        "project_id": project_id,
        "fingerprints": keys,
        "titles": a(titles[groups[k][0]] for k in keys),
        "levels": a(max((rows[i].level for i in groups[k]), key=SEVERITY.index) for k in keys),
        "counts": a(len(groups[k]) for k in keys),
        "first_seen": a(rows[groups[k][0]].received_at for k in keys),
        "last_seen": a(rows[groups[k][-1]].received_at for k in keys),
        "first_releases": a(r[0] if r else None for r in releases),
        "last_releases": a(r[-1] if r else None for r in releases),
        "release_fingerprints": a(k for k, _ in pairs),
        "release_versions": a(r for _, r in pairs),
    }
    with conn.transaction(), conn.cursor() as cur:
        if locks:
            cur.execute(SQL.lock_fingerprints.sql, {"keys": _lock_keys(project_id, keys)})
        cur.execute(SQL.lock_issues.sql, {"project_id": project_id, "fingerprints": keys})
        locked = cur.fetchall()
        routes = {fp: issue_id for issue_id, fp, _ in locked}
        params["issue_ids"] = a(routes.get(k) for k in keys)
        cur.execute(SQL.upsert_issues.sql, params)
        upserted = cur.fetchall()
        issue_ids = {fp: issue_id for issue_id, fp, _, _ in upserted}
        rows = [row._replace(issue_id=issue_ids[row.fingerprint]) for row in rows]
        if len(rows) == 1:
            cur.execute(INSERT_EVENT, rows[0])
        else:
            with cur.copy(COPY_EVENTS) as copy:
                for row in rows:
                    copy.write_row(row)
        if tag_store:
            tag_keys = BinaryArray(sorted({key for event_tags in tags for key in event_tags}))
            if tag_keys:
                cur.execute(SQL.lock_tag_keys.sql, {"project_id": project_id, "tag_keys": tag_keys})
            cur.execute(
                SQL.upsert_tags_and_counts.sql,
                baseline.tags_and_counts(project_id, rows, tags, locked=locked, upserted=upserted),
            )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json(value: Any) -> JsonText:
    return JsonText(_dumps(value))


def native_row(project_id: UUID, fp: str, p: dict[str, Any]) -> EventRow:
    """The events row of a native payload: JSON made here, in the clock."""
    event_id, received_at = uuid7_with_time()
    exc = p.get("exception")
    return EventRow(
        id=event_id, project_id=project_id, issue_id=None, level=p.get("level", "error"),
        message=p.get("message", ""), fingerprint=fp,
        exception=None if exc is None else _json(exc),
        stacktrace=_json(p.get("stacktrace", [])), breadcrumbs=_json(p.get("breadcrumbs", [])),
        tags=_json(p.get("tags", {})), extra=_json(p.get("extra", {})),
        user_context=_json(p.get("user_context", {})), sdk_name=p.get("sdk_name"),
        sdk_version=p.get("sdk_version"), received_at=received_at,
    )  # fmt: skip


# --- 1. Sentry envelopes ----------------------------------------------------------------

_SENTRY_COLUMNS = frozenset(
    {
        *("event_id", "timestamp", "level", "message", "tags", "extra", "user", "release"),
        *("environment", "dist", "platform", "server_name", "logger", "transaction"),
        *("exception", "breadcrumbs", "logentry"),
    }
)


def sentry_row(project_id: UUID, fp: str, e: dict[str, Any]) -> EventRow:
    """The events row of a parsed SDK event, the plain way: no trimming."""
    event_id, received_at = uuid7_with_time()
    chain = (e.get("exception") or {}).get("values") or []
    main = chain[-1] if chain else None
    frames = ((main or {}).get("stacktrace") or {}).get("frames") or []
    sdk = e.get("sdk") or {}
    ts = e.get("timestamp")
    return EventRow(
        id=event_id, project_id=project_id, issue_id=None, level=e.get("level") or "error",
        message=e.get("message") or "", fingerprint=fp,
        exception=None if main is None else _json({
            "type_name": main.get("type"), "value": main.get("value"),
            "module": main.get("module"),
        }),
        stacktrace=_json([
            {"filename": f.get("filename"), "function_name": f.get("function"),
             "lineno": f.get("lineno"), "in_app": f.get("in_app", False)}
            for f in frames
        ]),
        breadcrumbs=_json((e.get("breadcrumbs") or {}).get("values") or []),
        tags=_json(e.get("tags") or {}), extra=_json(e.get("extra") or {}),
        user_context=_json(e.get("user") or {}), sdk_name=sdk.get("name"),
        sdk_version=sdk.get("version"), received_at=received_at,
        client_event_id=UUID(e["event_id"]),
        occurred_at=dt.datetime.fromisoformat(ts) if isinstance(ts, str) else None,
        release=e.get("release"), environment=e.get("environment"), dist=e.get("dist"),
        platform=e.get("platform"), server_name=e.get("server_name"), logger=e.get("logger"),
        transaction=e.get("transaction"), handled=None,
        exceptions=_json(chain) if chain else None,
        data=_json({k: v for k, v in e.items() if k not in _SENTRY_COLUMNS}),
    )  # fmt: skip


def sentry_tags(e: dict[str, Any]) -> dict[str, str]:
    """What the tag store counts of a parsed SDK event: its tags, its
    environment and its release."""
    tags = dict(e.get("tags") or {})
    for column in ("environment", "release"):
        if e.get(column) is not None:
            tags[column] = e[column]
    return tags


def envelope_events(body: bytes) -> list[dict[str, Any]]:
    """gunzip, split, json.loads each event item: the baseline's parsing."""
    data = gzip.decompress(body)
    pos = data.index(b"\n") + 1
    events = []
    while pos < len(data) - 1:
        eol = data.index(b"\n", pos)
        header = json.loads(data[pos:eol])
        start, pos = eol + 1, eol + 1 + header["length"] + 1
        if header["type"] == "event":
            events.append(json.loads(data[start : pos - 1]))
    return events


def sdk_events(count: int) -> list[bytes]:
    """``count`` envelopes of one event each, from the real sentry_sdk."""
    from tests.sentry_envelopes import capture, event_payloads, realistic

    def many() -> None:
        for i in range(count):
            realistic(i)()

    envelopes = capture(many, include_local_variables=True, max_breadcrumbs=10)
    assert len(event_payloads(envelopes)) == count
    return [e for e in envelopes if b'"type":"event"' in e]


def sentry_envelopes(ctx: Context) -> Iterator[Result]:
    """Sentry envelopes: ingest_envelope on gzipped real SDK envelopes"""
    from mesher._sentry_event import normalize_event
    from tests.sentry_envelopes import event_payloads

    count = 1000 if ctx.sizes.batch_events >= 10_000 else 40
    singles = sdk_events(count)
    events = event_payloads(singles)
    normalized = [normalize_event(p) for p in events]  # the baseline's fingerprints
    fps = [n.fingerprint for n in normalized]
    titles = [n.title for n in normalized]
    size = sum(map(len, events)) / len(events)
    url = ctx.fresh_db()
    for per in PER_ENVELOPE:
        m, b = _envelope_rounds(ctx, url, per, singles, fps, titles)
        yield compare(
            f"8. Sentry envelopes, {per}/envelope, {count} events of {size / 1024:.0f} KB, gzip",
            m, b, count, "event", 0.85 if per == 1 else 0.8,
        )  # fmt: skip


def _envelope_rounds(
    ctx: Context, url: str, per: int, singles: list[bytes], fps: list[str], titles: list[str]
) -> tuple[Timing, Timing]:
    from tests.sentry_envelopes import combine

    count = len(singles)
    groups = [range(i, min(i + per, count)) for i in range(0, count, per)]
    bodies = [gzip.compress(combine(*(singles[i] for i in g)), 6) for g in groups]
    # A project per round and side: the SDK event ids are new in each.
    rounds = range(ctx.sizes.rounds + 1)
    pm = [_project(url, f"m{per}r{r}") for r in rounds]
    pb = [_project(url, f"b{per}r{r}") for r in rounds]
    with psycopg.connect(url, autocommit=True) as cm, psycopg.connect(url, autocommit=True) as cb:

        def run_mesher(r: int) -> None:
            for body in bodies:
                ingest_envelope(cm, pm[r], body, "gzip")

        def run_base(r: int) -> None:
            for body, g in zip(bodies, groups, strict=True):
                events = envelope_events(body)
                rows = [sentry_row(pb[r], fps[i], e) for i, e in zip(g, events, strict=True)]
                tags = [sentry_tags(e) for e in events]
                write_batch(cb, pb[r], rows, [titles[i] for i in g], tags)

        return alternate(ctx.sizes.rounds, run_mesher, run_base)


# --- 2. native batches ------------------------------------------------------------------


def native_batch(ctx: Context) -> Iterator[Result]:
    """Native batch: ingest_events on raw dicts, batches of 500"""
    s = ctx.sizes
    count = 5000 if s.batch_events >= 10_000 else 1000
    data = payloads(count, 1000, seed=9)
    models = [EventPayload.model_validate(p) for p in data]
    fps, titles = [fingerprint(m) for m in models], [title(m) for m in models]
    chunks = [range(i, min(i + 500, count)) for i in range(0, count, 500)]
    url = ctx.fresh_db()
    pm, pb = _project(url, "mesher"), _project(url, "baseline")
    with psycopg.connect(url, autocommit=True) as cm, psycopg.connect(url, autocommit=True) as cb:

        def run_mesher(r: int) -> None:
            for c in chunks:
                ingest_events(cm, pm, [data[i] for i in c])

        def run_base(r: int) -> None:
            for c in chunks:
                rows = [native_row(pb, fps[i], data[i]) for i in c]
                write_batch(cb, pb, rows, [titles[i] for i in c], [data[i]["tags"] for i in c])

        m, b = alternate(s.rounds, run_mesher, run_base)
    yield compare(
        f"9. native batch, 500/batch, {count} events of 2 KB, 1,000 fingerprints",
        m, b, count, "event", 0.8,
    )  # fmt: skip
    # Against bare COPY: the issue upsert (its routing read
    # included) and COPY of the events' columns, JSON made in the clock;
    # no validation, fingerprint locks, tag store or rollups.
    url = ctx.fresh_db()
    projects = [_project(url, side) for side in ("mesher", "bare", "written", "untagged")]
    conns = [psycopg.connect(url, autocommit=True) for _ in projects]
    try:

        def writer(n: int, **what: bool) -> Callable[[int], None]:
            def run(r: int) -> None:
                for c in chunks:
                    rows = [native_row(projects[n], fps[i], data[i]) for i in c]
                    tags = [data[i]["tags"] for i in c]
                    write_batch(conns[n], projects[n], rows, [titles[i] for i in c], tags, **what)

            return run

        def run_layer(r: int) -> None:
            for c in chunks:
                ingest_events(conns[0], projects[0], [data[i] for i in c])

        bare = writer(1, locks=False, tag_store=False)
        m, b = alternate(s.rounds, run_layer, bare)
        yield compare(
            f"9b. the same against bare COPY (issue upsert and COPY only), {count} events",
            m, b, count, "event", 0.7,
        )  # fmt: skip
        # Where the gap between them goes: the hand-written write path against
        # the same anchor, whole, and without its tag store and rollups
        # statement (the difference is that statement's share).
        m, b = alternate(s.rounds, writer(2), bare)
        yield compare(
            f"9c. hand-written write path (locks, tag store, rollups) against bare COPY, {count}"
            " events", m, b, count, "event", None,
        )  # fmt: skip
        m, b = alternate(s.rounds, writer(3, tag_store=False), bare)
        yield compare(
            f"9d. the same without its tag store and rollups statement, against bare COPY, {count}"
            " events", m, b, count, "event", None,
        )  # fmt: skip
    finally:
        for conn in conns:
            conn.close()


# --- 3. the hot paths ------------------------------------------------------------------


def hot_paths(ctx: Context) -> Iterator[Result]:
    """Hot paths: get_project_by_api_key, get_event, single-event ingest"""
    s = ctx.sizes
    rounds = max(s.rounds, 7)
    calls = 2000 if s.lookups >= 1000 else 100
    url = ctx.fresh_db()
    project = _project(url, "hot")
    with psycopg.connect(url, autocommit=True) as conn:
        keys = [q.create_api_key(conn, project, f"k{i}") for i in range(100)]
        stored = ingest_events(conn, project, payloads(500, 50, seed=12))
        events = [e.event_id for e in stored]
        conn.execute("ANALYZE")

        def api_key(k: str) -> Any:
            row = conn.execute(
                SQL.get_project_by_api_key.sql, {"key_value": k}, prepare=True
            ).fetchone()
            assert row is not None
            return row

        def event(e: UUID) -> Any:
            at = uuid7_time(e)
            params = {"project_id": project, "id": e, "not_before": at - EVENT_TIME_SLACK,
                      "not_after": at + EVENT_TIME_SLACK}  # fmt: skip
            row = conn.execute(SQL.get_event.sql, params, prepare=True).fetchone()
            assert row is not None
            return row

        lookups = {
            "get_project_by_api_key": (lambda i: q.get_project_by_api_key(conn, keys[i % 100]),
                                       lambda i: api_key(keys[i % 100])),
            "get_event (2 KB event)": (lambda i: q.get_event(conn, project, events[i % 500]),
                                       lambda i: event(events[i % 500])),
        }  # fmt: skip
        for name, (mesher_call, base_call) in lookups.items():
            m, b = alternate(
                rounds,
                lambda r, f=mesher_call: [f(i) for i in range(calls)],  # type: ignore[misc]
                lambda r, f=base_call: [f(i) for i in range(calls)],  # type: ignore[misc]
            )
            yield compare(f"10. {name}, {calls} calls/round", m, b, calls, "call", 0.9)
    yield from single_event(ctx, rounds)


def single_event(ctx: Context, rounds: int) -> Iterator[Result]:
    count = 300 if ctx.sizes.single_events >= 100 else 30
    data = payloads(count * (rounds + 1), 100, seed=13)
    models = [EventPayload.model_validate(p) for p in data]
    fps, titles = [fingerprint(m) for m in models], [title(m) for m in models]
    url = ctx.fresh_db()
    pm, pb = _project(url, "mesher"), _project(url, "baseline")
    with psycopg.connect(url, autocommit=True) as cm, psycopg.connect(url, autocommit=True) as cb:

        def run_mesher(r: int) -> None:
            for i in range(r * count, (r + 1) * count):
                ingest_event(cm, pm, data[i])

        def run_base(r: int) -> None:
            for i in range(r * count, (r + 1) * count):
                row = native_row(pb, fps[i], data[i])
                write_batch(cb, pb, [row], [titles[i]], [data[i]["tags"]])

        m, b = alternate(rounds, run_mesher, run_base)
    yield compare(f"10. single-event ingest, 1 connection, {count} events/round", m, b, count,
                  "event", 0.9)  # fmt: skip


# --- 4. the cost of the tag store and the rollups (at most 15 % of the write path) -------


def tag_store_cost(ctx: Context) -> Iterator[Result]:
    """Tag store and rollups: batch ingest with them against without (hand-written)"""
    s = ctx.sizes
    # (row, fingerprints, fresh): row 1's shape, where nearly every event of a
    # batch is its issue's only one (nothing coalesces: five new tag rows per
    # event), first into a fresh project, then into one whose rows exist; then
    # a skewed one, a hundredth of the fingerprints, where a batch's events
    # share issues and their tag rows coalesce.
    shapes = [("11", s.fingerprints, True), ("11b", s.fingerprints, False),
              ("11c", max(1, s.fingerprints // 100), False)]  # fmt: skip
    for row, groups, fresh in shapes:
        data = payloads(s.batch_events, groups, seed=11)
        models = [EventPayload.model_validate(p) for p in data]
        size = s.batch_size
        batches = [
            ([data[i] for i in c], [fingerprint(models[i]) for i in c],
             [title(models[i]) for i in c])
            for c in (range(i, min(i + size, len(data))) for i in range(0, len(data), size))
        ]  # fmt: skip
        m, b = _with_and_without(ctx, batches, fresh)
        shape = "new issues and tag values" if fresh else "existing issues and tag values"
        yield compare(
            f"{row}. batch ingest with / without the tag store and rollups (both hand-written),"
            f" {size}/batch, {len(data):,} events, {groups:,} fingerprints, {shape}",
            m, b, len(data), "event", 0.8,
        )  # fmt: skip


Batch = tuple[list[dict[str, Any]], list[str], list[str]]  # payloads, fingerprints, titles


def _with_and_without(ctx: Context, batches: list[Batch], fresh: bool) -> tuple[Timing, Timing]:
    """``fresh``: a project per round and side, so that every batch opens new
    issues, tag values and hours; else one project per side, whose rows the
    warm-up round made, so that every batch adds to rows that exist."""
    url = ctx.fresh_db()
    projects = ctx.sizes.rounds + 1 if fresh else 1
    with_ = [_project(url, f"with{r}") for r in range(projects)]
    without = [_project(url, f"without{r}") for r in range(projects)]
    with (
        psycopg.connect(url, autocommit=True) as cw,
        psycopg.connect(url, autocommit=True) as co,
    ):

        def write(conn: Conn, project: UUID, tag_store: bool) -> None:
            for payloads_, fps, titles in batches:
                baseline.ingest_batch(conn, project, payloads_, fps, titles, today=not tag_store)

        return alternate(
            ctx.sizes.rounds,
            lambda r: write(cw, with_[r % projects], True),
            lambda r: write(co, without[r % projects], False),
        )
