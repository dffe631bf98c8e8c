"""Issues (sql/queries/issues.sql): reads, pagination walked to the end,
transitions, the severity order, and the index that serves list_issues."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mesher import queries as q
from mesher.errors import InvalidInput, NotFound
from mesher.ingest import ingest_event, ingest_events
from mesher.models import IssueStatus, Severity, most_severe

from .helpers import (
    MISSING,
    Conn,
    logical_name,
    nodes,
    not_found_message,
    plan,
    run_concurrently,
    walk,
)

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

pytest_plugins = ["tests.entities"]


def _issues(conn: Conn, project_id: uuid.UUID, n: int) -> list[uuid.UUID]:
    results = ingest_events(conn, project_id, [{"fingerprint": f"fp-{i:03}"} for i in range(n)])
    return [r.issue_id for r in results]


def test_get_issue(conn: Conn, project_id: uuid.UUID) -> None:
    (issue_id,) = _issues(conn, project_id, 1)
    issue = q.get_issue(conn, issue_id)
    assert (issue.id, issue.project_id, issue.event_count) == (issue_id, project_id, 1)
    with pytest.raises(NotFound):
        q.get_issue(conn, MISSING)


def test_native_issues_have_no_release(conn: Conn, project_id: uuid.UUID) -> None:
    (issue_id,) = _issues(conn, project_id, 1)
    ingest_event(conn, project_id, {"fingerprint": "fp-000"})
    for issue in (
        q.get_issue(conn, issue_id),
        q.list_issues(conn, project_id).items[0],
        q.top_issues(conn, project_id)[0],
        q.resolve_issue(conn, issue_id),
    ):
        assert (issue.id, issue.first_release, issue.last_release) == (issue_id, None, None)


def test_list_issues_walks_every_issue_once(conn: Conn, project_id: uuid.UUID) -> None:
    ids = _issues(conn, project_id, 23)
    # ties on last_seen must not lose or repeat rows across pages
    conn.execute("UPDATE issues SET last_seen = '2031-01-01Z' WHERE fingerprint < 'fp-010'")
    walked = walk(lambda cursor: q.list_issues(conn, project_id, limit=4, cursor=cursor))
    assert sorted(i.id for i in walked) == sorted(ids)
    keys = [(i.last_seen, i.id) for i in walked]
    assert keys == sorted(keys, reverse=True)
    single = q.list_issues(conn, project_id, limit=50)
    assert len(single.items) == 23 and single.next_cursor is None


def test_list_issues_filters(conn: Conn, project_id: uuid.UUID) -> None:
    ids = _issues(conn, project_id, 6)
    q.resolve_issue(conn, ids[0])
    q.archive_issue(conn, ids[1])
    warn = ingest_event(conn, project_id, {"fingerprint": "fp-warn", "level": "warning"})
    unresolved = q.list_issues(conn, project_id, status="unresolved").items
    assert len(unresolved) == 5
    assert [i.id for i in q.list_issues(conn, project_id, status=IssueStatus.RESOLVED).items] == [
        ids[0]
    ]
    warnings = q.list_issues(conn, project_id, level=Severity.WARNING).items
    assert [i.id for i in warnings] == [warn.issue_id]
    assert q.list_issues(conn, project_id, status="archived", level="warning").items == []
    other = q.insert_project(conn, q.get_project(conn, project_id).org_id, "Other", None)
    assert q.list_issues(conn, other).items == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "open"}, "status must be one of unresolved, resolved, archived"),
        ({"level": "loud"}, "level must be one of"),
        ({"limit": 0}, "limit must be between 1 and 1000"),
        ({"cursor": "garbage!"}, "cursor is not one this API returned"),
        ({"cursor": "MjAzMXxub3BlfA=="}, "cursor is not one this API returned"),
    ],
)
def test_list_issues_bad_arguments(conn: Conn, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        q.list_issues(conn, MISSING, **kwargs)


def test_transitions_and_assignment(conn: Conn, project_id: uuid.UUID) -> None:
    (issue_id,) = _issues(conn, project_id, 1)
    assert q.resolve_issue(conn, issue_id).status is IssueStatus.RESOLVED
    assert q.unresolve_issue(conn, issue_id).status is IssueStatus.UNRESOLVED
    assert q.archive_issue(conn, issue_id).status is IssueStatus.ARCHIVED
    user = q.create_user(conn, "dev@example.com", "pw", "Dev")
    assert q.assign_issue(conn, issue_id, user).assigned_to == user
    assert q.assign_issue(conn, issue_id, None).assigned_to is None
    with pytest.raises(NotFound, match="user not found"):
        q.assign_issue(conn, issue_id, MISSING)


def test_each_transition_from_each_status(conn: Conn, project_id: uuid.UUID) -> None:
    # One query per transition now: each sets its own status and only that,
    # from any status, and touches only its own issue.
    first, second = _issues(conn, project_id, 2)
    transitions = [
        (q.resolve_issue, IssueStatus.RESOLVED),
        (q.archive_issue, IssueStatus.ARCHIVED),
        (q.unresolve_issue, IssueStatus.UNRESOLVED),
    ]
    for transition, target in transitions:
        for start in IssueStatus:
            conn.execute("UPDATE issues SET status = %s", (start.value,))
            before = q.get_issue(conn, first)
            after = transition(conn, first)
            assert after.status is target, (transition.__name__, start)
            assert after.model_copy(update={"status": start}) == before  # nothing else changed
            assert q.get_issue(conn, first) == after
            assert q.get_issue(conn, second).status is start


@pytest.mark.parametrize(
    "transition", [q.resolve_issue, q.archive_issue, q.unresolve_issue, q.get_issue]
)
def test_transition_on_missing_issue(conn: Conn, transition: Any) -> None:
    with pytest.raises(NotFound, match=f"issue {MISSING} not found"):
        transition(conn, MISSING)
    with pytest.raises(NotFound):
        q.assign_issue(conn, MISSING, None)


# --- project-scoped (single-shard on Citus) ---------------------------------------


@pytest.mark.parametrize(
    ("helper", "start"),
    [
        ("get_issue", "unresolved"),
        ("resolve_issue", "archived"),
        ("archive_issue", "resolved"),
        ("unresolve_issue", "resolved"),
        ("assign_issue", "unresolved"),
    ],
)
def test_issue_helpers_scoped_to_a_project(
    conn: Conn,
    project_id: uuid.UUID,
    other_project_id: uuid.UUID,
    user_id: uuid.UUID,
    helper: str,
    start: str,
) -> None:
    fn = getattr(q, helper)
    args = {"user_id": user_id} if helper == "assign_issue" else {}
    (issue_id,) = _issues(conn, project_id, 1)
    conn.execute("UPDATE issues SET status = %s", (start,))
    before = q.get_issue(conn, issue_id)

    # another project's id: NotFound, worded as for an id that does not exist,
    # and nothing changed
    foreign = not_found_message(lambda: fn(conn, issue_id, **args, project_id=other_project_id))
    missing = not_found_message(lambda: fn(conn, MISSING, **args, project_id=project_id))
    assert foreign == missing.replace(str(MISSING), str(issue_id)) == f"issue {issue_id} not found"
    assert foreign == not_found_message(lambda: fn(conn, MISSING, **args)).replace(
        str(MISSING), str(issue_id)
    )
    assert q.get_issue(conn, issue_id) == before
    with pytest.raises(InvalidInput, match="project_id must be a UUID"):
        fn(conn, issue_id, **args, project_id="not-a-uuid")
    assert q.get_issue(conn, issue_id) == before

    # its own project: exactly what the unscoped call does
    with conn.transaction(force_rollback=True):
        scoped = fn(conn, issue_id, **args, project_id=str(project_id))
        scoped_row = q.get_issue(conn, issue_id)
    assert q.get_issue(conn, issue_id) == before
    unscoped = fn(conn, issue_id, **args)
    assert scoped == unscoped == scoped_row == q.get_issue(conn, issue_id)
    if helper != "get_issue":
        assert unscoped != before  # the call did change something


def test_count_issues_by_status(conn: Conn, project_id: uuid.UUID) -> None:
    assert q.count_issues_by_status(conn, project_id) == {s: 0 for s in IssueStatus}
    ids = _issues(conn, project_id, 4)
    q.resolve_issue(conn, ids[0])
    assert q.count_issues_by_status(conn, project_id) == {
        IssueStatus.UNRESOLVED: 3,
        IssueStatus.RESOLVED: 1,
        IssueStatus.ARCHIVED: 0,
    }


def _counted(conn: Conn, project_id: uuid.UUID) -> dict[IssueStatus, int]:
    """The issues per status, counted from the issues themselves."""
    rows = conn.execute(
        "SELECT status, count(*) FROM issues WHERE project_id = %s GROUP BY status", [project_id]
    ).fetchall()
    return {s: dict(rows).get(s.value, 0) for s in IssueStatus}


def test_status_counts_follow_every_change(
    conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID
) -> None:
    """count_issues_by_status reads project_issue_counts: every transition,
    scoped or not, a transition to the status an issue has, one rolled back,
    one that finds nothing, and the write path's new and reopened issues keep
    it equal to a count of the issues."""
    ids = _issues(conn, project_id, 3)
    (theirs,) = _issues(conn, other_project_id, 1)
    steps = [
        (q.resolve_issue, ids[0]), (q.resolve_issue, ids[0]), (q.archive_issue, ids[0]),
        (q.resolve_issue, ids[1]), (q.unresolve_issue, ids[0]), (q.archive_issue, ids[2]),
        (q.archive_issue, ids[2]), (q.archive_issue, ids[1]), (q.resolve_issue, ids[2]),
    ]  # fmt: skip
    for n, (transition, issue_id) in enumerate(steps):
        scope = {"project_id": project_id} if n % 2 else {}
        transition(conn, issue_id, **scope)
        assert q.count_issues_by_status(conn, project_id) == _counted(conn, project_id), n
    before = q.count_issues_by_status(conn, project_id)
    assert before == {IssueStatus.UNRESOLVED: 1, IssueStatus.RESOLVED: 1,
                      IssueStatus.ARCHIVED: 1}  # fmt: skip
    with conn.transaction(force_rollback=True):
        q.archive_issue(conn, ids[0])
    with pytest.raises(NotFound):
        q.resolve_issue(conn, theirs, project_id=project_id)  # another project's issue
    with pytest.raises(NotFound):
        q.resolve_issue(conn, MISSING)
    assert q.count_issues_by_status(conn, project_id) == before
    assert q.count_issues_by_status(conn, other_project_id)[IssueStatus.UNRESOLVED] == 1
    # The write path: a new issue, and the resolved one reopened.
    ingest_events(conn, project_id, [{"fingerprint": "fp-002"}, {"fingerprint": "fp-new"}])
    assert q.get_issue(conn, ids[2]).status is IssueStatus.UNRESOLVED
    assert q.count_issues_by_status(conn, project_id) == _counted(conn, project_id) == {
        IssueStatus.UNRESOLVED: 3, IssueStatus.RESOLVED: 0, IssueStatus.ARCHIVED: 1
    }  # fmt: skip


def test_status_counts_stay_exact_under_concurrent_changes(
    app_url: str, project_id: uuid.UUID
) -> None:
    """Eight connections move the same few issues between statuses at once,
    while batches reopen them: each move reads the status it replaces under
    the issue's lock, so none is counted from a stale status."""
    with psycopg.connect(app_url, autocommit=True) as c:
        ids = _issues(c, project_id, 4)
    transitions = [q.resolve_issue, q.archive_issue, q.unresolve_issue]

    def work(n: int) -> None:
        rng = random.Random(n)
        with psycopg.connect(app_url, autocommit=True) as c:
            for _ in range(25):
                if rng.random() < 0.2:
                    ingest_events(c, project_id, [{"fingerprint": f"fp-{rng.randrange(4):03}"}])
                else:
                    rng.choice(transitions)(c, rng.choice(ids), project_id=project_id)

    run_concurrently(8, work)
    with psycopg.connect(app_url) as c:
        assert q.count_issues_by_status(c, project_id) == _counted(c, project_id)


