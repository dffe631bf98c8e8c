"""Users affected (migration 0025): Issue.user_count counts the distinct users
of an issue's events, exactly (the user id, else the email, else the IP
address, else the username), through both write paths, merges and unmerges;
search's users:>N filter and its user sort. Merge and unmerge are checked
against a recount in tests/test_lifecycle.py too."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from mesher import queries as q
from mesher import sentry
from mesher.errors import InvalidInput
from mesher.ingest import ingest_events, user_key
from mesher.models import IngestedEvent
from mesher.search import CountFilter, parse

from .helpers import Conn

pytestmark = pytest.mark.citus


def test_the_user_key_follows_the_rule() -> None:
    assert user_key({"id": 7, "email": "a@b.c"}) == "id:7"
    assert user_key({"id": "", "email": "a@b.c", "ip_address": "1.2.3.4"}) == "email:a@b.c"
    assert (
        user_key({"id": None, "ip_address": "1.2.3.4", "username": "ann"}) == "ip_address:1.2.3.4"
    )
    assert user_key({"username": "ann"}) == "username:ann"
    assert user_key({"name": "no key of the rule"}) is None
    assert user_key({}) is None
    assert user_key({"id": " \t", "email": True, "username": "ann"}) == "username:ann"


#: User contexts where a naive rule would tell apart the write path (Python)
#: and the unmerge chunks (SQL): numbers, blanks, booleans, objects, non-ASCII.
TRICKY: list[dict[str, Any]] = [
    {"id": 42}, {"id": -7}, {"id": 10**20}, {"id": 0}, {"id": 1.5}, {"id": 1.0}, {"id": 1e16},
    {"id": 1.5e-7}, {"id": -0.0}, {"id": 123456789.125}, {"id": 1e300}, {"id": 5e-324},
    {"id": True, "email": "t@x"}, {"id": False}, {"id": None, "email": "a@b"},
    {"id": "", "email": "x"}, {"id": " ", "email": "x"}, {"id": "\t\n\r\f\v", "username": "u"},
    {"id": " a "}, {"id": "\u00a0"}, {"id": "\u2003"}, {"id": [1], "ip_address": "::1"},
    {"id": {"a": 1}, "email": {"b": 2}, "username": "bob"}, {"email": "é@x"},
    {"ip_address": "10.0.0.1"}, {"username": "bob", "id": []}, {}, {"name": "n"},
]  # fmt: skip


def test_python_and_sql_agree_on_the_user(conn: Conn) -> None:
    """mesher.ingest.user_key (the write path) is the mirror of the SQL
    function event_user_key (an unmerge's chunks): on the JSON the write path
    stores (Python's), they name the same user."""
    for user in TRICKY:
        row = conn.execute(
            "SELECT event_user_key(cast(%s AS JSONB))", [json.dumps(user, ensure_ascii=False)]
        ).fetchone()
        assert row is not None
        assert row[0] == user_key(user), user
    for other in ("[]", '"id"', "null", "42"):
        row = conn.execute("SELECT event_user_key(cast(%s AS JSONB))", [other]).fetchone()
        assert row == (None,)
    assert conn.execute("SELECT event_user_key(NULL)").fetchone() == (None,)


def _native(conn: Conn, project_id: Any, group: str, users: list[dict[str, Any]]) -> uuid.UUID:
    batch = [{"message": "m", "fingerprint": group, "user_context": u} for u in users]
    issue = ingest_events(conn, project_id, batch)[0].issue_id
    conn.commit()
    return issue


def _user_count(conn: Conn, issue_id: uuid.UUID) -> int:
    count = q.get_issue(conn, issue_id).user_count
    conn.rollback()
    return count


def test_user_count_is_exact_across_batches(conn: Conn, project_id: Any) -> None:
    issue = _native(conn, project_id, "a", [{"id": "1"}, {"id": "1"}, {"email": "x@y.z"}, {}])
    assert _user_count(conn, issue) == 2
    # the same users again, a new one, and an email that is a user id's text
    _native(conn, project_id, "a", [{"id": "1"}, {"email": "x@y.z"}, {"id": "x@y.z"}])
    assert _user_count(conn, issue) == 3
    other = _native(conn, project_id, "b", [{"id": "1"}])  # users are per issue
    assert _user_count(conn, other) == 1 and _user_count(conn, issue) == 3


def test_the_sentry_path_counts_its_users(conn: Conn, project_id: Any) -> None:
    ids = []
    for user in ({"id": "42"}, {"ip_address": "10.0.0.1"}, {"id": "42"}, None):
        event: dict[str, Any] = {"event_id": uuid.uuid4().hex, "message": "s", "fingerprint": ["s"]}
        if user is not None:
            event["user"] = user
        result = sentry.ingest_store(conn, project_id, json.dumps(event).encode())
        assert isinstance(result, IngestedEvent)
        ids.append(result.issue_id)
    conn.commit()
    assert _user_count(conn, ids[0]) == 2


def test_a_merge_counts_shared_users_once(conn: Conn, project_id: Any) -> None:
    a = _native(conn, project_id, "a", [{"id": "1"}, {"id": "2"}])
    b = _native(conn, project_id, "b", [{"id": "2"}, {"id": "3"}])
    assert q.merge_issues(conn, project_id, a, [b]).user_count == 3
    conn.commit()
    fps = [f.fingerprint for f in q.list_issue_fingerprints(conn, project_id, a)]
    conn.rollback()
    b_fp = next(f for f in fps if f != q.get_issue(conn, a).fingerprint)
    conn.rollback()
    new = q.unmerge_issue(conn, project_id, a, [b_fp])
    assert new.user_count == 2 and _user_count(conn, a) == 2


def test_search_by_users(conn: Conn, project_id: Any) -> None:
    few = _native(conn, project_id, "few", [{"id": "1"}])
    many = _native(conn, project_id, "many", [{"id": str(i)} for i in range(5)])
    none = _native(conn, project_id, "none", [{}])
    assert [i.id for i in q.search_issues(conn, project_id, "users:>1").items] == [many]
    assert {i.id for i in q.search_issues(conn, project_id, "users:<=1").items} == {few, none}
    assert q.search_issues(conn, project_id, "users:>1 users:<2").items == []
    page = q.search_issues(conn, project_id, "", sort="user", limit=2)
    assert [i.id for i in page.items] == [many, few]
    assert page.next_cursor is not None
    rest = q.search_issues(conn, project_id, "", sort="user", limit=2, cursor=page.next_cursor)
    assert [i.id for i in rest.items] == [none] and rest.next_cursor is None
    with pytest.raises(InvalidInput, match="cursor is for sort 'user'"):
        q.search_issues(conn, project_id, "", sort="freq", cursor=page.next_cursor)
    with pytest.raises(InvalidInput, match="whole number after 'users:'"):
        q.search_issues(conn, project_id, "users:many")
    query = parse("users:>=3 times_seen:2")
    assert query.terms == (CountFilter(">=", 3, "user_count"), CountFilter("=", 2))
    assert parse(str(query)) == query
