"""The hand-written baseline: plain psycopg, the same statements, the same
transaction boundaries, the same data. Only the layer is missing: no aiosql,
no argument checks, no Pydantic models, no fingerprinting (fingerprints and
titles are computed before the clock starts)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from hashlib import sha256
from typing import Any
from uuid import UUID

import psycopg

from mesher._uuid7 import uuid7_with_time

LOCK_FINGERPRINTS = "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k"

LOCK_ISSUES = """
SELECT id, fingerprint, status FROM issues
WHERE project_id = %s AND fingerprint = any(%s::text[])
ORDER BY fingerprint FOR UPDATE"""

UPSERT_ISSUES = """
INSERT INTO issues AS i (project_id, fingerprint, title, level, event_count, first_seen, last_seen)
SELECT %s, t.f, t.title, t.level, t.n, t.first_seen, t.last_seen
FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::timestamptz[], %s::timestamptz[])
    AS t (f, title, level, n, first_seen, last_seen)
ORDER BY t.f
ON CONFLICT (project_id, fingerprint) DO UPDATE SET
    event_count = i.event_count + excluded.event_count,
    last_seen = greatest(i.last_seen, excluded.last_seen),
    level = CASE
        WHEN array_position(ARRAY['debug','info','warning','error','fatal'], excluded.level)
            > array_position(ARRAY['debug','info','warning','error','fatal'], i.level)
        THEN excluded.level ELSE i.level END,
    status = CASE WHEN i.status = 'resolved' THEN 'unresolved' ELSE i.status END
RETURNING i.id, i.fingerprint, (i.xmax = 0)"""

COLUMNS = (
    "id, project_id, issue_id, level, message, fingerprint, exception, stacktrace,"
    " breadcrumbs, tags, extra, user_context, sdk_name, sdk_version, received_at"
)
COPY_EVENTS = f"COPY events ({COLUMNS}) FROM STDIN"
INSERT_EVENT = f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join(['%s'] * 15)})"

SEVERITY = ["debug", "info", "warning", "error", "fatal"]


def _row(project_id: UUID, issue_id: UUID, fp: str, p: dict[str, Any]) -> tuple[Any, ...]:
    event_id, received_at = uuid7_with_time()
    exc = p.get("exception")
    return (
        event_id, project_id, issue_id, p.get("level", "error"), p.get("message", ""), fp,
        None if exc is None else json.dumps(exc), json.dumps(p.get("stacktrace", [])),
        json.dumps(p.get("breadcrumbs", [])), json.dumps(p.get("tags", {})),
        json.dumps(p.get("extra", {})), json.dumps(p.get("user_context", {})),
        p.get("sdk_name"), p.get("sdk_version"), received_at,
    )  # fmt: skip


def ingest_batch(
    conn: psycopg.Connection[Any],
    project_id: UUID,
    payloads: Sequence[dict[str, Any]],
    fingerprints: Sequence[str],
    titles: Sequence[str],
) -> None:
    """Lock, upsert one issue per fingerprint, COPY the events: one transaction."""
    _, now = uuid7_with_time()
    groups: dict[str, list[int]] = {}
    for index, fp in enumerate(fingerprints):
        groups.setdefault(fp, []).append(index)
    keys = sorted(groups)
    levels = [
        max((payloads[i].get("level", "error") for i in groups[k]), key=SEVERITY.index)
        for k in keys
    ]
    lock_keys = sorted(
        {
            int.from_bytes(sha256(project_id.bytes + k.encode()).digest()[:8], signed=True)
            for k in keys
        }
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(LOCK_FINGERPRINTS, (lock_keys,))
        cur.execute(LOCK_ISSUES, (project_id, keys))
        cur.fetchall()
        cur.execute(
            UPSERT_ISSUES,
            (project_id, keys, [titles[groups[k][0]] for k in keys], levels,
             [len(groups[k]) for k in keys], [now] * len(keys), [now] * len(keys)),
        )  # fmt: skip
        issue_ids = {fp: issue_id for issue_id, fp, _ in cur.fetchall()}
        if len(payloads) == 1:
            cur.execute(
                INSERT_EVENT,
                _row(project_id, issue_ids[fingerprints[0]], fingerprints[0], payloads[0]),
            )
        else:
            with cur.copy(COPY_EVENTS) as copy:
                for p, fp in zip(payloads, fingerprints, strict=True):
                    copy.write_row(_row(project_id, issue_ids[fp], fp, p))


API_KEY_LOOKUP = """
SELECT p.id, p.org_id, p.name, p.platform, p.created_at
FROM api_keys AS k JOIN projects AS p ON k.project_id = p.id
WHERE k.key_value = %s AND k.revoked_at IS NULL"""


def get_project_by_api_key(conn: psycopg.Connection[Any], key: str) -> tuple[Any, ...] | None:
    return conn.execute(API_KEY_LOOKUP, (key,), prepare=True).fetchone()


EVENT_COLUMNS = COLUMNS

READS = {
    "list_issues": """
SELECT id, project_id, fingerprint, title, level, status, event_count, first_seen, last_seen,
       assigned_to
FROM issues WHERE project_id = %(p)s
  AND (%(c)s::timestamptz IS NULL
       OR (last_seen <= %(c)s AND (last_seen, id) < (%(c)s, %(i)s::uuid)))
ORDER BY last_seen DESC, id DESC LIMIT 51""",
    "list_events_for_issue": f"""
SELECT {EVENT_COLUMNS} FROM events WHERE issue_id = %(issue)s
ORDER BY received_at DESC, id DESC LIMIT 51""",
    "filter_events_by_tags": f"""
SELECT {EVENT_COLUMNS} FROM events
WHERE tags @> %(tags)s AND project_id = %(p)s AND received_at >= %(since)s
ORDER BY received_at DESC, id DESC LIMIT 100""",
    "get_event": f"""
SELECT {EVENT_COLUMNS} FROM events
WHERE id = %(id)s AND project_id = %(p)s AND received_at >= %(lo)s AND received_at < %(hi)s""",
}


def read(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return conn.execute(READS[name], params, prepare=True).fetchall()
