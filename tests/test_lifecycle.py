"""Merge and unmerge (migration 0021, sql/queries/fingerprints.sql): after
every merge and unmerge, every helper agrees with a brute-force recount from
the stored events (counts, levels, times, fingerprints, tag facets, hourly
sparklines, releases, users, event lists, status counts); a randomized run
interleaves ingest, merges and unmerges; merges and unmerges run while
writers ingest into the same fingerprints; an unmerge whose process is
killed between chunks (migration 0027) leaves every read agreeing with the
events each issue holds, and is finished by resume_unmerges or by the
project's next unmerge."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mesher import queries as q
from mesher import sentry
from mesher.aio import queries as aq
from mesher.errors import Conflict, InvalidInput, NotFound
from mesher.fingerprint import fingerprint
from mesher.ingest import ingest_event, ingest_events, user_key
from mesher.maintenance import maintain
from mesher.models import EventPayload, IngestedEvent, IssueStatus, Severity
from mesher.queries import fingerprints as fingerprints_module

from .helpers import Conn

pytestmark = pytest.mark.citus

LEVELS = ["debug", "info", "warning", "error", "fatal"]


def fp(group: str) -> str:
    """The stored fingerprint of a group's events."""
    return fingerprint(EventPayload(fingerprint=group))


def _event(group: str, i: int = 0, level: str = "error") -> dict[str, Any]:
    return {
        "message": f"boom {i}",
        "level": level,
        "fingerprint": group,
        "tags": {"browser": ["firefox", "chrome", "safari"][i % 3], "group": group},
        # users: by id (an integer: see event_user_key), by email (a blank id), and none
        "user_context": [{"id": i % 4}, {"id": " ", "email": f"{group}@x.org"}, {}][i % 3],
    }


def _ingest(conn: Conn, project_id: Any, group: str, n: int, level: str = "error") -> uuid.UUID:
    results = ingest_events(conn, project_id, [_event(group, i, level) for i in range(n)])
    conn.commit()
    return results[0].issue_id


def _fp(conn: Conn, project_id: Any, issue_id: uuid.UUID) -> list[str]:
    return [f.fingerprint for f in q.list_issue_fingerprints(conn, project_id, issue_id)]


