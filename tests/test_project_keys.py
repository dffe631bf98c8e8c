"""Migration 0011: keys that start with project_id. Every row survives it,
the links go through the project, and the write path's lock function."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mesher import queries
from mesher._sql import sql_dir
from mesher.errors import translate
from mesher.ingest import ingest_events
from mesher.migrate import migrate
from mesher.partitions import create_partitions_ahead

from .helpers import Conn

KEYS = "0011_project_keys_lock_functions.sql"
TABLES = ["issues", "events", "alert_rules", "alerts"]


def _snapshot(conn: Conn) -> dict[str, list[Any]]:
    """Every row of the tables 0011 rekeys, in a stable order."""
    return {
        t: conn.execute(f"SELECT to_jsonb(t) FROM {t} AS t ORDER BY id").fetchall() for t in TABLES
    }


def _keys(conn: Conn) -> dict[str, str]:
    rows = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = ANY(ARRAY['issues', 'events', 'alert_rules', 'alerts']::regclass[])"
        " AND contype IN ('p', 'f')"
    ).fetchall()
    return dict(rows)


def test_every_row_survives_the_new_keys(empty_db_url: str, tmp_path: Path) -> None:
    before_keys = tmp_path / "migrations"
    shutil.copytree(sql_dir() / "migrations", before_keys)
    later = sorted(p.name for p in before_keys.glob("[0-9]*.sql") if p.name >= KEYS)
    for name in later:  # 0011 and the files after it
        (before_keys / name).unlink()
    # This code's function files and partitions need later tables: the old
    # migrations' own functions, and the partitions below.
    no_functions = tmp_path / "functions"
    no_functions.mkdir()
    migrate(empty_db_url, migrations_dir=before_keys, functions_dir=no_functions, days=0)
    with psycopg.connect(empty_db_url) as conn:
        create_partitions_ahead(conn, 7)
        org = queries.insert_org(conn, "Acme", "acme")
        projects = [queries.insert_project(conn, org, f"p{i}", "python") for i in range(2)]
        for project in projects:
            # The write path needs 0011's lock function: rows by hand.
            conn.execute(
                "INSERT INTO issues (project_id, fingerprint, title, level)"
                " SELECT %s, 'fp' || i, 'title ' || i, 'error' FROM generate_series(0, 2) AS i",
                (project,),
            )
            # 12 events over the 3 issues: today's partition, and a month ago
            # (events_default).
            conn.execute(
                "INSERT INTO events (project_id, issue_id, level, message, fingerprint,"
                " received_at)"
                " SELECT i.project_id, i.id, 'error', 'm' || n, i.fingerprint,"
                "  now() - CASE WHEN n < 2 THEN interval '30 days' ELSE interval '0' END"
                " FROM generate_series(0, 11) AS n"
                " INNER JOIN issues AS i ON i.fingerprint = 'fp' || n %% 3"
                " WHERE i.project_id = %s",
                (project,),
            )
            rule = queries.create_alert_rule(
                conn, project, "many", {"condition_type": "threshold", "threshold": 1,
                                        "window_minutes": 60}, {"type": "email"},
            )  # fmt: skip
            assert queries.fire_threshold_rules(conn, project)[0].rule_id == rule.id
        conn.commit()
        before = _snapshot(conn)
        in_default = conn.execute("SELECT count(*) FROM events_default").fetchone()
    assert in_default == (4,)
    assert sum(len(rows) for rows in before.values()) == 2 * (3 + 12 + 1 + 1)

    assert migrate(empty_db_url).applied == later
    assert later[0] == KEYS

    with psycopg.connect(empty_db_url) as conn:
        after = _snapshot(conn)
        keys = _keys(conn)
    # Every row is kept with every value it had; later migrations may add columns.
    kept = {
        t: [({k: row[k] for k in old},) for (row,), (old,) in zip(after[t], before[t], strict=True)]
        for t in TABLES
    }
    assert kept == before
    assert keys["issues_pkey"] == "PRIMARY KEY (project_id, id)"
    assert keys["events_pkey"] == "PRIMARY KEY (project_id, id, received_at)"
    assert keys["alert_rules_pkey"] == "PRIMARY KEY (project_id, id)"
    assert keys["alerts_pkey"] == "PRIMARY KEY (project_id, id)"
    assert keys["events_issue_fkey"].startswith(
        "FOREIGN KEY (project_id, issue_id) REFERENCES issues(project_id, id) ON DELETE CASCADE"
    )
    assert keys["alerts_rule_fkey"].startswith(
        "FOREIGN KEY (project_id, rule_id) REFERENCES alert_rules(project_id, id) ON DELETE CASCADE"
    )
    assert "events_issue_id_fkey" not in keys and "alerts_rule_id_fkey" not in keys


def test_an_event_cannot_belong_to_another_projects_issue(conn: Conn, project_id: Any) -> None:
    """The composite foreign key: an issue id alone no longer suffices, and
    the violation keeps a message that names what is missing."""
    other = queries.insert_project(conn, queries.get_project(conn, project_id).org_id, "b", None)
    [ingested] = ingest_events(conn, project_id, [{"level": "error", "message": "m"}])
    conn.commit()
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as info:
        conn.execute("UPDATE events SET project_id = %s WHERE id = %s", (other, ingested.event_id))
    assert info.value.diag.constraint_name == "events_issue_fkey"
    assert str(translate(info.value)) == "issue not found"


def test_deleting_an_issue_still_deletes_its_events(conn: Conn, project_id: Any) -> None:
    [ingested] = ingest_events(conn, project_id, [{"level": "error", "message": "m"}])
    conn.commit()
    conn.execute("DELETE FROM issues WHERE id = %s", (ingested.issue_id,))
    assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_lock_function_takes_one_lock_per_key(conn: Conn) -> None:
    row = conn.execute("SELECT lock_fingerprints(ARRAY[3, 1, 2]::bigint[])").fetchone()
    assert row == (3,)
    held = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    ).fetchone()
    assert held == (3,)
    conn.rollback()  # transaction-level: gone with the transaction
    held = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    ).fetchone()
    assert held == (0,)
