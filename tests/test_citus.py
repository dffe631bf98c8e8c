"""On a Citus cluster (coordinator and two workers): how migrate places the
tables, that every project-scoped query runs on one shard, that writes
through a worker are refused, and that errors from workers keep their
constraint names. Runs on the Citus tier only."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from mesher import queries
from mesher._sql import sql_dir, sync_queries
from mesher.errors import Conflict, DatabaseError
from mesher.ingest import ingest_events
from mesher.migrate import migrate

from .conftest import Server
from .helpers import Conn

pytestmark = [pytest.mark.citus, pytest.mark.citus_only]

REFERENCE = {"organizations", "users", "projects", "api_keys", "org_memberships", "sessions"}
DISTRIBUTED = {
    "issues", "events", "alert_rules", "alerts", "ingest_batches", "sentry_event_ids",
    "issue_tag_values", "project_tag_values", "project_hourly_counts", "issue_hourly_counts",
    "project_issue_counts", "event_tags", "issue_fingerprints", "project_rate_limits",
    "project_outcomes", "releases", "issue_releases", "issue_users", "issue_unmerges",
    "project_tag_keys",
}  # fmt: skip

NOW = dt.datetime.now(dt.UTC)
SOME_ID = uuid.UUID("01900000-0000-7000-8000-000000000001")
#: A value for every parameter of a project-scoped query, by name. A new
#: query with a parameter not here fails the test below until one is added.
SAMPLES: dict[str, Any] = {
    "id": SOME_ID, "issue_id": SOME_ID, "user_id": None, "after_id": SOME_ID,
    "client_event_id": SOME_ID, "status": None, "level": "error", "page_size": 10,
    "after_last_seen": NOW, "after_received_at": NOW, "since": NOW, "received_at": NOW,
    "not_before": NOW, "not_after": NOW, "first_seen": [NOW], "last_seen": [NOW],
    "bucket": "hour", "tags": Jsonb({"k": "v"}), "enabled": True, "name": "r",
    "condition": Jsonb({}), "action": Jsonb({}), "cooldown_minutes": 5, "label": "l",
    "condition_type": "new_issue", "issue_ids": [SOME_ID], "idempotency_key": "k",
    "request_digest": "d", "result": Jsonb([]), "client_event_ids": [SOME_ID],
    "event_ids": [SOME_ID], "new_issues": [True], "regressed": [False],
    "fingerprints": ["f"], "titles": ["t"], "levels": ["error"], "counts": [1],
    "first_releases": [None], "last_releases": [None], "fingerprint": "f",
    "message": "m", "exception": None, "stacktrace": None, "breadcrumbs": None,
    "extra": Jsonb({}), "user_context": None, "sdk_name": None, "sdk_version": None,
    "occurred_at": None, "release": None, "environment": None, "dist": None,
    "platform": None, "server_name": None, "logger": None, "transaction": None,
    "handled": None, "exceptions": None, "data": None, "top": 10, "tag_key": "k",
    "prefix": "v", "prefix_end": "w", "tag_issue_ids": [SOME_ID], "tag_keys": ["k"],
    "tag_values": ["v"], "tag_counts": [1], "tag_first_seen": [NOW], "tag_last_seen": [NOW],
    "hour_issue_ids": [SOME_ID], "hour_starts": [NOW], "hour_levels": ["error"],
    "hour_counts": [1], "statuses": ["unresolved"], "assigned": None, "assignees": None,
    "not_assignees": None, "first_seen_min": NOW, "first_seen_max": NOW,
    "last_seen_min": NOW, "last_seen_max": NOW, "times_seen_min": 1, "times_seen_max": 10,
    "tag_negated": [False], "tag_value_first": [1], "tag_value_last": [1],
    "tag_issue_first": [1], "tag_issue_last": [0], "tag_issues": [], "seed_key": "k",
    "seed_values": ["v"], "seed_issues": [SOME_ID],
    "title_patterns": ["%t%"], "after_first_seen": NOW, "after_event_count": 5,
    "new_status": "resolved", "opened_issues": 1, "reopened_issues": 0, "tag_value": "v",
    "new_issue_tag_rows": 0, "new_issue_hour_rows": 0,
    "pair_keys": ["k"], "pair_values": ["v"], "pair_starts": [1], "pair_ends": [1],
    "pair_event_ids": [SOME_ID], "pair_received_ats": [NOW], "keep_days": 5,
    "retention_days": 5,
    "target_id": SOME_ID, "source_ids": [uuid.UUID(int=1)], "from_issue_ids": [SOME_ID],
    "new_issue_id": SOME_ID, "old_issue_id": SOME_ID, "old_rollup_id": SOME_ID,
    "new_rollup_id": uuid.UUID(int=1), "chunk_size": 10, "received_ats": [NOW],
    "release_fingerprints": ["f"], "release_versions": ["1.0"], "issue_release_ids": [SOME_ID],
    "issue_release_versions": ["1.0"], "issue_release_environments": [""],
    "issue_release_counts": [1], "issue_release_first_seen": [NOW],
    "issue_release_last_seen": [NOW], "in_next_release": False, "in_release": None,
    "after_release": None, "user_issue_ids": [SOME_ID], "user_keys": ["id:1"], "user_counts": [1],
    "users_min": 1, "users_max": 10, "after_user_count": 5,
    "categories": ["error"], "outcomes": ["accepted"], "reasons": [""], "quantities": [1],
    "hour_start": NOW, "events_per_minute": 5, "max_rows": 10,
}  # fmt: skip


def _project_scoped() -> list[str]:
    q = sync_queries()
    return sorted(
        name
        for name in q.available_queries
        if "." not in name
        and not name.endswith("_cursor")
        and "project_id" in (getattr(q, name).parameters or [])
    )


def _params(name: str, project_id: Any) -> dict[str, Any]:
    fn = getattr(sync_queries(), name)
    missing = [p for p in fn.parameters if p != "project_id" and p not in SAMPLES]
    assert not missing, f"{name}: add a sample value for {missing} to SAMPLES"
    return {p: SAMPLES.get(p) for p in fn.parameters} | {"project_id": project_id}


def _task_counts(conn: Conn, name: str, project_id: Any) -> list[int]:
    """The "Task Count" of each distributed step of the query's plan."""
    sql = getattr(sync_queries(), name).sql.encode()
    # Values bound as literals (client-side), as in the custom plans that
    # Citus makes for a prepared router query (it prunes shards per call).
    with psycopg.ClientCursor(conn) as cur:
        plan = cur.execute(b"EXPLAIN (FORMAT JSON) " + sql, _params(name, project_id)).fetchone()
    assert plan is not None
    return [int(n) for n in re.findall(r'"Task Count": ([0-9]+)', json.dumps(plan[0]))]


