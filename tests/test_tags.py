"""The tag store and the hourly rollups (migration 0012): what the write path
counts, checked against a brute-force count in Python over the stored
events, through every way in (native batches, single events, Sentry
envelopes, retries, concurrent writers), maintenance and retention; and the
helpers that read them: issue_tag_facets, project_tag_keys,
project_tag_values, issue_sparklines, event_volume and level_breakdown."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import random
import threading
import types
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sentry_sdk
from psycopg.rows import dict_row

from mesher import _uuid7, sentry
from mesher import ingest as sync_ingest
from mesher import queries as q
from mesher._sql import sql_dir
from mesher.aio import ingest as aingest
from mesher.aio import queries as aq
from mesher.errors import InvalidInput, NotFound
from mesher.ingest import ingest_event, ingest_events
from mesher.limits import MAX_BUCKETS, MAX_FACET_VALUES, MAX_PAGE, MAX_SPARKLINE_POINTS
from mesher.maintenance import maintain
from mesher.migrate import migrate
from mesher.models import FacetValue, Severity, TagFacet, TagValueCount
from mesher.partitions import create_partition

from .helpers import (
    MISSING,
    Conn,
    logical_name,
    nodes,
    not_found_message,
    plan,
    run_concurrently,
)
from .sentry_envelopes import capture, combine

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

pytest_plugins = ["tests.entities"]

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
NOW = dt.datetime.now(UTC)


def _hour(at: dt.datetime) -> dt.datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- the clock of the write path ---------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[dt.datetime, dt.timedelta], None]:
    """``clock(start, step)``: the write path's n-th event gets start + n * step."""

    def set_clock(start: dt.datetime, step: dt.timedelta = dt.timedelta(0)) -> None:
        ticks = itertools.count()
        lock = threading.Lock()

        def time_ns() -> int:
            with lock:
                n = next(ticks)
            return int((start + n * step).timestamp() * 1e9)

        monkeypatch.setattr(_uuid7, "time", types.SimpleNamespace(time_ns=time_ns))
        monkeypatch.setattr(_uuid7, "_last_ms", 0)

    return set_clock


# --- brute force: counting the stored events in Python ----------------------------------

Seen = tuple[int, dt.datetime, dt.datetime]  # count, first, last


@dataclass
class Counts:
    issue_tags: dict[tuple[uuid.UUID, str, str], Seen]
    project_tags: dict[tuple[str, str], Seen]
    project_hours: dict[tuple[dt.datetime, str], int]
    issue_hours: dict[tuple[uuid.UUID, dt.datetime], int]
    statuses: dict[str, int]  # issues per status (project_issue_counts)


def _add(store: dict[Any, Seen], key: Any, at: dt.datetime) -> None:
    count, first, last = store.get(key, (0, at, at))
    store[key] = (count + 1, min(first, at), max(last, at))


def brute_force(conn: Conn, project_id: uuid.UUID) -> Counts:
    """What the rollups must hold, counted from the events (and the issue
    statuses from the issues) themselves."""
    statuses = conn.execute(
        "SELECT status, count(*) FROM issues WHERE project_id = %s GROUP BY status",
        (project_id,),
    ).fetchall()
    counts = Counts({}, {}, Counter(), Counter(), dict(statuses))
    rows = conn.execute(
        "SELECT issue_id, tags, environment, release, level, received_at FROM events"
        " WHERE project_id = %s",
        (project_id,),
    ).fetchall()
    for issue_id, event_tags, environment, release, level, at in rows:
        tags = dict(event_tags)
        if environment is not None:
            tags["environment"] = environment
        if release is not None:
            tags["release"] = release
        for key, value in tags.items():
            _add(counts.issue_tags, (issue_id, key, value), at)
            _add(counts.project_tags, (key, value), at)
        counts.project_hours[(_hour(at), level)] += 1  # type: ignore[index]
        counts.issue_hours[(issue_id, _hour(at))] += 1  # type: ignore[index]
    counts.project_hours = dict(counts.project_hours)
    counts.issue_hours = dict(counts.issue_hours)
    return counts


