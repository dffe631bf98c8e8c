"""The migrated schema has the specification's shape."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg

from mesher.models import AlertStatus, IssueStatus, Role, Severity

Conn = psycopg.Connection[Any]

TABLES = {
    "organizations": ["id", "name", "slug", "created_at"],
    "users": ["id", "email", "password_hash", "display_name", "created_at"],
    "org_memberships": ["id", "user_id", "org_id", "role", "joined_at"],
    "sessions": ["token_hash", "user_id", "created_at", "expires_at"],
    "projects": ["id", "org_id", "name", "platform", "created_at"],
    "api_keys": ["id", "project_id", "key_value", "label", "created_at", "revoked_at"],
    "issues": [
        "id", "project_id", "fingerprint", "title", "level", "status",
        "event_count", "first_seen", "last_seen", "assigned_to",
    ],
    "events": [
        "id", "project_id", "issue_id", "level", "message", "fingerprint", "exception",
        "stacktrace", "breadcrumbs", "tags", "extra", "user_context", "sdk_name",
        "sdk_version", "received_at",
    ],
    "alert_rules": [
        "id", "project_id", "name", "condition_json", "action_json", "enabled", "created_at",
        "cooldown_minutes", "last_fired_at",
    ],
    "alerts": [
        "id", "rule_id", "project_id", "status", "message", "condition_snapshot",
        "triggered_at", "acknowledged_at", "resolved_at",
    ],
}  # fmt: skip

INDEXES = {
    "idx_org_memberships_user": "(user_id)",
    "idx_org_memberships_org": "(org_id)",
    "idx_sessions_user": "(user_id)",
    "idx_sessions_expires": "(expires_at)",
    "idx_projects_org": "(org_id)",
    "idx_api_keys_project": "(project_id)",
    "idx_api_keys_value": "(key_value) WHERE (revoked_at IS NULL)",
    "idx_issues_project_status": "(project_id, status)",
    "idx_issues_project_last_seen": "(project_id, last_seen DESC)",
    "idx_events_project_received": "(project_id, received_at DESC)",
    "idx_events_issue_received": "(issue_id, received_at DESC)",
    "idx_events_level": "(level, received_at DESC)",
    "idx_events_fingerprint": "(fingerprint)",
    "idx_events_tags": "USING gin (tags jsonb_path_ops)",
    "idx_alert_rules_project": "(project_id) WHERE (enabled = true)",
    # beyond the specification (0007)
    "idx_issues_project_event_count": "(project_id, event_count DESC)",
    "idx_alerts_project_triggered": "(project_id, triggered_at DESC)",
    "idx_alerts_rule": "(rule_id)",
    "idx_ingest_batches_received": "(received_at)",  # 0008
}


def test_tables_and_columns(conn: Conn) -> None:
    rows = conn.execute(
        """SELECT c.relname, array_agg(a.attname ORDER BY a.attnum)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        GROUP BY c.relname"""
    ).fetchall()
    assert dict(rows) == {
        **TABLES,
        "schema_migrations": ["filename", "checksum", "applied_at", "duration_ms"],
        "ingest_batches": [
            "project_id", "idempotency_key", "request_digest", "result", "received_at",
        ],
    }  # fmt: skip


def test_named_indexes(conn: Conn) -> None:
    rows = dict(
        conn.execute(
            """SELECT indexname, indexdef FROM pg_indexes
            WHERE schemaname = 'public' AND indexname LIKE 'idx\\_%'
            AND tablename NOT LIKE 'events\\_%'"""
        ).fetchall()
    )
    assert set(rows) == set(INDEXES)
    for name, tail in INDEXES.items():
        assert rows[name].endswith(tail), rows[name]


def test_ids_default_to_uuidv7(conn: Conn) -> None:
    defaults = dict(
        conn.execute(
            """SELECT c.table_name, c.column_default FROM information_schema.columns c
            WHERE c.table_schema = 'public' AND c.column_name = 'id'
            AND c.table_name = ANY(%s)""",
            (list(TABLES),),
        ).fetchall()
    )
    assert set(defaults) == set(TABLES) - {"sessions"}
    assert all(d == "uuidv7()" for d in defaults.values()), defaults


def test_events_partitioned_by_received_at(conn: Conn) -> None:
    (strategy, key) = conn.execute(
        """SELECT p.partstrat, pg_get_partkeydef(p.partrelid) FROM pg_partitioned_table p
        WHERE p.partrelid = 'events'::regclass"""
    ).fetchone()
    assert (strategy, key) == ("r", "RANGE (received_at)")
    (default,) = conn.execute(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'events_default'"
    ).fetchone()
    assert default == "DEFAULT"
    (pk,) = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'events'::regclass AND contype = 'p'"
    ).fetchone()
    assert pk == "PRIMARY KEY (id, received_at)"


def test_jsonb_columns_and_defaults(conn: Conn) -> None:
    rows = conn.execute(
        """SELECT column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_name = 'events'
        AND column_name IN ('exception', 'stacktrace', 'breadcrumbs', 'tags', 'extra',
                            'user_context')"""
    ).fetchall()
    by_name = {r[0]: r[1:] for r in rows}
    assert all(t == "jsonb" for t, _, _ in by_name.values())
    assert by_name["tags"][1:] == ("NO", "'{}'::jsonb")
    assert by_name["extra"][1:] == ("NO", "'{}'::jsonb")


def test_pgcrypto_installed(conn: Conn) -> None:
    assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto'").fetchone()


def _check_values(conn: Conn, constraint: str) -> set[str]:
    (definition,) = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", (constraint,)
    ).fetchone()
    return {part.split("'")[1] for part in definition.split("ARRAY[")[1].split(",")}


@pytest.mark.parametrize(
    ("constraint", "values"),
    [
        ("org_memberships_role_check", {r.value for r in Role}),
        ("issues_status_check", {s.value for s in IssueStatus}),
        ("issues_level_check", {s.value for s in Severity}),
        ("events_level_check", {s.value for s in Severity}),
        ("alerts_status_check", {s.value for s in AlertStatus}),
    ],
)
def test_check_constraints_match_the_enums(conn: Conn, constraint: str, values: set[str]) -> None:
    assert _check_values(conn, constraint) == values


def test_check_constraints_refuse_other_values(conn: Conn) -> None:
    org = conn.execute("INSERT INTO organizations (name, slug) VALUES ('o', 'o') RETURNING id")
    org_id = org.fetchone()[0]
    project_id = conn.execute(
        "INSERT INTO projects (org_id, name) VALUES (%s, 'p') RETURNING id", (org_id,)
    ).fetchone()[0]
    for sql in (
        "INSERT INTO issues (project_id, fingerprint, title, level) VALUES (%s, 'f', 't', 'loud')",
        "INSERT INTO issues (project_id, fingerprint, title, level, status) "
        "VALUES (%s, 'f', 't', 'error', 'gone')",
    ):
        with pytest.raises(pg.CheckViolation), conn.transaction():
            conn.execute(sql, (project_id,))


def test_uuidv7_on_this_server(conn: Conn) -> None:
    ids = [r[0] for r in conn.execute("SELECT uuidv7() FROM generate_series(1, 50)")]
    assert all(isinstance(i, uuid.UUID) and i.version == 7 for i in ids)
    assert all(i.variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == 50
    assert ids == sorted(ids)  # one backend: creation order
    polyfill = conn.execute("SELECT to_regprocedure('public.uuidv7()') IS NOT NULL").fetchone()[0]
    assert polyfill == (conn.info.server_version < 180000)