def _shards_named(conn: Conn, name: str, project_id: Any) -> dict[str, set[str]]:
    """Run the query (then roll back) with Citus logging the commands it
    sends to the nodes: the shards of each table those commands name."""
    commands: list[str] = []
    conn.add_notice_handler(lambda d: commands.append(d.message_primary or ""))
    conn.execute("SET LOCAL citus.log_remote_commands = on")
    conn.execute(getattr(sync_queries(), name).sql.encode(), _params(name, project_id))
    conn.rollback()
    shards: dict[str, set[str]] = {}
    for table, shard in re.findall(r"public\.([a-z_]+?)_([0-9]+)\b", "\n".join(commands)):
        shards.setdefault(table, set()).add(shard)
    return shards


def test_every_project_scoped_query_runs_on_one_shard(conn: Conn, project_id: Any) -> None:
    """EXPLAIN shows one task for each (for each step, if it has several).
    An INSERT ... SELECT from the write path's arrays is planned "pull to
    coordinator", with no task count: the commands it sends must then name
    one shard of its table."""
    conn.execute(  # the issue the samples name, for the statements that run
        "INSERT INTO issues (id, project_id, fingerprint, title, level)"
        " VALUES (%s, %s, 'f', 't', 'error')",
        (SOME_ID, project_id),
    )
    conn.commit()
    names = _project_scoped()
    assert "get_issue_in_project" in names and "upsert_issues" in names  # the list is real
    fanning_out: dict[str, Any] = {}
    for name in names:
        try:
            counts = _task_counts(conn, name, project_id)
            conn.rollback()
            if counts == []:
                shards = _shards_named(conn, name, project_id)
                if not shards or any(len(s) != 1 for s in shards.values()):
                    fanning_out[name] = shards
            elif any(n != 1 for n in counts):  # each step (CTE, subplan) on one shard
                fanning_out[name] = counts
        except psycopg.Error as exc:
            pytest.fail(f"{name}: {exc}")
    assert fanning_out == {}, f"project-scoped queries on more than one shard: {fanning_out}"


