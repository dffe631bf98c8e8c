"""Property-based: every public helper and the write path, driven with
hostile values. Each call ends in a result or a mesher.errors exception that
says what was wrong; a failed call leaves the database as it was."""

from __future__ import annotations

import datetime as dt
import inspect
import os
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesher import ingest
from mesher import queries as q
from mesher.errors import MesherError

Conn = psycopg.Connection[Any]

NASTY = [
    "'; DROP TABLE users; --", "' OR '1'='1", "%s", "%(id)s", ":id", "$1", "\\", "\x00",
    "a\x00b", "\udc80", "\ud800x", "🔥" * 500, "x" * 100_000, "", " ", "NULL", "null",
    "0" * 64, "mshr_" + "0" * 48, "00000000-0000-0000-0000-000000000000",
]  # fmt: skip
#: Issue searches that parse, and the keys a hostile value is tried under.
SEARCHES = [
    "", "is:unresolved level:[error, fatal] !environment:prod lastSeen:-24h timeout",
    "assigned:ada@example.com !is:resolved times_seen:>1", "env:prod", "!env:[prod, '; --]",
    '"\'; DROP TABLE issues; --"', "100% a_b \\", "firstSeen:>=2026-01-01 times_seen:0",
    "tags[sentry:user]:id:1 release:\"1.0\"", "assigned:[nobody@example.com, " + "0" * 32 + "]",
]  # fmt: skip
SEARCH_KEYS = ["env", "message", "release", "level", "assigned", "is", "tags[a:b]", "!env"]
text = st.one_of(st.sampled_from(NASTY), st.text(max_size=300),
                 st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                                       categories=None), max_size=50))  # fmt: skip
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=30,
)
anything = st.one_of(
    text, st.integers(), st.integers(min_value=2**63), st.floats(), st.none(), st.booleans(),
    st.binary(max_size=40), st.uuids(), st.dates(), st.datetimes(),
    st.datetimes(timezones=st.just(dt.UTC)), st.lists(st.integers(), max_size=3), json_like,
)  # fmt: skip


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"n": value}
    return value


payload = st.one_of(
    json_like,
    st.fixed_dictionaries(
        {"message": text},
        optional={
            "level": st.one_of(st.sampled_from(["error", "fatal", "LOUD"]), anything),
            "fingerprint": text,
            "exception": st.one_of(st.fixed_dictionaries({"type_name": text}), anything),
            "stacktrace": st.lists(st.fixed_dictionaries(
                {"filename": text, "function_name": text}, optional={"lineno": anything}),
                max_size=3) | anything,
            "breadcrumbs": st.lists(st.dictionaries(st.sampled_from(
                ["timestamp", "category", "data", "level"]), anything), max_size=3) | anything,
            "tags": st.dictionaries(text, anything, max_size=40),
            "extra": st.one_of(st.dictionaries(text, json_like, max_size=5),
                               st.just({"deep": _deep(300)}), st.just({"deeper": _deep(3000)})),
            "user_context": st.dictionaries(text, anything, max_size=3),
            "surprise": anything,
        },
    ),
)  # fmt: skip


