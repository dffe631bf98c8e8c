"""Events (sql/queries/events.sql): reads, dashboards, pagination walked to
the end, and EXPLAIN checks that the right partitions and indexes serve them."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import uuid
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from mesher import partitions
from mesher import queries as q
from mesher._sql import sync_queries
from mesher.errors import InvalidInput, NotFound
from mesher.ingest import ingest_event, ingest_events
from mesher.models import EventPage, Severity
from mesher.queries.events import EVENT_TIME_SLACK

from .helpers import (
    MISSING,
    Conn,
    logical_name,
    nodes,
    on_citus,
    plan,
    rebuild_event_tags,
    statement_plan,
    walk,
)

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

pytest_plugins = ["tests.entities"]


def test_get_event(conn: Conn, project_id: uuid.UUID) -> None:
    payload = {
        "message": "boom",
        "level": "fatal",
        "exception": {"type_name": "RuntimeError", "value": "x", "module": "app"},
        "stacktrace": [{"filename": "a.py", "function_name": "f", "lineno": 1, "in_app": True}],
        "breadcrumbs": [{"category": "ui", "timestamp": "2031-01-01T00:00:00Z", "data": {"k": 1}}],
        "tags": {"env": "prod"},
        "extra": {"nested": {"a": [1, 2]}},
        "user_context": {"id": "u1"},
        "sdk_name": "mesher-py",
        "sdk_version": "1.2.3",
    }
    done = ingest_event(conn, project_id, payload)
    event = q.get_event(conn, project_id, done.event_id)
    assert event.level is Severity.FATAL
    assert event.stacktrace == [
        {"filename": "a.py", "function_name": "f", "lineno": 1, "in_app": True}
    ]
    assert event.breadcrumbs[0]["data"] == {"k": 1}
    assert event.breadcrumbs[0]["timestamp"] == dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    assert (event.extra, event.user_context) == ({"nested": {"a": [1, 2]}}, {"id": "u1"})
    assert (event.sdk_name, event.sdk_version) == ("mesher-py", "1.2.3")
    other = q.insert_project(conn, q.get_project(conn, project_id).org_id, "Other", None)
    with pytest.raises(NotFound):
        q.get_event(conn, other, done.event_id)  # another project's event
    with pytest.raises(NotFound):
        q.get_event(conn, project_id, MISSING)
    with pytest.raises(InvalidInput, match="UUIDv7"):
        q.get_event(conn, project_id, uuid.uuid4())


def test_native_events_have_no_sentry_fields(conn: Conn, project_id: uuid.UUID) -> None:
    done = ingest_events(conn, project_id, [{"message": "m", "tags": {"k": "v"}}] * 2)
    stored = conn.execute(
        "SELECT count(*) FROM events WHERE num_nonnulls(client_event_id, occurred_at, release,"
        " environment, dist, platform, server_name, logger, transaction, handled, exceptions,"
        " data) > 0"
    ).fetchone()
    assert stored == (0,)  # NULL columns, not empty values
    read = [
        q.get_event(conn, project_id, done[0].event_id),
        *q.list_events_for_issue(conn, done[0].issue_id).items,
        *q.filter_events_by_tags(conn, project_id, {"k": "v"}),
    ]
    assert len(read) == 5
    for event in read:
        assert (event.client_event_id, event.occurred_at, event.release) == (None, None, None)
        assert (event.environment, event.dist, event.platform) == (None, None, None)
        assert (event.server_name, event.logger, event.transaction) == (None, None, None)
        assert event.handled is None
        assert (event.exceptions, event.data) == ([], {})


def test_list_events_for_issue_walks_to_the_end(conn: Conn, project_id: uuid.UUID) -> None:
    results = ingest_events(conn, project_id, [{"fingerprint": "same"}] * 17)
    ingest_event(conn, project_id, {"fingerprint": "other"})
    issue_id = results[0].issue_id
    walked = walk(lambda cursor: q.list_events_for_issue(conn, issue_id, limit=5, cursor=cursor))
    assert sorted(e.id for e in walked) == sorted(r.event_id for r in results)
    assert [e.received_at for e in walked] == sorted((e.received_at for e in walked), reverse=True)
    assert q.list_events_for_issue(conn, MISSING).items == []


def test_list_events_for_issue_reads_windows_back_to_its_first_event(
    owner_conn: Conn, project_id: uuid.UUID
) -> None:
    """list_issue_events reads an issue's events in time windows from its last
    event back (sql/functions/list_issue_events.sql): events spread over 40
    days of partitions, and stored times outside the issues' first_seen and
    last_seen, come back complete and in order, page by page, merged issues'
    included; project-scoped the same."""
    conn = owner_conn  # partition DDL is the owner's
    today = dt.datetime.now(dt.UTC).date()
    for back in range(1, 41):
        partitions.create_partition(conn, today - dt.timedelta(days=back))
    issue_id = ingest_event(conn, project_id, {"fingerprint": "spread"}).issue_id
    source_id = ingest_event(conn, project_id, {"fingerprint": "merged"}).issue_id
    old = (
        "INSERT INTO events (project_id, issue_id, level, message, fingerprint, received_at)"
        " SELECT %s, %s, 'error', 'old ' || g, 'fp', now() - g * %s * interval '1 hour'"
        " FROM generate_series(1, %s) AS g"
    )
    conn.execute(old, (project_id, issue_id, 60, 15))  # one every 2.5 days, 37.5 days back
    conn.execute(old, (project_id, source_id, 200, 4))  # the source's, 33 days back at most
    conn.execute(  # an event newer than last_seen, and first_seen after most of them
        "INSERT INTO events (project_id, issue_id, level, message, fingerprint, received_at)"
        " VALUES (%s, %s, 'error', 'ahead', 'fp', now() + interval '3 hours')",
        (project_id, issue_id),
    )
    conn.execute(
        "UPDATE issues SET first_seen = now() - interval '1 day', last_seen = now() - interval"
        " '2 days' WHERE id = %s",
        (issue_id,),
    )
    conn.execute("UPDATE issues SET merged_into = %s WHERE id = %s", (issue_id, source_id))
    stored = conn.execute(
        "SELECT id FROM events WHERE issue_id IN (%s, %s) ORDER BY received_at DESC, id DESC",
        (issue_id, source_id),
    ).fetchall()
    assert len(stored) == 1 + 1 + 15 + 4 + 1
    for project in (None, project_id):
        for size in (1, 4, 50):
            walked = walk(
                lambda cursor, size=size, project=project: q.list_events_for_issue(
                    conn, issue_id, limit=size, cursor=cursor, project_id=project
                )
            )
            assert [e.id for e in walked] == [row[0] for row in stored], (project, size)
    # a merged source still lists its own events, as before the merge
    assert len(q.list_events_for_issue(conn, source_id).items) == 1 + 4


def test_list_events_for_issue_scoped_to_a_project(
    conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID
) -> None:
    results = ingest_events(conn, project_id, [{"fingerprint": "same"}] * 7)
    issue_id = results[0].issue_id
    ingest_event(conn, other_project_id, {"fingerprint": "same"})  # same fingerprint, not ours

    def pages(project: uuid.UUID | str | None) -> list[EventPage]:
        out, cursor = [], None
        while True:
            page = q.list_events_for_issue(
                conn, issue_id, limit=3, cursor=cursor, project_id=project
            )
            out.append(page)
            if (cursor := page.next_cursor) is None:
                return out

    # its own project: the same pages, cursors included (the _after query too)
    assert pages(project_id) == pages(str(project_id)) == pages(None)
    assert len(pages(project_id)) == 3
    # another project's issue reads as one that does not exist: no events
    assert q.list_events_for_issue(conn, issue_id, project_id=other_project_id) == EventPage(
        items=[], next_cursor=None
    )
    assert q.list_events_for_issue(conn, MISSING, project_id=project_id) == EventPage(
        items=[], next_cursor=None
    )
    cursor = pages(project_id)[0].next_cursor
    assert cursor is not None
    later = q.list_events_for_issue(conn, issue_id, cursor=cursor, project_id=other_project_id)
    assert later.items == []
    with pytest.raises(InvalidInput, match="project_id must be a UUID"):
        q.list_events_for_issue(conn, issue_id, project_id="not-a-uuid")


def test_filter_events_by_tags(conn: Conn, project_id: uuid.UUID) -> None:
    ingest_events(
        conn,
        project_id,
        [
            {"message": "a", "tags": {"env": "prod", "region": "eu"}},
            {"message": "b", "tags": {"env": "prod", "region": "us"}},
            {"message": "c", "tags": {"env": "dev"}},
        ],
    )
    assert {e.message for e in q.filter_events_by_tags(conn, project_id, {"env": "prod"})} == {
        "a",
        "b",
    }
    both = q.filter_events_by_tags(conn, project_id, {"env": "prod", "region": "us"})
    assert [e.message for e in both] == ["b"]
    assert q.filter_events_by_tags(conn, project_id, {"env": "staging"}) == []
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert q.filter_events_by_tags(conn, project_id, {"env": "prod"}, since=future) == []
    for bad in ({}, {"env": 1}, "env=prod"):
        with pytest.raises(InvalidInput, match="tags must be"):
            q.filter_events_by_tags(conn, project_id, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="since must be a timezone-aware"):
        q.filter_events_by_tags(conn, project_id, {"a": "b"}, since=dt.datetime(2031, 1, 1))


def _age(conn: Conn, project_id: uuid.UUID, event_id: uuid.UUID, days: int) -> dt.datetime:
    """Moves an event ``days`` back, with its entries in event_tags (the
    project's rows made again) and its tags' first seen in the tag store, as
    if the write path had stored it then."""
    (received,) = conn.execute(
        "SELECT received_at FROM events WHERE id = %s", (event_id,)
    ).fetchone()
    at = received - dt.timedelta(days=days)  # a constant: Citus refuses now() - ... in an UPDATE
    conn.execute("UPDATE events SET received_at = %s WHERE id = %s", (at, event_id))
    rebuild_event_tags(conn, project_id)
    conn.execute(
        "UPDATE project_tag_values SET first_seen = least(first_seen, %(at)s)"
        " WHERE project_id = %(p)s AND (tag_key, tag_value) IN"
        " (SELECT key, value FROM events, jsonb_each_text(tags)"
        "  WHERE project_id = %(p)s AND id = %(id)s)",
        {"at": at, "p": project_id, "id": event_id},
    )
    return at


@pytest.mark.parametrize("batches", [None, 1, 3, 7, 500])
def test_filter_is_exact_when_rows_overlap(
    conn: Conn, project_id: uuid.UUID, batches: int | None
) -> None:
    """A row of event_tags holds a batch's events of a pair, and the rows of
    batches written at the same time overlap in time: the page is still the
    newest matches, newest first (ties by id), for any pair, limit and
    window, checked against a brute-force filter over the same events. The
    events get 40 times over the last two days (many share one); their
    rows are made as the write path's (None) or in ``batches`` interleaved
    batches (1: one row per pair and day; 500: about one per event)."""
    rng = random.Random(11)
    ingest_events(
        conn,
        project_id,
        [
            {"message": f"m{i}", "tags": {"a": rng.choice("xy"), "b": rng.choice("uvw")}}
            for i in range(150)
        ],
    )
    now = dt.datetime.now(dt.UTC)
    times = [now - dt.timedelta(minutes=72 * n) for n in range(40)]
    for (event_id,) in conn.execute("SELECT id FROM events").fetchall():
        conn.execute(
            "UPDATE events SET received_at = %s WHERE id = %s", (rng.choice(times), event_id)
        )
    rebuild_event_tags(conn, project_id, batches=batches)
    stored = conn.execute("SELECT id, received_at, tags FROM events").fetchall()
    for tags in ({"a": "x"}, {"b": "u"}, {"a": "y", "b": "w"}, {"a": "x", "b": "v"}):
        for hours in (49, 25, 3):
            since = now - dt.timedelta(hours=hours)
            matches = sorted(
                ((at, i) for i, at, t in stored if at >= since and tags.items() <= t.items()),
                reverse=True,
            )
            for limit in (1, 2, 5, 17, 100):
                found = q.filter_events_by_tags(conn, project_id, tags, since=since, limit=limit)
                assert [e.id for e in found] == [i for _, i in matches[:limit]], (tags, hours)


def test_filter_older_than_a_day_needs_since(conn: Conn, project_id: uuid.UUID) -> None:
    old = ingest_event(conn, project_id, {"message": "old", "tags": {"k": "v"}})
    _age(conn, project_id, old.event_id, 2)
    assert q.filter_events_by_tags(conn, project_id, {"k": "v"}) == []  # default: 24 hours
    week = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    assert len(q.filter_events_by_tags(conn, project_id, {"k": "v"}, since=week)) == 1


def _times_seen(conn: Conn, project_id: uuid.UUID, key: str, value: str, n: int) -> None:
    conn.execute(
        "UPDATE project_tag_values SET times_seen = %s"
        " WHERE project_id = %s AND tag_key = %s AND tag_value = %s",
        (n, project_id, key, value),
    )


def test_filter_walks_the_rarest_pair_back_in_time(conn: Conn, project_id: uuid.UUID) -> None:
    """An old release's events are found days back, newest first; with several
    pairs, the walk follows the one the tag store counts fewest of, and the
    result is the same whichever it is, or when the store has no row."""
    week = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    done = ingest_events(
        conn,
        project_id,
        [{"message": f"r1-{i}", "tags": {"release": "1.0", "env": "prod"}} for i in range(3)]
        + [{"message": "r2", "tags": {"release": "2.0", "env": "prod"}}]
        + [{"message": "dev", "tags": {"release": "1.0", "env": "dev"}}],
    )
    for i, d in enumerate(done[:3]):
        _age(conn, project_id, d.event_id, 5 - i)  # 5, 4 and 3 days old
    found = q.filter_events_by_tags(conn, project_id, {"release": "1.0"}, since=week)
    assert [e.message for e in found] == ["dev", "r1-2", "r1-1", "r1-0"]
    assert [e.message for e in q.filter_events_by_tags(conn, project_id, {"release": "1.0"})] == [
        "dev"
    ]
    both = {"release": "1.0", "env": "prod"}
    # The function walks the pair the tag store counts fewest events of: the
    # other pair's rows of event_tags are not read (hidden here, in a
    # transaction rolled back), and hiding the walked pair's finds nothing.
    cases = (("env", "prod", ("release", "1.0")), ("release", "1.0", ("env", "prod")))
    for key, value, walked in cases:
        _times_seen(conn, project_id, key, value, 10**9)
        found = q.filter_events_by_tags(conn, project_id, both, since=week)
        assert [e.message for e in found] == ["r1-2", "r1-1", "r1-0"]
        found = q.filter_events_by_tags(conn, project_id, both, since=week, limit=2)
        assert [e.message for e in found] == ["r1-2", "r1-1"]
        for hidden, expected in (((key, value), 3), (walked, 0)):
            with conn.transaction(force_rollback=True):
                conn.execute(
                    "DELETE FROM event_tags WHERE project_id = %s AND tag_key = %s"
                    " AND tag_value = %s",
                    (project_id, *hidden),
                )
                found = q.filter_events_by_tags(conn, project_id, both, since=week)
                assert len(found) == expected, (walked, hidden)
        _times_seen(conn, project_id, key, value, 1)
    # No store row for a pair: it counts as none, and is walked.
    conn.execute(
        "DELETE FROM project_tag_values WHERE project_id = %s AND tag_key = 'release'",
        (project_id,),
    )
    found = q.filter_events_by_tags(conn, project_id, both, since=week)
    assert [e.message for e in found] == ["r1-2", "r1-1", "r1-0"]
    assert q.filter_events_by_tags(conn, project_id, {"env": "prod", "late": "yes"}) == []


def _filter_function(conn: Conn) -> tuple[str, str, list[str]]:
    """The SQL function filter_events_by_tags (migration 0019): its walk and
    its page statements, arguments and variables written %(name)s, and its
    settings."""
    row = conn.execute(
        "SELECT prosrc, coalesce(proconfig, '{}') FROM pg_proc"
        " WHERE proname = 'filter_events_by_tags'"
    ).fetchone()
    assert row is not None
    walk = re.search(r"(SELECT\s+count\(\*\),.*?)\s+INTO[^\n]*(.*?);", row[0], re.S)
    page = re.findall(r"RETURN QUERY(.*?);", row[0], re.S)[-1]  # the last: the page
    assert walk is not None, row[0]
    return (
        re.sub(r"\b[pv]_(\w+)", r"%(\1)s", walk.group(1) + walk.group(2)),
        re.sub(r"\b[pv]_(\w+)", r"%(\1)s", page),
        row[1],
    )


def _reads_one_pair(conn: Conn, tree: dict[str, Any], *, sorted_page: bool) -> None:
    """The plan reads event_tags and events by their primary keys only: the
    walk newest first, stopping at the limit, with no sort; the page a range
    of event_tags' and a sort of its events (``sorted_page``)."""
    found = nodes(tree)
    kinds = [n["Node Type"] for n in found]
    assert "Limit" in kinds and "Nested Loop" in kinds, kinds  # (Citus: under its scan)
    assert not {"Seq Scan", "Bitmap Heap Scan"} & set(kinds), kinds
    assert ("Sort" in kinds) is sorted_page, kinds
    walked = {  # the partitions' primary keys: event_tags_20261127_pkey, ...
        re.sub(r"_([0-9]{8}|default)_pkey$", "", name)
        for n in found
        if (name := logical_name(conn, n.get("Index Name") or "")).endswith("_pkey")
    }
    assert walked == {"event_tags", "events"}, found


def test_filter_plan_is_one_walk_for_any_value(
    conn: Conn, owner_conn: Conn, project_id: uuid.UUID
) -> None:
    """The function's statements read one pair's rows by primary key, planned
    for the values (custom) and as calls through the layer run them: on the
    generic plan (auto_explain logs the statements run inside functions),
    on every call, whatever the values; their conditions are parameters, not
    the call's values. On Citus, which plans per call by the values, the
    setting is reset (after_migrate.sql): the custom plan is checked."""
    ingest_events(conn, project_id, [{"message": "a", "tags": {"k": "v"}}] * 3)
    conn.execute("ANALYZE event_tags, events, project_tag_values")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    params = {
        "project_id": project_id,
        "tags": Jsonb({"k": "v"}),
        "tag_key": "k",
        "tag_value": "v",
        "since": since,
        "bound": since,
        "page_size": 2,
    }
    walk_statement, page_statement, config = _filter_function(conn)
    citus = on_citus(conn)
    _reads_one_pair(conn, statement_plan(conn, walk_statement, params, generic=False),
                    sorted_page=False)  # fmt: skip
    _reads_one_pair(conn, statement_plan(conn, page_statement, params, generic=False),
                    sorted_page=True)  # fmt: skip
    assert ("plan_cache_mode=force_generic_plan" in config) is not citus, config
    if citus:  # auto_explain's EXPLAIN of a distributed statement aborts its transaction
        assert len(q.filter_events_by_tags(conn, project_id, {"k": "v"}, limit=2)) == 2
        return

    conn.commit()
    conn = owner_conn  # LOAD 'auto_explain' is a superuser's
    logged: list[str] = []
    conn.add_notice_handler(lambda d: logged.append(d.message_primary or ""))
    conn.execute("LOAD 'auto_explain'")
    for setting in ("log_min_duration = 0", "log_nested_statements = on", "log_format = json"):
        conn.execute(f"SET auto_explain.{setting}")
    conn.execute("SET client_min_messages = log")
    days = (7, 1, 3, 7, 2, 7, 5, 7)  # first calls and later ones, other values
    tags = {"k": "v"}
    for n, back in enumerate(days):
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=back)
        assert len(q.filter_events_by_tags(conn, project_id, tags, since=start, limit=2)) == 2
        assert len(q.filter_events_by_tags(conn, project_id, tags, limit=n + 1)) == min(3, n + 1)
    conn.execute("RESET client_min_messages")
    plans = [
        (json.loads(message.split("plan:", 1)[1]), "count(*)" not in message)
        for message in logged
        if "plan:" in message and "event_tags AS t" in message
    ]
    # Every call walks; a call that finds its limit (2, or n + 1 <= 3 of the 3
    # events) reads its page too, and one that finds fewer returns them.
    walks, pages = 2 * len(days), len(days) + 3
    assert sorted(page for _, page in plans) == [False] * walks + [True] * pages, logged
    for explained, page in plans:
        text = json.dumps(explained["Plan"])
        _reads_one_pair(conn, explained["Plan"], sorted_page=page)
        conditions = " ".join(re.findall(r'"(?:Index Cond|Filter)": "([^"]*)"', text))
        assert "$1" in conditions, conditions  # project_id
        assert page or "$3" in conditions, conditions  # since
        assert str(project_id) not in text and "'k'" not in text, text  # no values