def test_an_unscoped_lookup_fans_out(conn: Conn) -> None:
    """The check above can fail: the same lookup without project_id asks every shard."""
    counts = _task_counts(conn, "get_issue", None)
    assert counts and counts[0] > 1


def _placement(url: str) -> dict[str, tuple[str, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT logicalrelid::text, partmethod, colocationid FROM pg_dist_partition"
            " WHERE logicalrelid::text !~ '^(events|event_tags)_(default|[0-9]{8})$'"
        ).fetchall()
    return {name: (method, colocation) for name, method, colocation in rows}


#: How the per-issue rows of the tag store and the rollups go with their
#: issue: on Citus by these foreign keys, elsewhere by these triggers on
#: issues (migration 0018).
ISSUE_ROW_KEYS = {"issue_tag_values_issue_fkey", "issue_hourly_counts_issue_fkey"}
ISSUE_ROW_TRIGGERS = {"issues_delete_tags_and_hours", "issues_truncate_tags_and_hours"}


def _issue_row_links(url: str) -> tuple[set[str], set[str]]:
    """The foreign keys of issue_tag_values and issue_hourly_counts, and the
    triggers of migration 0018 on issues."""
    with psycopg.connect(url) as conn:
        keys = conn.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f'"
            " AND conrelid IN ('issue_tag_values'::regclass, 'issue_hourly_counts'::regclass)"
        ).fetchall()
        triggers = conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'issues'::regclass AND tgname = ANY(%s)",
            (sorted(ISSUE_ROW_TRIGGERS),),
        ).fetchall()
    return {k for (k,) in keys}, {t for (t,) in triggers}


def test_migrate_places_every_table_once(db_url: str) -> None:
    placement = _placement(db_url)
    assert _issue_row_links(db_url) == (ISSUE_ROW_KEYS, set())
    assert {t for t, (m, _) in placement.items() if m == "n"} == REFERENCE
    assert {t for t, (m, _) in placement.items() if m == "h"} == DISTRIBUTED
    assert len({placement[t][1] for t in DISTRIBUTED}) == 1  # all co-located
    assert migrate(db_url).applied == []
    assert _placement(db_url) == placement  # a re-run changes nothing
    with psycopg.connect(db_url) as conn:
        partitions = conn.execute(
            "SELECT count(*) FILTER (WHERE logicalrelid::text LIKE 'events\\_%'),"
            " count(*) FILTER (WHERE logicalrelid::text LIKE 'event\\_tags\\_%')"
            " FROM pg_dist_partition"
        ).fetchone()
    assert partitions is not None and partitions[0] >= 8  # default + today + 7 ahead
    assert partitions[1] == partitions[0]  # event_tags': the same days