def _check(conn: Conn, project_id: Any, strays: frozenset[str] = frozenset()) -> None:
    """Every helper against a recount from the events. While an unmerge is
    in progress (issue_unmerges), its two issues' first and last seen, level
    and fingerprints are already those of their fingerprints, when their
    events are not all moved yet: those are left to the check after it.
    ``strays``: fingerprints whose events may stay without their row (an
    unmerge whose new issue was deleted before its events were moved)."""
    cur = conn.cursor()
    moving = {
        i
        for row in cur.execute(
            "SELECT new_issue_id, old_issue_id FROM issue_unmerges WHERE project_id = %s",
            [project_id],
        )
        for i in row
    }
    visible = cur.execute(
        "SELECT id, status FROM issues WHERE project_id = %s"
        " AND merged_into IS NULL AND deleted_at IS NULL",
        [project_id],
    ).fetchall()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    sparks = q.issue_sparklines(conn, [i for i, _ in visible], since, project_id=project_id)
    total = 0
    for issue_id, status in visible:
        lineage = [
            r[0]
            for r in cur.execute(
                "SELECT id FROM issues WHERE id = %s OR merged_into = %s", [issue_id, issue_id]
            )
        ]
        events = cur.execute(
            "SELECT id, level, fingerprint, received_at, tags, user_context, release,"
            " coalesce(environment, '') FROM events"
            " WHERE project_id = %s AND issue_id = any(%s)",
            [project_id, lineage],
        ).fetchall()
        total += len(events)
        issue = q.get_issue(conn, issue_id, project_id=project_id)
        assert issue.status == status
        assert issue.event_count == len(events)
        assert events or issue_id in moving  # a new issue whose unmerge moved none yet
        if issue_id not in moving and not set(lineage) & moving:
            assert issue.first_seen == min(e[3] for e in events)
            assert issue.last_seen == max(e[3] for e in events)
            assert issue.level == max((Severity(e[1]) for e in events), key=LEVELS.index)
        users = {user_key(e[5]) for e in events} - {None}
        assert issue.user_count == len(users)
        # the event list: every event of the lineage, newest first, by pages
        listed = q.list_events_for_issue(conn, issue_id, project_id=project_id, limit=7)
        ids = [e.id for e in listed.items]
        while listed.next_cursor:
            listed = q.list_events_for_issue(
                conn, issue_id, project_id=project_id, limit=7, cursor=listed.next_cursor
            )
            ids += [e.id for e in listed.items]
        assert sorted(ids) == sorted(e[0] for e in events)
        # fingerprints: each one's events are all in this issue's lineage
        fps = q.list_issue_fingerprints(conn, project_id, issue_id)
        by_fp = Counter(e[2] for e in events)
        for f in fps if issue_id not in moving and not set(lineage) & moving else []:
            mine = [e for e in events if e[2] == f.fingerprint]
            assert f.event_count == len(mine)
            assert f.first_seen == min(e[3] for e in mine)
            assert f.last_seen == max(e[3] for e in mine)
        known = {f.fingerprint for f in fps} | _moving_fingerprints(cur, lineage) | strays
        assert set(by_fp) <= known
        # releases: per release and environment, as issue_releases keeps them
        releases = Counter((e[6], e[7]) for e in events if e[6] is not None)
        stored_releases = cur.execute(
            "SELECT release, environment, event_count FROM issue_releases"
            " WHERE project_id = %s AND issue_id = %s",
            [project_id, issue_id],
        ).fetchall()
        assert {(r, env): n for r, env, n in stored_releases} == dict(releases)
        # facets: exact counts; first and last seen hold every event's time
        pairs: dict[tuple[str, str], list[dt.datetime]] = {}
        for e in events:
            for key, value in e[4].items():
                pairs.setdefault((key, value), []).append(e[3])
        stored = cur.execute(
            "SELECT tag_key, tag_value, times_seen, first_seen, last_seen FROM issue_tag_values"
            " WHERE project_id = %s AND issue_id = %s",
            [project_id, issue_id],
        ).fetchall()
        assert {(k, v): n for k, v, n, _, _ in stored} == {k: len(t) for k, t in pairs.items()}
        for k, v, _, first, last in stored:
            assert first <= min(pairs[(k, v)]) and last >= max(pairs[(k, v)])
        facets = q.issue_tag_facets(conn, issue_id, project_id=project_id)
        assert {(f.key, v.value): v.count for f in facets for v in f.top_values} == {
            k: len(t) for k, t in pairs.items()
        }
        # sparklines
        hours = Counter(e[3].replace(minute=0, second=0, microsecond=0) for e in events)
        assert {b: n for b, n in sparks[issue_id] if n} == dict(hours)
    # no event is lost or counted twice, no rollup row is left on a hidden issue
    assert (
        total
        == cur.execute(
            "SELECT count(*) FROM events AS e JOIN issues AS i"
            " ON i.project_id = e.project_id AND i.id = e.issue_id"
            " WHERE e.project_id = %s AND i.deleted_at IS NULL",
            [project_id],
        ).fetchone()[0]
    )  # type: ignore[index]
    assert not cur.execute(
        "SELECT 1 FROM issue_tag_values v JOIN issues i"
        " ON i.project_id = v.project_id AND i.id = v.issue_id"
        " WHERE i.project_id = %s AND (i.merged_into IS NOT NULL OR v.times_seen <= 0)",
        [project_id],
    ).fetchall()
    assert not cur.execute(
        "SELECT 1 FROM issue_users WHERE project_id = %s AND times_seen <= 0"
        " UNION ALL SELECT 1 FROM issue_hourly_counts WHERE project_id = %s AND event_count <= 0"
        " UNION ALL SELECT 1 FROM issue_releases WHERE project_id = %s AND event_count <= 0",
        [project_id] * 3,
    ).fetchall()
    assert q.count_issues_by_status(conn, project_id) == {
        s: sum(1 for _, st in visible if st == s.value) for s in IssueStatus
    }
    listed_ids = {i.id for i in q.list_issues(conn, project_id, limit=500).items}
    assert listed_ids == {i for i, _ in visible}
    searched = q.search_issues(conn, project_id, "", limit=500).items
    assert {i.id for i in searched} == listed_ids
    conn.rollback()