def stored(conn: Conn, project_id: uuid.UUID) -> Counts:
    """What the rollups hold."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return conn.execute(sql, (project_id,)).fetchall()

    return Counts(
        {
            (i, k, v): (n, f, la)
            for i, k, v, n, f, la in rows(
                "SELECT issue_id, tag_key, tag_value, times_seen, first_seen, last_seen"
                " FROM issue_tag_values WHERE project_id = %s"
            )
        },
        {
            (k, v): (n, f, la)
            for k, v, n, f, la in rows(
                "SELECT tag_key, tag_value, times_seen, first_seen, last_seen"
                " FROM project_tag_values WHERE project_id = %s"
            )
        },
        {
            (h, lv): n
            for h, lv, n in rows(
                "SELECT hour_start, level, event_count FROM project_hourly_counts"
                " WHERE project_id = %s"
            )
        },
        {
            (i, h): n
            for i, h, n in rows(
                "SELECT issue_id, hour_start, event_count FROM issue_hourly_counts"
                " WHERE project_id = %s"
            )
        },
        dict(
            rows(  # a status whose issues all moved away keeps a 0
                "SELECT status, issue_count FROM project_issue_counts"
                " WHERE project_id = %s AND issue_count <> 0"
            )
        ),
    )


def assert_event_tags_exact(conn: Conn, project_id: uuid.UUID) -> int:
    """event_tags lists every stored event once under each pair of its tags
    (as stored: not the environment and release columns), with the event's
    time, and nothing else; each row's events are of its pair and UTC day,
    newest first, and its key is its newest event's (migration 0019).
    Returns how many (event, pair) entries."""
    expected = {
        (event_id, key, value, at)
        for event_id, tags, at in conn.execute(
            "SELECT id, tags, received_at FROM events WHERE project_id = %s", (project_id,)
        )
        for key, value in tags.items()
    }
    entries = []
    for key, value, at, event_id, times, ids in conn.execute(
        "SELECT tag_key, tag_value, received_at, event_id, received_ats, event_ids"
        " FROM event_tags WHERE project_id = %s",
        (project_id,),
    ):
        assert (times[0], ids[0]) == (at, event_id)
        listed = list(zip(times, ids, strict=True))
        assert listed == sorted(listed, reverse=True)
        assert {t.astimezone(UTC).date() for t in times} == {at.astimezone(UTC).date()}
        entries += [(i, key, value, t) for t, i in listed]
    assert len(entries) == len(expected)  # no entry twice
    assert set(entries) == expected
    return len(entries)


def assert_exact(conn: Conn, project_id: uuid.UUID) -> Counts:
    assert assert_event_tags_exact(conn, project_id)
    expected = brute_force(conn, project_id)
    got = stored(conn, project_id)
    assert got.issue_tags == expected.issue_tags
    assert got.project_tags == expected.project_tags
    assert got.project_hours == expected.project_hours
    assert got.issue_hours == expected.issue_hours
    assert got.statuses == expected.statuses
    read = q.count_issues_by_status(conn, project_id)
    assert got.statuses == {s.value: n for s, n in read.items() if n}
    assert expected.issue_tags and expected.project_hours  # the comparison proved something
    assert expected.statuses
    return got


def expected_facets(conn: Conn, counts: Counts, issue_id: uuid.UUID, top: int) -> list[TagFacet]:
    (event_count,) = conn.execute(
        "SELECT event_count FROM issues WHERE id = %s", (issue_id,)
    ).fetchone()  # type: ignore[misc]
    by_key: dict[str, list[tuple[str, Seen]]] = {}
    for (issue, key, value), seen in counts.issue_tags.items():
        if issue == issue_id:
            by_key.setdefault(key, []).append((value, seen))
    facets = []
    for key in sorted(by_key):
        values = sorted(by_key[key], key=lambda vs: (-vs[1][0], vs[0]))
        facets.append(
            TagFacet(
                key=key,
                event_count=sum(seen[0] for _, seen in values),
                distinct_values=len(values),
                top_values=[
                    FacetValue(value=v, count=n, first_seen=f, last_seen=la,
                               share=n / event_count)
                    for v, (n, f, la) in values[:top]
                ],
            )
        )  # fmt: skip
    return facets


# --- generated events ------------------------------------------------------------------

KEYS = ["browser", "region", "sentry:user", "a_b", "%k", "env", "environment", "ÿ"]
VALUES = ["chrome", "50%_off", "50x_off", "_", "%", "é", "🔥", "x" * 200, "", "a b", "\U0010ffff"]
LEVELS = [s.value for s in Severity]


def native_payloads(rng: random.Random, count: int, fingerprints: int = 12) -> list[dict[str, Any]]:
    return [
        {
            "message": f"boom {i}",
            "level": rng.choice(LEVELS),
            "fingerprint": f"fp-{rng.randrange(fingerprints)}",
            "tags": {k: rng.choice(VALUES) for k in rng.sample(KEYS, rng.randrange(0, 5))},
        }
        for i in range(count)
    ]


def sentry_event(rng: random.Random, event_id: uuid.UUID | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": (event_id or uuid.uuid4()).hex,
        "level": rng.choice(LEVELS),
        "message": f"sentry {rng.randrange(6)}",
        "fingerprint": [f"s-{rng.randrange(6)}"],
        "tags": {k: rng.choice(VALUES) for k in rng.sample(KEYS, rng.randrange(0, 4))},
        "platform": "python",
    }
    if rng.random() < 0.7:
        event["environment"] = rng.choice(["production", "staging"])
    if rng.random() < 0.7:
        event["release"] = rng.choice(["shop@1.0", "shop@1.1", "50%_off"])
    return event


def envelope(*events: dict[str, Any]) -> bytes:
    lines = [b"{}"]
    for event in events:
        body = json.dumps(event).encode()
        lines += [json.dumps({"type": "event", "length": len(body)}).encode(), body]
    return b"\n".join(lines) + b"\n"


# --- exact counts -----------------------------------------------------------------------


def test_native_counts_are_exact(
    conn: Conn, project_id: uuid.UUID, clock: Callable[..., None]
) -> None:
    rng = random.Random(1)
    now = dt.datetime.now(UTC)
    # Batches across several hours, one spanning hour boundaries, and single events.
    clock(now - dt.timedelta(hours=30), dt.timedelta(minutes=7))
    ingest_events(conn, project_id, native_payloads(rng, 40))
    clock(now - dt.timedelta(hours=5), dt.timedelta(seconds=1))
    for batch in (1, 1, 3, 200, 17):
        ingest_events(conn, project_id, native_payloads(rng, batch))
    clock(now - dt.timedelta(minutes=30))
    for payload in native_payloads(rng, 5):
        ingest_event(conn, project_id, payload)
    counts = assert_exact(conn, project_id)
    # Through the helpers: facets of every issue, with project_id and without.
    issues = [r[0] for r in conn.execute("SELECT id FROM issues ORDER BY id").fetchall()]
    for issue_id in issues:
        for top in (1, 3, MAX_FACET_VALUES):
            want = expected_facets(conn, counts, issue_id, top)
            got = q.issue_tag_facets(conn, issue_id, top)
            # the repr too: the helper's models are not validated again, so
            # each value must come as its field's type (an int, not a Decimal)
            assert got == want and repr(got) == repr(want)
            assert q.issue_tag_facets(conn, str(issue_id), top, project_id=project_id) == want
    # The keys and values of the project.
    keys = sorted({k for k, _ in counts.project_tags})
    assert q.project_tag_keys(conn, project_id) == keys
    for key in keys:
        values = sorted(
            ((v, s) for (k, v), s in counts.project_tags.items() if k == key),
            key=lambda vs: (-vs[1][0], vs[0]),
        )
        want_values = [TagValueCount(value=v, count=n, first_seen=f, last_seen=la)
                       for v, (n, f, la) in values]  # fmt: skip
        got_values = q.project_tag_values(conn, project_id, key, limit=MAX_PAGE)
        assert got_values == want_values and repr(got_values) == repr(want_values)
        assert q.project_tag_values(conn, project_id, key, limit=2) == want_values[:2]
    # The dashboards and the sparklines, from the rollups.
    since = now - dt.timedelta(hours=40)
    volume = q.event_volume(conn, project_id, "hour", since=since)
    per_hour = Counter()
    for (hour, _), n in counts.project_hours.items():
        per_hour[hour] += n
    assert volume == [(_hour(since) + i * HOUR, per_hour[_hour(since) + i * HOUR])
                      for i in range(len(volume))]  # fmt: skip
    assert volume[-1][0] == _hour(dt.datetime.now(UTC))
    per_day = Counter()
    for hour, n in per_hour.items():
        per_day[hour.replace(hour=0)] += n
    days = q.event_volume(conn, project_id, "day", since=since)
    assert [n for _, n in days] == [per_day[d] for d, _ in days]
    assert sum(n for _, n in days) == sum(per_hour.values())
    levels = Counter()
    for (hour, level), n in counts.project_hours.items():
        if hour >= _hour(now - dt.timedelta(hours=6)):
            levels[Severity(level)] += n
    breakdown = q.level_breakdown(conn, project_id, since=now - dt.timedelta(hours=6))
    assert breakdown == {s: levels[s] for s in Severity}
    series = q.issue_sparklines(conn, issues, since, project_id=project_id)
    assert list(series) == issues
    for issue_id, points in series.items():
        assert [b for b, _ in points] == [b for b, _ in volume]
        assert [n for _, n in points] == [counts.issue_hours.get((issue_id, b), 0)
                                          for b, _ in points]  # fmt: skip


def test_sentry_counts_are_exact_and_duplicates_count_nothing(
    conn: Conn, project_id: uuid.UUID
) -> None:
    rng = random.Random(2)
    events = [sentry_event(rng) for _ in range(60)]
    # An envelope holding the same SDK event twice, then retries of earlier ones.
    twice = sentry_event(rng)
    sentry.ingest_envelope(conn, project_id, envelope(*events[:30], twice, twice))
    sentry.ingest_envelope(conn, project_id, envelope(*events[20:50]))
    for event in events[45:]:
        sentry.ingest_store(conn, project_id, json.dumps(event).encode())
    conn.commit()
    counts = assert_exact(conn, project_id)
    (n,) = conn.execute("SELECT count(*) FROM events").fetchone()  # type: ignore[misc]
    assert n == 61
    # The environment and release columns count as tags, and win over a tag
    # of the same name.
    sentry.ingest_store(
        conn, project_id,
        json.dumps({"message": "m", "tags": {"environment": "tag", "release": "tag"},
                    "environment": "column"}).encode(),
    )  # fmt: skip
    after = assert_exact(conn, project_id)
    assert after.project_tags[("environment", "column")][0] == 1
    assert (
        after.project_tags[("release", "tag")][0]
        == counts.project_tags.get(("release", "tag"), (0,))[0] + 1
    )
    assert ("environment", "tag") not in after.project_tags


def test_real_sdk_envelopes(conn: Conn, project_id: uuid.UUID) -> None:
    def fail(n: int) -> Callable[[], None]:
        def run() -> None:
            sentry_sdk.set_tag("tenant", f"t{n % 3}")
            sentry_sdk.set_tag("browser", "50%_off")
            try:
                raise KeyError(f"sku-{n % 2}")
            except KeyError:
                sentry_sdk.capture_exception()

        return run

    production = capture(lambda: [fail(n)() for n in range(5)])
    staging = capture(lambda: [fail(n)() for n in range(3)], environment="staging",
                      release="shop@2.0")  # fmt: skip
    for body in (combine(*production), *staging, *staging):  # staging twice: SDK retries
        sentry.ingest_envelope(conn, project_id, body)
    conn.commit()
    counts = assert_exact(conn, project_id)
    assert counts.project_tags[("environment", "production")][0] == 5
    assert counts.project_tags[("environment", "staging")][0] == 3
    assert counts.project_tags[("release", "shop@2.0")][0] == 3
    assert counts.project_tags[("browser", "50%_off")][0] == 8
    assert q.project_tag_values(conn, project_id, "environment") == [
        TagValueCount(value=v, count=n, first_seen=f, last_seen=la)
        for v, (n, f, la) in (
            ("production", counts.project_tags[("environment", "production")]),
            ("staging", counts.project_tags[("environment", "staging")]),
        )
    ]


def test_idempotent_replays_count_nothing_twice(conn: Conn, project_id: uuid.UUID) -> None:
    payloads = native_payloads(random.Random(3), 30)
    first = ingest_events(conn, project_id, payloads, idempotency_key="k1")
    before = stored(conn, project_id)
    again = ingest_events(conn, project_id, payloads, idempotency_key="k1")
    assert all(e.duplicate for e in again)
    assert [e.event_id for e in again] == [e.event_id for e in first]
    assert stored(conn, project_id) == before
    assert_exact(conn, project_id)


def test_a_failed_batch_counts_nothing(conn: Conn, project_id: uuid.UUID) -> None:
    ingest_events(conn, project_id, native_payloads(random.Random(4), 10))
    conn.commit()
    before = stored(conn, project_id)
    with pytest.raises(InvalidInput):
        ingest_events(conn, project_id, [*native_payloads(random.Random(5), 5), {"level": "x"}])
    with pytest.raises(NotFound):  # an unknown project fails in SQL
        ingest_events(conn, MISSING, native_payloads(random.Random(6), 5))
    conn.rollback()
    assert stored(conn, project_id) == before


def test_eight_concurrent_writers_count_exactly(app_url: str, project_id: uuid.UUID) -> None:
    """Native batches and Sentry envelopes at once, sharing fingerprints, tag
    values, hours, and SDK event ids (each worker resends some of the others'),
    while issues are resolved, archived and reopened (the batches reopen the
    resolved ones): no deadlock, nothing lost, nothing counted twice."""
    shared = [sentry_event(random.Random(100 + i)) for i in range(8)]
    transitions = [q.resolve_issue, q.archive_issue, q.unresolve_issue]

    def work(n: int) -> None:
        rng = random.Random(n)
        with psycopg.connect(app_url, autocommit=True) as c:
            for round_ in range(6):
                if (n + round_) % 2:
                    ingest_events(c, project_id, native_payloads(rng, rng.choice([1, 7, 40]), 6))
                else:
                    mine = [sentry_event(rng) for _ in range(rng.choice([1, 5, 20]))]
                    sentry.ingest_envelope(c, project_id, envelope(*mine, *shared[n % 3 :: 3]))
                issues = q.list_issues(c, project_id, limit=20).items
                for issue in rng.sample(issues, min(3, len(issues))):
                    rng.choice(transitions)(c, issue.id, project_id=project_id)

    run_concurrently(8, work)
    with psycopg.connect(app_url) as c:
        assert_exact(c, project_id)
        (ids,) = c.execute(  # type: ignore[misc]
            "SELECT count(DISTINCT client_event_id) = count(client_event_id) FROM events"
        ).fetchone()
        assert ids  # every shared SDK event stored once
        mismatched = c.execute(
            "SELECT count(*) FROM issues AS i WHERE event_count <>"
            " (SELECT coalesce(sum(event_count), 0) FROM issue_hourly_counts AS h"
            "  WHERE h.project_id = i.project_id AND h.issue_id = i.id)"
        ).fetchone()
        assert mismatched == (0,)


# --- maintenance and retention ---------------------------------------------------------


def test_counts_stay_when_maintain_moves_and_drops(
    db_url: str, project_id: uuid.UUID, clock: Callable[..., None]
) -> None:
    today = dt.datetime.now(UTC).date()
    with psycopg.connect(db_url, autocommit=True) as conn:
        old = today - dt.timedelta(days=100)
        create_partition(conn, old)
        clock(dt.datetime.combine(old, dt.time(10), UTC), dt.timedelta(minutes=5))
        ingest_events(conn, project_id, native_payloads(random.Random(7), 30))
        # Yesterday has no partition: its events land in events_default.
        clock(dt.datetime.combine(today - dt.timedelta(days=1), dt.time(20), UTC),
              dt.timedelta(minutes=3))  # fmt: skip
        ingest_events(conn, project_id, native_payloads(random.Random(8), 30))
        counts = assert_exact(conn, project_id)
        (stranded,) = conn.execute("SELECT count(*) FROM events_default").fetchone()  # type: ignore[misc]
        assert stranded == 30
        (pairs,) = conn.execute(
            "SELECT sum(cardinality(event_ids)) FROM event_tags_default"
        ).fetchone()  # type: ignore[misc]
        assert pairs > 0
        report = maintain(conn, retention_days=90)
        assert sum(report.moved.values()) == 30  # out of events_default
        assert report.dropped == [f"events_{old:%Y%m%d}"]
        assert stored(conn, project_id) == counts  # neither changed a count
        # event_tags went with the events: out of its default partition, and
        # the old day's partition dropped with theirs.
        assert conn.execute("SELECT count(*) FROM event_tags_default").fetchone() == (0,)
        assert conn.execute("SELECT to_regclass(%s)", (f"event_tags_{old:%Y%m%d}",)).fetchone() == (
            None,
        )
        assert assert_event_tags_exact(conn, project_id) == pairs  # the moved day's, only
        yesterday = dt.datetime.combine(today - dt.timedelta(days=2), dt.time(0), UTC)
        some = next(iter(conn.execute("SELECT tags FROM events LIMIT 1").fetchone()[0].items()))  # type: ignore[index]
        found = q.filter_events_by_tags(conn, project_id, dict([some]), since=yesterday)
        assert found and all(some in e.tags.items() for e in found)
        assert brute_force(conn, project_id) != counts  # the dropped events are gone
        # The dashboards still count the dropped day (within the rollups' retention).
        since = dt.datetime.combine(old, dt.time(0), UTC)
        days = q.event_volume(conn, project_id, "day", since=since)
        assert days[0] == (since, 30)
        assert sum(n for _, n in days) == 60


def test_rollups_have_a_retention_of_their_own(
    db_url: str, project_id: uuid.UUID, clock: Callable[..., None]
) -> None:
    now = dt.datetime.now(UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for back in (500, 401, 399):
            clock(now - dt.timedelta(days=back), dt.timedelta(minutes=20))
            ingest_events(conn, project_id, native_payloads(random.Random(back), 6, 2))
        before = stored(conn, project_id)
        report = maintain(conn)  # 90 days for partitions, 400 for the rollups
        cutoff = now - dt.timedelta(days=400)
        old = {k for k in before.project_hours if k[0] + HOUR <= cutoff}
        old_issue = {k for k in before.issue_hours if k[1] + HOUR <= cutoff}
        assert old and old_issue
        assert report.deleted_rollups == len(old) + len(old_issue)
        assert f"delete expired hourly rollups: deleted {len(old) + len(old_issue)} rows" in (
            report.lines()
        )
        after = stored(conn, project_id)
        assert after.project_hours == {k: n for k, n in before.project_hours.items()
                                       if k not in old}  # fmt: skip
        assert after.issue_hours == {k: n for k, n in before.issue_hours.items()
                                     if k not in old_issue}  # fmt: skip
        assert after.issue_tags == before.issue_tags  # the tag store is not time-bucketed
        again = maintain(conn)
        assert again.deleted_rollups == 0
        assert "delete expired hourly rollups: nothing to do" in again.lines()
        shorter = maintain(conn, rollup_retention_days=1)
        assert shorter.deleted_rollups > 0
        assert stored(conn, project_id).project_hours == {}
        with pytest.raises(InvalidInput, match="rollup_retention_days must be between"):
            maintain(conn, rollup_retention_days=0)


# --- the helpers ------------------------------------------------------------------------


def test_facets(conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID) -> None:
    payloads = [
        *[{"message": "a", "tags": {"browser": "chrome", "os": "linux"}}] * 5,
        *[{"message": "a", "tags": {"browser": "firefox"}}] * 3,
        *[{"message": "a", "tags": {"browser": "safari"}}] * 3,
        *[{"message": "a"}] * 1,
    ]
    done = ingest_events(conn, project_id, payloads)
    issue_id = done[0].issue_id
    browser, os_ = q.issue_tag_facets(conn, issue_id, top=2)
    assert (browser.key, browser.event_count, browser.distinct_values) == ("browser", 11, 3)
    assert [(v.value, v.count) for v in browser.top_values] == [("chrome", 5), ("firefox", 3)]
    assert browser.top_values[0].share == pytest.approx(5 / 12)
    assert (os_.key, os_.event_count, os_.distinct_values) == ("os", 5, 1)
    assert [v.value for v in q.issue_tag_facets(conn, issue_id)[0].top_values] == [
        "chrome", "firefox", "safari",  # ties by value
    ]  # fmt: skip
    plain = ingest_event(conn, project_id, {"message": "no tags"})
    assert q.issue_tag_facets(conn, plain.issue_id) == []
    assert q.issue_tag_facets(conn, plain.issue_id, project_id=project_id) == []
    # An issue of another project is one that does not exist.
    missing = not_found_message(lambda: q.issue_tag_facets(conn, MISSING))
    assert (
        not_found_message(lambda: q.issue_tag_facets(conn, MISSING, project_id=project_id))
        == missing
    )
    foreign = not_found_message(
        lambda: q.issue_tag_facets(conn, issue_id, project_id=other_project_id)
    )
    assert foreign == missing.replace(str(MISSING), str(issue_id))


def test_a_batch_across_midnight_makes_a_row_per_day(
    conn: Conn, project_id: uuid.UUID, clock: Callable[..., None]
) -> None:
    """A batch's events of one pair that straddle midnight UTC make a row of
    event_tags per day, each in its day's partition, and the tag filter
    finds them all, newest first."""
    midnight = dt.datetime.combine(dt.datetime.now(UTC).date(), dt.time(0), UTC)
    clock(midnight - dt.timedelta(minutes=10), dt.timedelta(minutes=3))  # 4 before, 4 after
    done = ingest_events(conn, project_id, [{"message": f"m{i}", "tags": {"k": "v"}}
                                            for i in range(8)])  # fmt: skip
    assert assert_event_tags_exact(conn, project_id) == 8
    rows = conn.execute(
        "SELECT received_at, cardinality(event_ids) FROM event_tags WHERE project_id = %s"
        " ORDER BY received_at",
        (project_id,),
    ).fetchall()
    assert [(at.astimezone(UTC).date(), n) for at, n in rows] == [
        ((midnight - HOUR).date(), 4), (midnight.date(), 4),
    ]  # fmt: skip
    found = q.filter_events_by_tags(
        conn, project_id, {"k": "v"}, since=midnight - dt.timedelta(hours=1)
    )
    assert [e.id for e in found] == [d.event_id for d in reversed(done)]


def test_issues_take_their_tag_and_hour_rows_with_them(
    conn: Conn, owner_conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID
) -> None:
    """Deleting issues deletes their rows of issue_tag_values and
    issue_hourly_counts, and no others: deleted by hand, with their project,
    and truncated (a trigger on issues since migration 0018; on Citus, the
    foreign keys' cascade)."""

    def rows(project: uuid.UUID, issue_id: uuid.UUID) -> tuple[int, int]:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM issue_tag_values"
            "        WHERE project_id = %(p)s AND issue_id = %(i)s),"
            " (SELECT count(*) FROM issue_hourly_counts"
            "  WHERE project_id = %(p)s AND issue_id = %(i)s)",
            {"p": project, "i": issue_id},
        ).fetchone()
        assert counts is not None
        return counts

    tags = {"browser": "chrome", "os": "linux"}
    gone, kept = (
        ingest_event(conn, project_id, {"message": m, "fingerprint": m, "tags": tags}).issue_id
        for m in ("gone", "kept")
    )
    other = ingest_event(conn, other_project_id, {"message": "m", "tags": tags}).issue_id
    assert rows(project_id, gone) == rows(project_id, kept) == (2, 1)
    assert rows(other_project_id, other) == (2, 1)
    conn.execute("DELETE FROM issues WHERE project_id = %s AND id = %s", (project_id, gone))
    assert rows(project_id, gone) == (0, 0)
    assert rows(project_id, kept) == rows(other_project_id, other) == (2, 1)
    assert [f.key for f in q.issue_tag_facets(conn, kept)] == ["browser", "os"]
    conn.execute("DELETE FROM projects WHERE id = %s", (project_id,))  # cascades to its issues
    assert rows(project_id, kept) == (0, 0)
    assert rows(other_project_id, other) == (2, 1)
    conn.commit()
    owner_conn.execute("TRUNCATE issues CASCADE")  # the owner's alone
    owner_conn.commit()
    assert rows(other_project_id, other) == (0, 0)


def test_tag_values_by_prefix_take_it_literally(conn: Conn, project_id: uuid.UUID) -> None:
    values = ["50%_off", "50x_off", "50%", "5_", "_", "%", "_a", "a", "\U0010ffff", "\U0010ffffz",
              "퟿", "", "é", "éa"]  # fmt: skip
    payloads = [{"message": "m", "tags": {"promo": v}} for i, v in enumerate(values)
                for _ in range(i + 1)]  # fmt: skip
    ingest_events(conn, project_id, payloads)
    count = {v: i + 1 for i, v in enumerate(values)}

    def found(prefix: str, limit: int = 20) -> list[str]:
        return [t.value for t in q.project_tag_values(conn, project_id, "promo", prefix, limit)]

    def expected(prefix: str) -> list[str]:
        return sorted((v for v in values if v.startswith(prefix)), key=lambda v: -count[v])

    for prefix in ["", "5", "50", "50%", "50%_", "_", "%", "é", "\U0010ffff", "퟿", "x", "50x"]:
        assert found(prefix) == expected(prefix), prefix
    assert found("", limit=3) == expected("")[:3]
    assert found("_") == ["_a", "_"]  # not "5_"
    assert q.project_tag_values(conn, project_id, "nope") == []
    assert q.project_tag_keys(conn, project_id) == ["promo"]
    # A range of the primary key (COLLATE "C"), not a filter: in a generic plan too.
    params = {"project_id": project_id, "tag_key": "promo", "prefix": "50%",
              "prefix_end": "50&", "page_size": 20}  # fmt: skip
    conn.execute("SET plan_cache_mode = force_generic_plan")
    scans = [
        n
        for n in nodes(plan(conn, "project_tag_values", params))
        if logical_name(conn, n.get("Index Name") or "") == "project_tag_values_pkey"
    ]
    assert scans and "tag_value >=" in scans[0]["Index Cond"]
    assert "tag_value <" in scans[0]["Index Cond"]


def test_tag_keys_are_per_project(
    conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID
) -> None:
    ingest_events(conn, project_id, [{"message": "m", "tags": {k: "v"}} for k in "bca"])
    ingest_event(conn, other_project_id, {"message": "m", "tags": {"z": "v"}})
    assert q.project_tag_keys(conn, project_id) == ["a", "b", "c"]
    assert q.project_tag_keys(conn, other_project_id) == ["z"]
    assert q.project_tag_keys(conn, MISSING) == []
    assert q.project_tag_values(conn, other_project_id, "a") == []


def test_sparklines(
    conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID, clock: Callable[..., None]
) -> None:
    now = dt.datetime.now(UTC)
    clock(now - dt.timedelta(hours=5))
    a = ingest_events(conn, project_id, [{"message": "a"}] * 3)[0].issue_id
    clock(now - dt.timedelta(hours=2))
    b = ingest_events(conn, project_id, [{"message": "a"}, {"message": "b"}])[1].issue_id
    foreign = ingest_event(conn, other_project_id, {"message": "a"}).issue_id
    since = now - dt.timedelta(hours=6)
    series = q.issue_sparklines(conn, [b, a, str(a), MISSING, foreign], since,
                                project_id=project_id)  # fmt: skip
    assert list(series) == [b, a, MISSING, foreign]  # in order, once each
    buckets = [_hour(since) + i * HOUR for i in range(7)]
    assert [t for t, _ in series[a]] == buckets
    assert [n for _, n in series[a]] == [0, 3, 0, 0, 1, 0, 0]  # empty buckets included
    assert [n for _, n in series[b]] == [0, 0, 0, 0, 1, 0, 0]
    assert [n for _, n in series[MISSING]] == [0] * 7  # unknown: zeros
    assert [n for _, n in series[foreign]] == [0] * 7  # another project's: zeros
    days = q.issue_sparklines(conn, [a], now - dt.timedelta(days=2), "day", project_id=project_id)
    assert len(days[a]) == 3 and sum(n for _, n in days[a]) == 4
    assert all(t.hour == 0 and t.utcoffset() == dt.timedelta(0) for t, _ in days[a])
    assert q.issue_sparklines(conn, [], since, project_id=project_id) == {}
    assert q.issue_sparklines(conn, [a], now + HOUR, project_id=project_id) == {a: []}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, p: q.issue_sparklines(c, "not a list", NOW, project_id=p), "issue_ids must"),
        (lambda c, p: q.issue_sparklines(c, ["x"], NOW, project_id=p), "issue_ids item 0"),
        (lambda c, p: q.issue_sparklines(c, [MISSING], NOW, project_id="x"), "project_id must"),
        (lambda c, p: q.issue_sparklines(c, [MISSING], NOW, project_id=None), "project_id must"),
        (lambda c, p: q.issue_sparklines(c, [MISSING], NOW, "week", project_id=p), "bucket must"),
        (
            lambda c, p: q.issue_sparklines(c, [MISSING], NOW.replace(tzinfo=None), project_id=p),
            "timezone-aware",
        ),
        (lambda c, p: q.issue_sparklines(c, [MISSING], None, project_id=p), "timezone-aware"),
        (
            lambda c, p: q.issue_sparklines(
                c, [MISSING], NOW - (MAX_BUCKETS + 1) * HOUR, project_id=p
            ),
            "too far back",
        ),
        (
            lambda c, p: q.issue_sparklines(
                c, [uuid.uuid4() for _ in range(MAX_PAGE + 1)], NOW, project_id=p
            ),
            f"at most {MAX_PAGE}",
        ),
        (
            lambda c, p: q.issue_sparklines(
                c, [uuid.uuid4() for _ in range(200)], NOW - 1000 * HOUR, project_id=p
            ),
            f"exceed {MAX_SPARKLINE_POINTS} points",
        ),
        (lambda c, p: q.issue_tag_facets(c, MISSING, 0), "top must be between"),
        (lambda c, p: q.issue_tag_facets(c, MISSING, MAX_FACET_VALUES + 1), "top must be"),
        (lambda c, p: q.issue_tag_facets(c, MISSING, True), "top must be an integer"),
        (lambda c, p: q.issue_tag_facets(c, "nope"), "issue_id must be a UUID"),
        (lambda c, p: q.issue_tag_facets(c, MISSING, project_id="nope"), "project_id must"),
        (lambda c, p: q.project_tag_keys(c, "nope"), "project_id must be a UUID"),
        (lambda c, p: q.project_tag_values(c, p, ""), "key must be 1 to 32"),
        (lambda c, p: q.project_tag_values(c, p, "k" * 33), "key must be 1 to 32"),
        (lambda c, p: q.project_tag_values(c, p, 7), "key must be a string"),
        (lambda c, p: q.project_tag_values(c, p, "k\x00"), "key contains a NUL"),
        (lambda c, p: q.project_tag_values(c, p, "k", "\udc80"), "prefix is not valid Unicode"),
        (lambda c, p: q.project_tag_values(c, p, "k", "x" * 201), "prefix must be 0 to 200"),
        (lambda c, p: q.project_tag_values(c, p, "k", None), "prefix must be a string"),
        (lambda c, p: q.project_tag_values(c, p, "k", "", 0), "limit must be between"),
        (lambda c, p: q.project_tag_values(c, p, "k", "", MAX_PAGE + 1), "limit must be"),
        (lambda c, p: q.event_volume(c, p, "week"), "bucket must be"),
        (lambda c, p: q.event_volume(c, p, "hour", NOW.replace(tzinfo=None)), "timezone-aware"),
        (lambda c, p: q.level_breakdown(c, p, NOW.replace(tzinfo=None)), "timezone-aware"),
    ],
)
def test_bad_arguments_are_refused_before_sql(
    conn: Conn, project_id: uuid.UUID, call: Callable[[Conn, uuid.UUID], Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        call(conn, project_id)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_dashboards_never_read_events(conn: Conn, project_id: uuid.UUID) -> None:
    params = {"project_id": project_id, "bucket": "hour", "since": NOW, "issue_ids": [MISSING]}
    for query in ("event_volume", "level_breakdown", "issue_sparklines"):
        tables = {
            logical_name(conn, n["Relation Name"])
            for n in nodes(plan(conn, query, params))
            if n.get("Relation Name")
        }
        assert not any(t.startswith("events") for t in tables), (query, tables)
        assert tables & {"project_hourly_counts", "issue_hourly_counts"}, query


# --- upgrading: migration 0012 fills the new tables from the stored events ---------------


def test_migration_fills_the_tables_from_stored_events(empty_db_url: str, tmp_path: Path) -> None:
    before = tmp_path / "migrations"
    before.mkdir()
    for path in (sql_dir() / "migrations").glob("*.sql"):
        if not path.name[:4].isdigit() or path.name < "0012":  # 0012 and later: below
            (before / path.name).write_text(path.read_text())
    # The function files and the partitions of this code need 0012's tables and
    # later ones: the old migrations' own functions, and no partition yet.
    no_functions = tmp_path / "functions"
    no_functions.mkdir()
    migrate(empty_db_url, migrations_dir=before, functions_dir=no_functions, days=0)
    rng = random.Random(9)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        (project_id,) = conn.execute(  # type: ignore[misc]
            "WITH o AS (INSERT INTO organizations (name, slug) VALUES ('o', 'o') RETURNING id)"
            " INSERT INTO projects (org_id, name) SELECT id, 'p' FROM o RETURNING id"
        ).fetchone()
        for n in range(4):
            (issue_id,) = conn.execute(  # type: ignore[misc]
                "INSERT INTO issues (project_id, fingerprint, title, level) VALUES"
                " (%s, %s, 't', 'error') RETURNING id",
                (project_id, f"fp{n}"),
            ).fetchone()
            for i in range(25):
                event = sentry_event(rng)
                conn.execute(
                    "INSERT INTO events (project_id, issue_id, level, message, fingerprint,"
                    " tags, environment, release, received_at)"
                    " VALUES (%s, %s, %s, 'm', %s, %s, %s, %s, now() - %s * interval '37 min')",
                    (project_id, issue_id, event["level"], f"fp{n}", json.dumps(event["tags"]),
                     event.get("environment"), event.get("release"), i),
                )  # fmt: skip
        expected = brute_force(conn, project_id)
    migrate(empty_db_url)  # applies 0012 and the later ones (0014: the status counts)
    with psycopg.connect(empty_db_url) as conn:
        assert stored(conn, project_id) == expected
        assert assert_event_tags_exact(conn, project_id) > 50  # 0015's fill


def test_async_twins(app_url: str, project_id: uuid.UUID) -> None:
    async def body() -> None:
        # dict_row on purpose: the helpers must not depend on the row factory.
        async with await psycopg.AsyncConnection.connect(app_url, row_factory=dict_row) as conn:
            done = await aingest.ingest_events(
                conn, project_id, [{"message": "a", "tags": {"k": v}} for v in "xxy"]
            )
            issue_id = done[0].issue_id
            (facet,) = await aq.issue_tag_facets(conn, issue_id, project_id=project_id)
            assert [(v.value, v.count) for v in facet.top_values] == [("x", 2), ("y", 1)]
            assert await aq.project_tag_keys(conn, project_id) == ["k"]
            assert [v.value for v in await aq.project_tag_values(conn, project_id, "k", "y")] == [
                "y"
            ]
            since = dt.datetime.now(UTC) - HOUR
            series = await aq.issue_sparklines(conn, [issue_id], since, project_id=project_id)
            assert sum(n for _, n in series[issue_id]) == 3
            assert sum((await aq.level_breakdown(conn, project_id)).values()) == 3

    asyncio.run(body())


# --- high-cardinality keys: a bound on the values with rows (migration 0028) -----------

UNTRACKED = "~" * 201  # issue_tag_values' row of a key's untracked values, per issue


def set_bound(conn: Conn, project_id: uuid.UUID, key: str, bound: int) -> None:
    conn.execute(
        "INSERT INTO project_tag_keys (project_id, tag_key, value_bound) VALUES (%s, %s, %s)"
        " ON CONFLICT (project_id, tag_key) DO UPDATE SET value_bound = excluded.value_bound",
        (project_id, key, bound),
    )
    conn.commit()


def assert_bounded_exact(conn: Conn, project_id: uuid.UUID) -> tuple[Counts, set[tuple[str, str]]]:
    """The tag store against a brute-force recount of the events, with the
    bound: a value is tracked when it has its project row; every tracked
    value's rows are exact at all three levels, an untracked value has none,
    and its events are counted per issue and key (the UNTRACKED row) and per
    key (project_tag_keys.untracked_events); no key has more tracked values
    than its bound.
    Returns the brute force and the tracked pairs."""
    expected = brute_force(conn, project_id)
    got = stored(conn, project_id)
    tracked = set(got.project_tags)
    keys = {
        k: (bound, n, untracked)
        for k, bound, n, untracked in conn.execute(
            "SELECT tag_key, value_bound, tracked_values, untracked_events"
            " FROM project_tag_keys WHERE project_id = %s",
            (project_id,),
        )
    }
    all_values: dict[str, set[str]] = {}
    for k, v in expected.project_tags:
        all_values.setdefault(k, set()).add(v)
    untracked_events: Counter[str] = Counter()
    want_issue: dict[tuple[uuid.UUID, str, str], Seen] = {}
    for (issue, k, v), seen in expected.issue_tags.items():
        if (k, v) in tracked:
            want_issue[(issue, k, v)] = seen
            continue
        untracked_events[k] += seen[0]
        had = want_issue.get((issue, k, UNTRACKED))
        want_issue[(issue, k, UNTRACKED)] = (
            seen if had is None else (seen[0] + had[0], min(seen[1], had[1]), max(seen[2], had[2]))
        )
    assert got.issue_tags == want_issue
    assert got.project_tags == {p: s for p, s in expected.project_tags.items() if p in tracked}
    for k, values in all_values.items():
        bound, n, untracked = keys[k]
        mine = {v for kk, v in tracked if kk == k}
        assert n == len(mine) <= bound
        assert untracked == untracked_events[k]
        if mine != values:  # a key with untracked values was full when it refused one
            assert untracked > 0
    # event_tags: the tracked pairs' events exactly, nothing for the others
    want_entries = {
        (event_id, k, v, at)
        for event_id, tags, at in conn.execute(
            "SELECT id, tags, received_at FROM events WHERE project_id = %s", (project_id,)
        )
        for k, v in tags.items()
        if (k, v) in tracked
    }
    entries = [
        (i, k, v, t)
        for k, v, times, ids in conn.execute(
            "SELECT tag_key, tag_value, received_ats, event_ids FROM event_tags"
            " WHERE project_id = %s",
            (project_id,),
        )
        for t, i in zip(times, ids, strict=True)
    ]
    assert len(entries) == len(set(entries))
    assert set(entries) == want_entries
    return expected, tracked


def bounded_facets(
    conn: Conn, counts: Counts, tracked: set[tuple[str, str]], issue_id: uuid.UUID, top: int
) -> list[TagFacet]:
    """issue_tag_facets by brute force, under the bound."""
    (event_count,) = conn.execute(
        "SELECT event_count FROM issues WHERE id = %s", (issue_id,)
    ).fetchone()  # type: ignore[misc]
    by_key: dict[str, list[tuple[str, Seen]]] = {}
    for (issue, key, value), seen in counts.issue_tags.items():
        if issue == issue_id:
            by_key.setdefault(key, []).append((value, seen))
    facets = []
    for key in sorted(by_key):
        mine = [(v, s) for v, s in by_key[key] if (key, v) in tracked]
        values = sorted(mine, key=lambda vs: (-vs[1][0], vs[0]))
        facets.append(
            TagFacet(
                key=key,
                event_count=sum(seen[0] for _, seen in by_key[key]),
                distinct_values=len(values),
                top_values=[
                    FacetValue(value=v, count=n, first_seen=f, last_seen=la,
                               share=n / event_count)
                    for v, (n, f, la) in values[:top]
                ],
                untracked_events=sum(s[0] for v, s in by_key[key] if (key, v) not in tracked),
            )
        )  # fmt: skip
    return facets


def high_cardinality_payloads(rng: random.Random, count: int, start: int) -> list[dict[str, Any]]:
    """Events with a request id that never repeats, a url of a few values
    that repeat, and a common tag, over a few issues."""
    return [
        {
            "message": f"hc {i}",
            "fingerprint": f"hc-{rng.randrange(4)}",
            "tags": {
                "request_id": f"req-{start + i:06d}",
                "url": f"/item/{rng.randrange(12)}",
                "browser": rng.choice(["chrome", "firefox"]),
            },
        }
        for i in range(count)
    ]


def test_a_key_past_its_bound_keeps_its_values_counted_exactly(
    conn: Conn, project_id: uuid.UUID
) -> None:
    """request_id never repeats; with a bound of 5 values, its first five
    have rows and the rest are counted per issue and key; url (bound 8, 12
    values) keeps exact rows for the eight values it saw first, whatever
    the later batches bring. Every read says what it leaves out."""
    set_bound(conn, project_id, "request_id", 5)
    set_bound(conn, project_id, "url", 8)
    rng = random.Random(26)
    sent = 0
    for size in (3, 1, 40, 200, 1, 60):
        ingest_events(conn, project_id, high_cardinality_payloads(rng, size, sent))
        sent += size
    for payload in high_cardinality_payloads(rng, 3, sent):
        ingest_event(conn, project_id, payload)
    conn.commit()
    counts, tracked = assert_bounded_exact(conn, project_id)
    requests = sorted(v for k, v in tracked if k == "request_id")
    assert requests == [f"req-{i:06d}" for i in range(5)]  # the first five seen
    assert len([v for k, v in tracked if k == "url"]) == 8
    assert {v for k, v in tracked if k == "browser"} == {"chrome", "firefox"}
    # Bytes: the request ids past the bound made no rows at any level.
    (rows,) = conn.execute(  # type: ignore[misc]
        "SELECT (SELECT count(*) FROM issue_tag_values WHERE tag_key = 'request_id')"
        " + (SELECT count(*) FROM event_tags WHERE tag_key = 'request_id')"
    ).fetchone()
    issues = [r[0] for r in conn.execute("SELECT id FROM issues ORDER BY id")]
    assert rows <= 5 * len(issues) + len(issues) + 5 * 6  # bounded, not 308
    # Facets: exact counts, the untracked events said, never listed.
    for issue_id in issues:
        for top in (1, 3, MAX_FACET_VALUES):
            want = bounded_facets(conn, counts, tracked, issue_id, top)
            assert q.issue_tag_facets(conn, issue_id, top) == want
            assert q.issue_tag_facets(conn, issue_id, top, project_id=project_id) == want
    facets = {f.key: f for f in q.issue_tag_facets(conn, issues[0])}
    assert facets["request_id"].untracked_events > 0
    assert facets["browser"].untracked_events == 0
    # The key's bound says so: the project's keys, each with its counts.
    bounds = {b.key: b for b in q.project_tag_key_bounds(conn, project_id)}
    assert list(bounds) == sorted(bounds) == ["browser", "request_id", "url"]
    assert (bounds["request_id"].value_bound, bounds["request_id"].tracked_values) == (5, 5)
    untracked = sum(f.untracked_events for i in issues for f in q.issue_tag_facets(conn, i)
                    if f.key == "request_id")  # fmt: skip
    assert bounds["request_id"].untracked_events == untracked == sent + 3 - 5
    assert (bounds["browser"].tracked_values, bounds["browser"].untracked_events) == (2, 0)
    # Autocomplete lists the tracked values only.
    assert [v.value for v in q.project_tag_values(conn, project_id, "request_id", "req-")] == (
        requests
    )
    # The filter finds an untracked value's events, exactly, newest first.
    since = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    for value in ("req-000100", "req-000004", "req-999999"):
        want_ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM events WHERE tags @> %s ORDER BY received_at DESC, id DESC",
                (json.dumps({"request_id": value}),),
            )
        ]
        got = q.filter_events_by_tags(conn, project_id, {"request_id": value}, since=since)
        assert [e.id for e in got] == want_ids
        assert bool(want_ids) == (value != "req-999999")
    # ... with other pairs too.
    rows_ = conn.execute(
        "SELECT id, tags FROM events WHERE tags ->> 'request_id' = 'req-000150'"
    ).fetchall()
    ((event_id, tags),) = rows_
    got = q.filter_events_by_tags(
        conn, project_id, {"request_id": "req-000150", "url": tags["url"]}, since=since
    )
    assert [e.id for e in got] == [event_id]
    other_url = next(f"/item/{i}" for i in range(12) if f"/item/{i}" != tags["url"])
    assert (
        q.filter_events_by_tags(
            conn, project_id, {"request_id": "req-000150", "url": other_url}, since=since
        )
        == []
    )
    # A bound raised after the key refused values admits none: a refused value
    # that comes back would get rows its earlier events lack.
    set_bound(conn, project_id, "request_id", 1_000_000)
    again = high_cardinality_payloads(rng, 20, 0)  # request ids seen before, and new ones
    ingest_events(conn, project_id, again + high_cardinality_payloads(rng, 20, 10_000))
    conn.commit()
    counts, tracked = assert_bounded_exact(conn, project_id)
    assert sorted(v for k, v in tracked if k == "request_id") == requests
    issues = [r[0] for r in conn.execute("SELECT id FROM issues ORDER BY id")]
    # Search: an untracked value's issues, exactly, negated too, every sort.
    (issue_of,) = conn.execute(  # type: ignore[misc]
        "SELECT issue_id FROM events WHERE id = %s", (event_id,)
    ).fetchone()
    for sort in ("date", "new", "freq", "user"):
        page = q.search_issues(conn, project_id, "request_id:req-000150", sort)
        assert [i.id for i in page.items] == [issue_of]
        page = q.search_issues(conn, project_id, "!request_id:req-000150", sort, limit=100)
        assert sorted(i.id for i in page.items) == sorted(set(issues) - {issue_of})
        page = q.search_issues(
            conn, project_id, "request_id:[req-000150, req-000001] browser:chrome", sort
        )
        carried = conn.execute(
            "SELECT issue_id, tags FROM events WHERE project_id = %s", (project_id,)
        ).fetchall()
        want = {i for i, t in carried if t.get("request_id") in ("req-000150", "req-000001")}
        want &= {i for i, t in carried if t.get("browser") == "chrome"}
        assert want  # the query matches something
        assert {i.id for i in page.items} == want