def test_json_comes_back_as_stored_whatever_the_connections_loader(
    conn: Conn, project_id: uuid.UUID
) -> None:
    """The layer decodes its rows' JSON itself (mesher._sql._decode_json: a faster
    parser, and json.loads past its nesting limit), on its own cursors: values
    equal json.loads of the stored text, on every call, and a loader the
    caller set on the connection neither changes them nor is changed."""
    import json

    from psycopg.types.json import set_json_loads

    deep: object = "bottom"
    for _ in range(250):  # past pydantic-core's 200 levels
        deep = {"n": deep}
    extra = {
        "deep": deep,
        "big": 2**70,
        "small": 1.5e-300,
        "pi": 3.141592653589793,
        "neg": -0.0,
        "text": 'é😀\u2028 "q" \\',
        "list": [None, True, False, 0, "", {}, []],
    }
    done = ingest_event(conn, project_id, {"message": "j", "tags": {"k": "j"}, "extra": extra})
    (stored,) = conn.execute("SELECT extra::text FROM events WHERE id = %s", [done.event_id])
    expected = json.loads(stored[0])
    assert expected["deep"] == deep and expected["big"] == 2**70
    set_json_loads(lambda _: "the caller's", conn)
    for _ in range(3):  # the first call of a query, and the calls after it
        assert q.get_event(conn, project_id, done.event_id).extra == expected
        (found,) = q.filter_events_by_tags(conn, project_id, {"k": "j"})
        assert found.extra == expected
    assert conn.execute("SELECT '{}'::jsonb").fetchone() == ("the caller's",)