def _moving_fingerprints(cur: Any, lineage: list[uuid.UUID]) -> set[str]:
    """The fingerprints an unmerge in progress moves away from these issues
    (their events not all moved yet)."""
    rows = cur.execute(
        "SELECT unnest(fingerprints) FROM issue_unmerges WHERE from_issue_ids && %s",
        [lineage],
    ).fetchall()
    return {r[0] for r in rows}


def test_merge_adds_up_and_every_read_agrees(conn: Conn, project_id: Any) -> None:
    a = _ingest(conn, project_id, "a", 5, "warning")
    b = _ingest(conn, project_id, "b", 3, "fatal")
    c = _ingest(conn, project_id, "c", 4, "info")
    q.resolve_issue(conn, c, project_id=project_id)
    conn.commit()
    before = {i: q.get_issue(conn, i) for i in (a, b, c)}
    merged = q.merge_issues(conn, project_id, a, [b, c])
    conn.commit()
    assert merged.id == a and merged.event_count == 12
    assert merged.level == Severity.FATAL
    assert merged.first_seen == before[a].first_seen
    assert merged.last_seen == before[c].last_seen
    assert q.get_issue(conn, b).id == a  # a merged id answers the target
    assert q.get_issue(conn, c, project_id=project_id) == merged
    assert sorted(_fp(conn, project_id, b)) == sorted(fp(g) for g in "abc")
    _check(conn, project_id)
    # new events of a source's fingerprint land in the target
    result = ingest_event(conn, project_id, _event("b", 9))
    conn.commit()
    assert result.issue_id == a and not result.new_issue
    assert q.get_issue(conn, a).event_count == 13
    _check(conn, project_id)


def test_unmerge_moves_past_and_future_events(
    conn: Conn, project_id: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fingerprints_module, "UNMERGE_CHUNK", 4)  # several chunks
    a = _ingest(conn, project_id, "a", 6)
    b = _ingest(conn, project_id, "b", 9, "fatal")
    c = _ingest(conn, project_id, "c", 2)
    q.merge_issues(conn, project_id, a, [b])
    conn.commit()
    _ingest(conn, project_id, "b", 3, "debug")  # into a, after the merge
    q.merge_issues(conn, project_id, c, [a])  # a chain: b's events carry b's and a's ids
    conn.commit()
    _check(conn, project_id)
    new = q.unmerge_issue(conn, project_id, c, [fp("b")])
    assert new.id not in (a, b, c) and new.event_count == 12
    assert new.status == IssueStatus.UNRESOLVED and new.level == Severity.FATAL
    assert _fp(conn, project_id, new.id) == [fp("b")]
    assert sorted(_fp(conn, project_id, c)) == sorted([fp("a"), fp("c")])
    assert q.get_issue(conn, c).event_count == 8
    assert q.get_issue(conn, c).level == Severity.ERROR
    _check(conn, project_id)
    result = ingest_event(conn, project_id, _event("b", 1))
    conn.commit()
    assert result.issue_id == new.id
    _check(conn, project_id)


def test_merge_and_unmerge_refuse_what_they_cannot_do(conn: Conn, project_id: Any) -> None:
    a = _ingest(conn, project_id, "a", 1)
    b = _ingest(conn, project_id, "b", 1)
    with pytest.raises(InvalidInput, match="target_id"):
        q.merge_issues(conn, project_id, a, [a, b])
    with pytest.raises(InvalidInput, match="at least one"):
        q.merge_issues(conn, project_id, a, [])
    with pytest.raises(NotFound):
        q.merge_issues(conn, project_id, a, [uuid.uuid4()])
    with pytest.raises(NotFound):
        q.list_issue_fingerprints(conn, project_id, uuid.uuid4())
    conn.rollback()
    q.merge_issues(conn, project_id, a, [b])
    conn.commit()
    with pytest.raises(Conflict, match="merged into"):
        q.merge_issues(conn, project_id, b, [a])
    conn.rollback()
    with pytest.raises(InvalidInput, match="not all"):
        q.unmerge_issue(conn, project_id, a, [fp("a"), fp("b")])
    with pytest.raises(InvalidInput, match="some of"):
        q.unmerge_issue(conn, project_id, a, ["zzz"])
    q.get_issue(conn, a)  # a transaction is open now
    with pytest.raises(InvalidInput, match="outside a transaction"):
        q.unmerge_issue(conn, project_id, a, [fp("b")])
    conn.rollback()
    with pytest.raises(Conflict):
        q.unmerge_issue(conn, project_id, b, [fp("b")])
    _check(conn, project_id)