def test_the_frozen_keys_cache_is_bounded_and_stays_exact(
    conn: Conn, project_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write path keeps the values of at most FROZEN_KEYS full keys per
    process; a key it let go of is read again, and the counts stay exact."""
    monkeypatch.setattr(sync_ingest, "_FROZEN", {})
    monkeypatch.setattr(sync_ingest, "FROZEN_KEYS", 1)
    set_bound(conn, project_id, "request_id", 3)
    set_bound(conn, project_id, "url", 2)
    rng = random.Random(31)
    sent = 0
    for size in (10, 5, 20, 1, 7):
        ingest_events(conn, project_id, high_cardinality_payloads(rng, size, sent))
        sent += size
        assert len(sync_ingest._FROZEN) <= 1
    conn.commit()
    assert len(sync_ingest._FROZEN) == 1  # both keys are full; one set is kept
    assert_bounded_exact(conn, project_id)


def test_concurrent_writers_never_half_track_a_value(app_url: str, project_id: uuid.UUID) -> None:
    """Eight writers bring new values of one key at once, past its bound:
    a value has its project row exactly when every one of its events has
    its rows (lock_tag_keys), and the bound holds."""
    with psycopg.connect(app_url) as c:
        set_bound(c, project_id, "url", 20)

    def work(n: int) -> None:
        rng = random.Random(n)
        with psycopg.connect(app_url, autocommit=True) as c:
            for _ in range(6):
                payloads = [
                    {"message": "c", "fingerprint": f"c-{rng.randrange(5)}",
                     "tags": {"url": f"/u/{rng.randrange(60)}", "env": "prod"}}
                    for _ in range(rng.choice([1, 10, 40]))
                ]  # fmt: skip
                ingest_events(c, project_id, payloads)

    run_concurrently(8, work)
    with psycopg.connect(app_url) as c:
        _, tracked = assert_bounded_exact(c, project_id)
        assert len([v for k, v in tracked if k == "url"]) == 20