def _strategy(name: str, ids: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Arguments by parameter name: the valid ones (so that calls reach SQL)
    mixed with anything at all."""
    if name.endswith("_id"):
        valid = st.sampled_from([v for k, v in ids.items() if k == name] or list(ids.values()))
        return st.one_of(valid, valid.map(str), st.uuids(), anything)
    specific: dict[str, st.SearchStrategy[Any]] = {
        "payload": payload,
        "payloads": st.lists(payload, max_size=4) | anything,
        "ingested": st.lists(st.tuples(st.uuids(), st.uuids(), st.booleans(), st.booleans()).map(
            lambda t: ingest.IngestedEvent(*t)), max_size=3) | anything,
        # an API key (get_project_by_api_key) or a tag key (project_tag_values)
        "key": st.one_of(st.just(ids["key"]), st.sampled_from(["env", "%", "_"]), anything),
        "prefix": st.one_of(text, anything),
        "top": st.one_of(st.integers(min_value=-5, max_value=200), anything),
        "issue_ids": st.one_of(
            st.lists(st.one_of(st.just(ids["issue_id"]), st.uuids(), anything), max_size=4),
            anything,
        ),
        "public_key": st.one_of(st.just(ids["key"]), anything),
        "token": st.one_of(st.just(ids["token"]), anything),
        "email": st.one_of(st.just("ada@example.com"), st.emails(), anything),
        "tags": st.dictionaries(text, text, max_size=40) | anything,
        "condition": st.fixed_dictionaries({"condition_type": anything},
                                           optional={"threshold": anything}) | anything,
        "action": st.dictionaries(text, json_like, max_size=3) | anything,
        "bucket": st.sampled_from(["hour", "day", "week"]) | anything,
        "cursor": anything,
        # search_issues: queries that reach SQL, with hostile values, and anything
        "query": st.one_of(
            st.sampled_from(SEARCHES),
            st.builds(lambda k, v: f'{k}:"{v}"', st.sampled_from(SEARCH_KEYS), text),
            st.builds(lambda v: f'"{v}"', text), text, anything,
        ),
        "sort": st.sampled_from(["date", "new", "freq", "priority"]) | anything,
        "now": st.none() | anything,
    }  # fmt: skip
    return specific.get(name, anything)


FUNCTIONS: list[tuple[str, Callable[..., Any]]] = [
    *((name, getattr(q, name)) for name in q.__all__),
    ("ingest_event", ingest.ingest_event),
    ("ingest_events", ingest.ingest_events),
]
SLOW = {"create_user", "authenticate_user"}  # bcrypt: 250 ms per valid call
#: Cases per function; MESHER_HYPOTHESIS_EXAMPLES=1000 MESHER_HYPOTHESIS_RANDOM=1
#: explores further (new random cases each run).
EXAMPLES = int(os.environ.get("MESHER_HYPOTHESIS_EXAMPLES", "60"))
RANDOM = os.environ.get("MESHER_HYPOTHESIS_RANDOM") == "1"


def _counts(conn: Conn) -> tuple[int, ...]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM organizations), (SELECT count(*) FROM projects),"
        " (SELECT count(*) FROM users), (SELECT count(*) FROM api_keys),"
        " (SELECT count(*) FROM sessions), (SELECT count(*) FROM issues),"
        " (SELECT coalesce(sum(event_count), 0) FROM issues), (SELECT count(*) FROM events),"
        " (SELECT count(*) FROM alert_rules), (SELECT count(*) FROM alerts),"
        " (SELECT count(*) FROM org_memberships), (SELECT count(*) FROM ingest_batches),"
        " (SELECT count(*) FROM sentry_event_ids),"
        " (SELECT coalesce(sum(times_seen), 0) FROM issue_tag_values),"
        " (SELECT coalesce(sum(times_seen), 0) FROM project_tag_values),"
        " (SELECT coalesce(sum(event_count), 0) FROM project_hourly_counts),"
        " (SELECT coalesce(sum(event_count), 0) FROM issue_hourly_counts)"
    ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture
def ids(conn: Conn, project_id: uuid.UUID) -> dict[str, Any]:
    org_id = q.get_project(conn, project_id).org_id
    user_id = q.create_user(conn, "ada@example.com", "pw", "Ada")
    done = ingest.ingest_event(conn, project_id, {"message": "boom", "tags": {"env": "prod"}})
    rule = q.create_alert_rule(conn, project_id, "r", {"condition_type": "threshold"}, {})
    (alert,) = q.fire_threshold_rules(conn, project_id)
    key = q.create_api_key(conn, project_id, "k")
    (key_id,) = conn.execute("SELECT id FROM api_keys").fetchone()  # type: ignore[misc]
    values = {
        "org_id": org_id, "project_id": project_id, "user_id": user_id, "issue_id": done.issue_id,
        "event_id": done.event_id, "rule_id": rule.id, "alert_id": alert.id, "key_id": key_id,
        "key": key, "token": q.create_session(conn, user_id),
        "dsn_id": q.get_project(conn, project_id).dsn_id,
    }  # fmt: skip
    conn.commit()
    return values


@pytest.mark.parametrize(("name", "fn"), FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_hostile_arguments(
    conn: Conn, ids: dict[str, Any], name: str, fn: Callable[..., Any]
) -> None:
    signature = inspect.signature(fn).parameters
    params = [p for p in signature if p != "conn"]
    keyword_only = {p for p in params if signature[p].kind is inspect.Parameter.KEYWORD_ONLY}
    before = _counts(conn)
    conn.commit()

    @settings(
        max_examples=EXAMPLES // 3 if name in SLOW else EXAMPLES,
        derandomize=not RANDOM,  # CI runs the same cases every time
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        args = {p: data.draw(_strategy(p, ids), label=p) for p in params}
        positional = [args[p] for p in params if p not in keyword_only]
        with conn.transaction(force_rollback=True):
            try:
                with conn.transaction():
                    fn(conn, *positional, **{p: args[p] for p in keyword_only})
            except MesherError as exc:
                assert str(exc).strip(), "an error must say what was wrong"
                assert _counts(conn) == before, "a refused call wrote something"
        assert _counts(conn) == before

    check()