def test_a_randomized_run_agrees_with_the_recount(
    conn: Conn, project_id: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Native and Sentry batches (releases, environments, users), merges,
    unmerges, unmerges cut short between chunks and their resumes, in a
    random order; every read against the recount after each merge and
    unmerge, and at the end."""
    rng = random.Random(24)
    groups = [f"g{i}" for i in range(6)]
    monkeypatch.setattr(fingerprints_module, "UNMERGE_CHUNK", 3)
    # many windows of event ids too (a day in production), some of them empty
    monkeypatch.setattr(fingerprints_module, "UNMERGE_WINDOW", dt.timedelta(milliseconds=50))
    real = fingerprints_module.q.fingerprints.move_unmerged_events
    cut: list[int] = []

    def cut_short(*args: Any, **kwargs: Any) -> Any:
        if cut and len(cut) == cut[0]:
            raise RuntimeError("cut short")
        cut.append(0)
        return real(*args, **kwargs)

    monkeypatch.setattr(fingerprints_module.q.fingerprints, "move_unmerged_events", cut_short)
    actions: Counter[str] = Counter()
    for step in range(40):
        action = rng.random()
        if action < 0.25:
            batch = [
                _event(rng.choice(groups), i, rng.choice(LEVELS)) for i in range(rng.randint(1, 6))
            ]
            ingest_events(conn, project_id, batch)
            conn.commit()
            actions["native"] += 1
            continue
        if action < 0.45:
            for i in range(rng.randint(1, 4)):
                _send(conn, project_id, rng.choice(groups), step + i)
            actions["sentry"] += 1
            continue
        live = [i.id for i in q.list_issues(conn, project_id, limit=100).items]
        conn.rollback()
        if action < 0.65 and len(live) >= 2:
            target, *sources = rng.sample(live, rng.randint(2, min(3, len(live))))
            q.merge_issues(conn, project_id, target, sources)
            conn.commit()
            actions["merge"] += 1
        elif action < 0.92:
            several = [i for i in live if len(q.list_issue_fingerprints(conn, project_id, i)) > 1]
            conn.rollback()
            if not several:
                continue
            issue = rng.choice(several)
            fps = _fp(conn, project_id, issue)
            conn.rollback()
            cut[:] = [rng.randint(1, 3)] if action >= 0.8 else []
            actions["resumed"] += len(_pending(conn, project_id))  # unmerge_issue resumes them
            try:
                q.unmerge_issue(conn, project_id, issue, rng.sample(fps, len(fps) - 1))
                actions["unmerge"] += 1
            except RuntimeError:
                conn.rollback()
                actions["cut short"] += 1
            cut.clear()
        else:
            actions["resumed"] += q.resume_unmerges(conn, project_id)
        _check(conn, project_id)
    actions["resumed"] += q.resume_unmerges(conn, project_id)
    assert _pending(conn, project_id) == []
    _check(conn, project_id)
    assert min(actions[a] for a in ("native", "sentry", "merge", "unmerge", "cut short")) > 0
    assert actions["resumed"] > 0, actions


def test_merges_while_writers_ingest_lose_nothing(
    conn: Conn, app_url: str, project_id: Any
) -> None:
    groups = ["w0", "w1", "w2", "w3"]
    ids = {g: _ingest(conn, project_id, g, 1) for g in groups}
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def write(k: int) -> None:
        rng = random.Random(k)
        count = 0
        try:
            with psycopg.connect(app_url) as own:
                while not stop.is_set():
                    batch = [_event(rng.choice(groups), i) for i in range(rng.randint(1, 5))]
                    ingest_events(own, project_id, batch)
                    own.commit()
                    count += len(batch)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        written.append(count)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        for round_ in range(6):
            target, *sources = groups if round_ % 2 == 0 else groups[::-1]
            live_target = q.get_issue(conn, ids[target]).id
            live_sources = [
                i for i in {q.get_issue(conn, ids[s]).id for s in sources} if i != live_target
            ]
            if live_sources:
                q.merge_issues(conn, project_id, live_target, live_sources)
            conn.commit()
            fps = _fp(conn, project_id, live_target)
            conn.rollback()
            by_fp = {fp(g): g for g in groups}
            for f in [f for f in fps if by_fp[f] != target][:2]:
                ids[by_fp[f]] = q.unmerge_issue(conn, project_id, live_target, [f]).id
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert sum(written) > 0
    total = conn.execute(
        "SELECT sum(event_count) FROM issues WHERE project_id = %s AND merged_into IS NULL",
        [project_id],
    ).fetchone()
    assert total is not None and total[0] == sum(written) + len(groups)
    conn.rollback()
    _check(conn, project_id)


def test_the_async_helpers(app_url: str, project_id: Any) -> None:
    from mesher.aio.ingest import ingest_events as aingest

    async def body() -> None:
        async with await psycopg.AsyncConnection.connect(app_url) as aconn:
            a = (await aingest(aconn, project_id, [_event("a")]))[0].issue_id
            b = (await aingest(aconn, project_id, [_event("b")]))[0].issue_id
            await aconn.commit()
            merged = await aq.merge_issues(aconn, project_id, a, [b])
            await aconn.commit()
            assert merged.event_count == 2
            fps = await aq.list_issue_fingerprints(aconn, project_id, b)
            assert sorted(f.fingerprint for f in fps) == sorted([fp("a"), fp("b")])
            await aconn.rollback()
            new = await aq.unmerge_issue(aconn, project_id, a, [fp("b")])
            assert new.event_count == 1 and new.fingerprint == fp("b")

    asyncio.run(body())


# --- an unmerge cut short (migration 0027) -----------------------------------------

#: Runs unmerge_issue in chunks of 4 and SIGKILLs its own process inside the
#: third chunk's transaction: two chunks committed, the third never.
KILLED_UNMERGE = """
import os, signal, sys
import psycopg
from mesher import queries as q
from mesher.queries import fingerprints as module

module.UNMERGE_CHUNK = 4
real = module.q.fingerprints.move_unmerged_events
calls = []

def dying(*args, **kwargs):
    calls.append(None)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

module.q.fingerprints.move_unmerged_events = dying
with psycopg.connect(sys.argv[1]) as conn:
    q.unmerge_issue(conn, sys.argv[2], sys.argv[3], [sys.argv[4]])
"""


def _send(conn: Conn, project_id: Any, group: str, i: int) -> IngestedEvent:
    """A Sentry event with tags, a user, a release and an environment."""
    event = {
        "event_id": uuid.uuid4().hex,
        "message": f"boom {i}",
        "level": ["warning", "error", "fatal"][i % 3] if group == "b" else "info",
        "fingerprint": [group],
        "tags": {"browser": ["firefox", "chrome", "safari"][i % 3]},
        "user": [{"id": i % 4}, {"email": f"{group}@x.org"}, {"ip_address": "10.0.0.1"}][i % 3],
        "release": ["1.0", "2.0"][i % 2],
        "environment": "prod" if i % 4 else "staging",
    }
    result = sentry.ingest_store(conn, project_id, json.dumps(event).encode())
    conn.commit()
    assert isinstance(result, IngestedEvent)
    return result


def _pending(conn: Conn, project_id: Any) -> list[uuid.UUID]:
    rows = conn.execute(
        "SELECT new_issue_id FROM issue_unmerges WHERE project_id = %s", [project_id]
    ).fetchall()
    conn.rollback()
    return [r[0] for r in rows]


def _held(conn: Conn, issue_id: uuid.UUID) -> int:
    row = conn.execute("SELECT count(*) FROM events WHERE issue_id = %s", [issue_id]).fetchone()
    conn.rollback()
    assert row is not None
    return int(row[0])


def _two_issues(conn: Conn, project_id: Any) -> tuple[uuid.UUID, str]:
    """Issue a (5 events) with b (22 events) merged into it, and b's
    fingerprint: b's events carry two ids (b's, and a's after the merge)."""
    a = {_send(conn, project_id, "a", i).issue_id for i in range(5)}.pop()
    b = {_send(conn, project_id, "b", i).issue_id for i in range(20)}.pop()
    q.merge_issues(conn, project_id, a, [b])
    conn.commit()
    for i in (20, 21):
        assert _send(conn, project_id, "b", i).issue_id == a
    (fb,) = [
        f.fingerprint for f in q.list_issue_fingerprints(conn, project_id, b) if f.event_count == 22
    ]
    conn.rollback()
    _check(conn, project_id)
    return a, fb


def test_an_unmerge_killed_between_chunks_stays_consistent_and_resumes(
    conn: Conn, app_url: str, project_id: Any
) -> None:
    a, fb = _two_issues(conn, project_id)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_UNMERGE, app_url, str(project_id), str(a), fb],
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    # cut short: the fingerprint is the new issue's, two chunks of its events too
    (new,) = _pending(conn, project_id)
    assert _held(conn, new) == 8
    assert _fp(conn, project_id, new) == [fb]
    conn.rollback()
    assert q.get_issue(conn, new).event_count == 8
    assert q.get_issue(conn, a).event_count == 5 + 14
    conn.rollback()
    _check(conn, project_id)  # counts, event lists, facets, sparklines, releases, users
    # meanwhile, a new event of the fingerprint lands in the new issue
    assert _send(conn, project_id, "b", 22).issue_id == new
    _check(conn, project_id)
    with pytest.raises(InvalidInput, match="outside a transaction"):
        q.get_issue(conn, new)
        q.resume_unmerges(conn, project_id)
    conn.rollback()
    assert q.resume_unmerges(conn, project_id) == 1
    assert q.resume_unmerges(conn, project_id) == 0
    assert _pending(conn, project_id) == [] and _held(conn, new) == 23
    assert q.get_issue(conn, new).event_count == 23
    assert q.get_issue(conn, a).event_count == 5
    conn.rollback()
    _check(conn, project_id)