def test_the_documented_recount_repairs_a_status_changed_by_hand(
    conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID
) -> None:
    ids = _issues(conn, project_id, 3)
    _issues(conn, other_project_id, 2)
    conn.execute("UPDATE issues SET status = 'archived' WHERE id = %s", [ids[0]])  # by hand
    assert q.count_issues_by_status(conn, project_id) != _counted(conn, project_id)
    repairs = (Path(__file__).parents[1] / "RELIABILITY.md").read_text()
    section = repairs[repairs.index("**Issue counts per status.**") :]
    start = section.index("```sql\n") + 7
    block = section[start : section.index("\n```", start)]
    statements = [s for s in block.split(";") if s.strip() not in ("", "BEGIN", "COMMIT")]
    assert len(statements) == 3
    with conn.transaction():
        for statement in statements:
            conn.execute(statement.replace("'<project id>'", "%(p)s"), {"p": project_id})
    assert q.count_issues_by_status(conn, project_id) == _counted(conn, project_id)
    assert q.count_issues_by_status(conn, project_id)[IssueStatus.ARCHIVED] == 1
    assert q.count_issues_by_status(conn, other_project_id) == _counted(conn, other_project_id)


def test_issues_built_without_revalidation_equal_validated_models(
    conn: Conn, project_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Every helper that returns issues builds them from the row without
    validating it again (mesher._results.issue_from_row): each must be the
    model that validation builds from the stored row, types included."""
    from psycopg.rows import dict_row

    from mesher.models import Issue

    ids = _issues(conn, project_id, 3)
    ingest_event(conn, project_id, {"fingerprint": "fp-000", "level": "fatal"})
    read = [
        q.assign_issue(conn, ids[0], user_id),
        q.archive_issue(conn, ids[1], project_id=project_id),
        q.resolve_issue(conn, ids[2]),
        q.unresolve_issue(conn, ids[2]),
    ]
    read += [q.get_issue(conn, i) for i in ids]
    read += q.list_issues(conn, project_id).items + q.top_issues(conn, project_id)
    read += q.search_issues(conn, project_id, "").items
    with conn.cursor(row_factory=dict_row) as cur:
        stored = {
            row["id"]: Issue.model_validate(row)
            for row in cur.execute("SELECT * FROM issues WHERE project_id = %s", [project_id])
        }
    for issue in read[3:]:
        expected = stored[issue.id]
        assert issue == expected and issue.model_dump() == expected.model_dump()
        assert type(issue.level) is Severity and type(issue.status) is IssueStatus
    assert [i.status for i in read[:3]] == [
        IssueStatus.UNRESOLVED, IssueStatus.ARCHIVED, IssueStatus.RESOLVED
    ]  # fmt: skip
    assert read[0] == stored[ids[0]] and read[0].assigned_to == user_id
    assert stored[ids[0]].level is Severity.FATAL and len(read) == 4 + 3 + 3 * 3


def test_top_issues(conn: Conn, project_id: uuid.UUID) -> None:
    done = ingest_events(conn, project_id, [{"fingerprint": "a"}] * 3 + [{"fingerprint": "b"}] * 5)
    ingest_event(conn, project_id, {"fingerprint": "c"})
    top = q.top_issues(conn, project_id, limit=2)
    assert [(i.id, i.event_count) for i in top] == [(done[3].issue_id, 5), (done[0].issue_id, 3)]


# --- the severity order (severity_rank, migration 0009) -------------------------


def test_severity_rank_matches_the_enum(conn: Conn) -> None:
    least_first = list(reversed(Severity))
    ranks = [
        conn.execute("SELECT severity_rank(%s)", (level.value,)).fetchone()[0]  # type: ignore[index]
        for level in least_first
    ]
    assert ranks == [1, 2, 3, 4, 5]
    assert [level.value for level in least_first] == ["debug", "info", "warning", "error", "fatal"]
    (by_sql,) = conn.execute(
        "SELECT array_agg(l ORDER BY severity_rank(l)) FROM unnest(%s::text[]) AS l",
        ([s.value for s in Severity],),
    ).fetchone()  # type: ignore[misc]
    assert by_sql == [level.value for level in least_first]


@pytest.mark.parametrize("other", ["Error", "ERROR", "critical", "warn", "", " error", None])
def test_severity_rank_is_null_for_anything_else(conn: Conn, other: str | None) -> None:
    assert conn.execute("SELECT severity_rank(%s)", (other,)).fetchone() == (None,)


def test_severity_rank_is_immutable(conn: Conn) -> None:
    # IMMUTABLE and PARALLEL SAFE: usable in an index and by parallel plans.
    row = conn.execute(
        "SELECT provolatile, proparallel, proisstrict FROM pg_proc"
        " WHERE oid = 'severity_rank(text)'::regprocedure"
    ).fetchone()
    assert row == ("i", "s", True)


def test_most_severe() -> None:
    assert most_severe([Severity.INFO, Severity.FATAL, Severity.DEBUG]) is Severity.FATAL
    assert most_severe([Severity.WARNING, Severity.ERROR]) is Severity.ERROR
    assert most_severe(iter([Severity.DEBUG])) is Severity.DEBUG  # any iterable
    for level in Severity:
        assert most_severe([level]) is level
    ordered = list(Severity)
    for i, a in enumerate(ordered):
        for b in ordered[i:]:
            assert most_severe([a, b]) is most_severe([b, a]) is a


def test_most_severe_agrees_with_severity_rank(conn: Conn) -> None:
    for a in Severity:
        for b in Severity:
            (higher,) = conn.execute(
                "SELECT CASE WHEN severity_rank(%s) > severity_rank(%s) THEN %s ELSE %s END",
                (b.value, a.value, b.value, a.value),
            ).fetchone()  # type: ignore[misc]
            assert higher == most_severe([a, b]).value


def test_issue_level_is_the_most_severe_seen(conn: Conn, project_id: uuid.UUID) -> None:
    # Two calls per pair: the second goes through the upsert's severity_rank CASE.
    for first in Severity:
        for second in Severity:
            fingerprint = f"{first}-{second}"
            done = ingest_event(conn, project_id, {"fingerprint": fingerprint, "level": first})
            ingest_event(conn, project_id, {"fingerprint": fingerprint, "level": second})
            expected = most_severe([first, second])
            assert q.get_issue(conn, done.issue_id).level is expected, (first, second)


# --- plans ---------------------------------------------------------------------


def test_list_issues_uses_the_last_seen_index(owner_conn: Conn, project_id: uuid.UUID) -> None:
    conn = owner_conn  # ANALYZE is the owner's
    org = q.get_project(conn, project_id).org_id
    projects = [q.insert_project(conn, org, f"p{i}", None) for i in range(20)]
    conn.execute(
        """INSERT INTO issues (project_id, fingerprint, title, level, last_seen)
        SELECT p, 'fp' || g, 't', 'error', now() - g * interval '1 minute'
        FROM unnest(%s::uuid[]) AS p, generate_series(1, 500) AS g""",
        (projects,),
    )
    conn.execute("ANALYZE issues")
    first = q.list_issues(conn, projects[0], limit=10)
    for cursor in (None, first.next_cursor):
        after = (None, None)
        if cursor is not None:
            last = first.items[-1]
            after = (last.last_seen, last.id)
        found = plan(
            conn,
            "list_issues" if cursor is None else "list_issues_after",
            {
                "project_id": projects[0],
                "status": None,
                "level": None,
                "after_last_seen": after[0],
                "after_id": after[1],
                "page_size": 11,
            },
        )
        indexes = {logical_name(conn, n["Index Name"]) for n in nodes(found) if "Index Name" in n}
        assert "idx_issues_project_last_seen" in indexes, json.dumps(found)[:2000]
        assert not any(n["Node Type"] == "Seq Scan" for n in nodes(found))