def test_event_volume_and_level_breakdown(conn: Conn, project_id: uuid.UUID) -> None:
    ingest_events(conn, project_id, [{"message": "a"}] * 3 + [{"message": "w", "level": "warning"}])
    hours = q.event_volume(conn, project_id, "hour")
    assert len(hours) in (24, 25)
    assert sum(n for _, n in hours) == 4 and hours[-1][1] == 4
    assert all(b.minute == 0 and b.utcoffset() == dt.timedelta(0) for b, _ in hours)
    days = q.event_volume(conn, project_id, "day", dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    assert len(days) == 4 and days[-1][1] == 4 and sum(n for _, n in days[:-1]) == 0
    with pytest.raises(InvalidInput, match="bucket must be"):
        q.event_volume(conn, project_id, "minute")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="too far back"):
        q.event_volume(conn, project_id, "hour", dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    breakdown = q.level_breakdown(conn, project_id)
    assert breakdown == {**{s: 0 for s in Severity}, Severity.ERROR: 3, Severity.WARNING: 1}


# --- plans ---------------------------------------------------------------------


def test_get_event_touches_only_its_partitions(owner_conn: Conn, project_id: uuid.UUID) -> None:
    conn = owner_conn  # partition DDL is the owner's

    partitions.create_partitions_ahead(conn, 30)
    for back in range(1, 10):
        partitions.create_partition(conn, dt.datetime.now(dt.UTC).date() - dt.timedelta(days=back))
    total = conn.execute(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass"
    ).fetchone()[0]
    assert total >= 40
    event_id = ingest_event(conn, project_id, {"message": "x"}).event_id
    at = dt.datetime.fromtimestamp((event_id.int >> 80) / 1000, dt.UTC)
    found = plan(
        conn,
        "get_event",
        {
            "project_id": project_id,
            "id": event_id,
            "not_before": at - EVENT_TIME_SLACK,
            "not_after": at + EVENT_TIME_SLACK,
        },
    )
    # on the Citus tier, the worker's plan scans the partitions' shards
    scanned = {logical_name(conn, n["Relation Name"]) for n in nodes(found) if "Relation Name" in n}
    # one or two days' partitions (a window across midnight), then the
    # event's issue and project rows (is either deleted?)
    assert 1 <= len(scanned - {"issues", "projects"}) <= 2, scanned
    assert f"events_{at:%Y%m%d}" in scanned
    assert all(
        n["Node Type"] in ("Index Scan", "Bitmap Heap Scan", "Bitmap Index Scan")
        for n in nodes(found)
        if "Relation Name" in n
    )


def test_rows_read_without_revalidation_equal_validated_models(
    conn: Conn, project_id: uuid.UUID
) -> None:
    """get_event and the API-key lookups build their models from the rows
    without validating them again (mesher._results.trusted): the result must be
    the model that validation would have built, types included."""
    from mesher._results import event_from_row, project_from_row
    from mesher._sentry_event import normalize_event
    from mesher.ingest import write_sentry_events
    from mesher.models import Event, Project
    from tests.sentry_envelopes import capture, event_payloads, explicit_chain

    native = ingest_event(
        conn,
        project_id,
        {
            "message": "boom",
            "level": "warning",
            "exception": {"type_name": "KeyError", "value": "x"},
            "stacktrace": [{"filename": "a.py", "function_name": "f", "lineno": 3}],
            "breadcrumbs": [{"timestamp": "2026-01-02T03:04:05Z", "level": "info"}],
            "tags": {"env": "prod"},
        },
    )
    (sentry,) = write_sentry_events(
        conn, project_id, [normalize_event(event_payloads(capture(explicit_chain))[0])]
    )
    for ingested in (native, sentry):
        event = q.get_event(conn, project_id, ingested.event_id)
        row = sync_queries().get_event(
            conn,
            project_id=project_id,
            id=ingested.event_id,
            not_before=event.received_at - dt.timedelta(seconds=1),
            not_after=event.received_at + dt.timedelta(seconds=1),
        )
        assert event == Event.model_validate(row)
        assert event.model_dump() == Event.model_validate(row).model_dump()
        assert event_from_row(dict(row)) == Event.model_validate(row)
    assert isinstance(
        q.get_event(conn, project_id, native.event_id).breadcrumbs[0]["timestamp"], dt.datetime
    )
    row = conn.execute("SELECT * FROM projects WHERE id = %s", (project_id,)).fetchone()
    assert row is not None
    names = list(Project.model_fields)
    values = dict(
        zip(
            [c.name for c in conn.execute("SELECT * FROM projects LIMIT 0").description],
            row,
            strict=False,
        )
    )
    assert project_from_row({n: values[n] for n in names}) == Project.model_validate(values)