def test_the_next_unmerge_finishes_one_whose_connection_was_lost(
    conn: Conn, app_url: str, project_id: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, fb = _two_issues(conn, project_id)
    c = _ingest(conn, project_id, "c", 3)
    q.merge_issues(conn, project_id, a, [c])
    conn.commit()
    monkeypatch.setattr(fingerprints_module, "UNMERGE_CHUNK", 4)
    real = fingerprints_module.q.fingerprints.move_unmerged_events
    calls: list[None] = []
    with psycopg.connect(app_url) as lost:

        def closing(*args: Any, **kwargs: Any) -> Any:
            calls.append(None)
            if len(calls) == 4:  # inside the fourth chunk's transaction
                lost.close()
            return real(*args, **kwargs)

        monkeypatch.setattr(fingerprints_module.q.fingerprints, "move_unmerged_events", closing)
        with pytest.raises(Exception, match="closed"):
            q.unmerge_issue(lost, project_id, a, [fb])
    monkeypatch.setattr(fingerprints_module.q.fingerprints, "move_unmerged_events", real)
    (new,) = _pending(conn, project_id)
    assert _held(conn, new) == 12
    _check(conn, project_id)
    # an unmerge on the new issue's old one finishes the first before it starts
    newer = q.unmerge_issue(conn, project_id, a, [fp("c")])
    assert _pending(conn, project_id) == []
    assert _held(conn, new) == 22 and _held(conn, newer.id) == 3
    assert q.get_issue(conn, a).event_count == 5
    conn.rollback()
    _check(conn, project_id)


def _unmerge_cut_short(
    conn: Conn, project_id: Any, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> tuple[Any, str]:
    """Two issues merged (``_two_issues``), then an unmerge of the source's
    fingerprint in chunks of ``chunk`` events, cut short in its second chunk:
    the unmerge stays pending. Returns the target and that fingerprint."""
    a, fb = _two_issues(conn, project_id)
    monkeypatch.setattr(fingerprints_module, "UNMERGE_CHUNK", chunk)
    real = fingerprints_module.q.fingerprints.move_unmerged_events
    calls: list[None] = []

    def failing(conn_: Any, **kwargs: Any) -> Any:
        calls.append(None)
        if len(calls) == 2:
            raise RuntimeError("cut short")
        return real(conn_, **kwargs)

    monkeypatch.setattr(fingerprints_module.q.fingerprints, "move_unmerged_events", failing)
    with pytest.raises(RuntimeError, match="cut short"):
        q.unmerge_issue(conn, project_id, a, [fb])
    monkeypatch.setattr(fingerprints_module.q.fingerprints, "move_unmerged_events", real)
    return a, fb


def test_an_unmerge_whose_issue_was_deleted_is_forgotten(
    conn: Conn, project_id: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, fb = _unmerge_cut_short(conn, project_id, monkeypatch, chunk=4)
    (new,) = _pending(conn, project_id)
    q.delete_issue(conn, project_id, new)
    conn.commit()
    assert q.resume_unmerges(conn, project_id) == 1
    assert _pending(conn, project_id) == []
    # the events moved go with the deleted issue; the others stay, and count, in a
    assert _held(conn, new) == 4
    assert q.get_issue(conn, a).event_count == 5 + 18
    conn.rollback()
    _check(conn, project_id, strays=frozenset([fb]))


def test_maintain_finishes_an_unmerge_cut_short(
    conn: Conn, db_url: str, project_id: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = _unmerge_cut_short(conn, project_id, monkeypatch, chunk=4)
    conn.rollback()
    (new,) = _pending(conn, project_id)
    conn.rollback()
    with psycopg.connect(db_url, autocommit=True) as owner:
        report = maintain(owner)
        assert report.resumed_unmerges == 1
        assert "finish cut-short unmerges: finished 1" in report.lines()
        assert maintain(owner).resumed_unmerges == 0
    assert _pending(conn, project_id) == [] and _held(conn, new) == 22
    assert q.get_issue(conn, a).event_count == 5
    conn.rollback()
    _check(conn, project_id)


def test_maintain_skips_an_unmerge_whose_issue_stays_locked(
    conn: Conn, db_url: str, project_id: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """maintain's chunks of a cut-short unmerge wait at most LOCK_TIMEOUT_MS
    for a lock, like its other steps: an issue held by another transaction
    leaves the unmerge to the next run (skipped, still pending, consistent)
    and the later steps still run, where it waited for the holder (here:
    until the session's 5 s lock_timeout, and maintain failed)."""
    from mesher import maintenance

    monkeypatch.setattr(maintenance, "LOCK_TIMEOUT_MS", 100)
    a, _ = _unmerge_cut_short(conn, project_id, monkeypatch, chunk=4)
    conn.rollback()
    (new,) = _pending(conn, project_id)
    conn.rollback()
    with psycopg.connect(db_url) as holder, psycopg.connect(db_url, autocommit=True) as owner:
        holder.execute(
            "SELECT FROM issues WHERE project_id = %s AND id = %s FOR UPDATE", (project_id, a)
        )
        owner.execute("SET lock_timeout = '5s'")
        report = maintenance.maintain(owner)
        assert report.skipped == [maintenance.RESUME_UNMERGES]
        assert report.resumed_unmerges == 0
        holder.rollback()
        assert _pending(conn, project_id) == [new]
        conn.rollback()
        _check(conn, project_id)  # consistent meanwhile
        assert maintenance.maintain(owner).resumed_unmerges == 1
    assert _pending(conn, project_id) == [] and _held(conn, new) == 22
    conn.rollback()
    _check(conn, project_id)


def test_two_resumes_at_once_move_each_event_once(
    conn: Conn, app_url: str, project_id: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unmerge_cut_short(conn, project_id, monkeypatch, chunk=2)
    conn.rollback()
    (new,) = _pending(conn, project_id)
    barrier = threading.Barrier(2)
    finished: list[int] = []
    errors: list[BaseException] = []

    def resume() -> None:
        try:
            with psycopg.connect(app_url) as own:
                barrier.wait()
                finished.append(q.resume_unmerges(own, project_id))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(finished) in ([1, 1], [0, 1])
    assert _pending(conn, project_id) == [] and _held(conn, new) == 22
    assert q.get_issue(conn, new).event_count == 22
    conn.rollback()
    _check(conn, project_id)