def test_migrate_makes_multi_shard_writes_sequential(empty_db_url: str) -> None:
    """A transaction may write a distributed table on several shards, then a
    reference table (Citus refuses that after a parallel write)."""
    dbname = empty_db_url.rsplit("/", 1)[1]
    with psycopg.connect(empty_db_url, autocommit=True) as conn:  # the tier's nodes
        conn.execute(f"ALTER DATABASE {dbname} SET citus.multi_shard_modify_mode = parallel")
    migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:  # a new session
        mode = conn.execute("SHOW citus.multi_shard_modify_mode").fetchone()
        assert mode == ("sequential",)
        org = queries.insert_org(conn, "Acme", "acme")
        project = queries.insert_project(conn, org, "p", None)
        [stored] = ingest_events(conn, project, [{"level": "error", "message": "m"}])
        conn.commit()
        queries.resolve_issue(conn, stored.issue_id)  # no project_id: every shard
        user = queries.create_user(conn, "ada@example.com", "a long password", "Ada")
        assert queries.assign_issue(conn, stored.issue_id, user).assigned_to == user
        conn.commit()


def test_migrate_distributes_an_existing_database(empty_db_url: str, tmp_path: Path) -> None:
    """Rows written while the tables were local are all there once distributed."""
    plain = tmp_path / "migrations"
    shutil.copytree(sql_dir() / "migrations", plain)
    hook = plain / "after_migrate.sql"
    hook.write_text(hook.read_text().split("DO $citus$")[0])
    migrate(empty_db_url, migrations_dir=plain)
    assert _placement(empty_db_url) == {}
    # As on PostgreSQL without Citus, migration 0018's triggers in place of
    # the per-issue rows' foreign keys (its block, run as if the extension
    # were absent): distributing puts the keys back.
    m18 = (plain / "0018_issue_rows_deleted_by_trigger.sql").read_text()
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(m18[m18.index("DO $keys$") :].replace("'citus'", "'not citus'"))
    assert _issue_row_links(empty_db_url) == (set(), ISSUE_ROW_TRIGGERS)
    with psycopg.connect(empty_db_url) as conn:
        org = queries.insert_org(conn, "Acme", "acme")
        project = queries.insert_project(conn, org, "p", None)
        stored = ingest_events(
            conn,
            project,
            [
                {"level": "error", "message": f"m{i}", "fingerprint": f"f{i % 4}",
                 "tags": {"k": f"v{i % 8}"}}
                for i in range(40)
            ],
        )  # fmt: skip
        conn.commit()
    migrate(empty_db_url)
    assert set(_placement(empty_db_url)) == REFERENCE | DISTRIBUTED
    assert _issue_row_links(empty_db_url) == (ISSUE_ROW_KEYS, set())
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (40,)
        page = queries.list_issues(conn, project)
        assert sorted(i.event_count for i in page.items) == [10, 10, 10, 10]
        event = queries.get_event(conn, project, stored[0].event_id)
        assert event.message == "m0"
        # The issues exist: the upsert's conflict branch runs on the workers
        # (severity_rank must be there too).
        ingest_events(conn, project, [{"level": "fatal", "message": "m", "fingerprint": "f0"}])
        conn.commit()
        issue = queries.get_issue(conn, stored[0].issue_id, project_id=project)
        assert (issue.event_count, issue.level) == (11, "fatal")
        [facet] = queries.issue_tag_facets(conn, issue.id, project_id=project)
        assert [(v.value, v.count) for v in facet.top_values] == [("v0", 5), ("v4", 5)]


def test_writes_through_a_worker_are_refused(server: Server, db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        org = queries.insert_org(conn, "Acme", "acme")
        project = queries.insert_project(conn, org, "p", None)
        conn.commit()
    worker_url = server.workers[0].url(db_url.rsplit("/", 1)[1])
    with psycopg.connect(worker_url) as worker:
        with pytest.raises(DatabaseError, match="through the Citus coordinator only") as info:
            ingest_events(worker, project, [{"level": "error", "message": "m"}])
        assert info.value.sqlstate == "0A000"
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM issues").fetchone() == (0,)


def test_errors_from_workers_keep_constraint_names(conn: Conn, project_id: Any) -> None:
    org = queries.get_project(conn, project_id).org_id
    slug = queries.get_org(conn, org).slug
    with pytest.raises(Conflict) as info:
        queries.insert_org(conn, "Again", slug)
    assert info.value.constraint == "organizations_slug_key"
    assert str(info.value) == "an organization with this slug already exists"
