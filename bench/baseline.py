"""The hand-written baseline: plain psycopg, the same statements, the same
transaction boundaries, the same data. Only the layer is missing: no aiosql,
no argument checks, no Pydantic models, no fingerprinting (fingerprints and
titles are computed before the clock starts).

Every statement here is the layer's own statement from sql/queries/, written
out by hand (tests/test_bench.py checks that each one matches, whitespace
aside): the scenarios measure the layer, not two query shapes. The events'
COPY and INSERT, and the row they take, are the layer's own
(``mesher._rows``: Python makes them from one list of the columns), and the
reads return whole rows (``SELECT *``), as the layer's do. A scenario that
compares two designs says so in its name."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any
from uuid import UUID

import psycopg

from mesher._rows import COPY_EVENTS, INSERT_EVENT, EventRow, JsonText
from mesher._sql import BinaryArray
from mesher._uuid7 import uuid7_with_time
from mesher.aio.ingest import user_key

# --- the write path (sql/queries/ingest.sql) ---------------------------------------

LOCK_FINGERPRINTS = """SELECT lock_fingerprints(cast(%(keys)s AS BIGINT[])) AS locks_taken"""

LOCK_ISSUES = """SELECT i.id, f.fingerprint, i.status
FROM issue_fingerprints AS f
INNER JOIN issues AS i ON f.project_id = i.project_id AND f.issue_id = i.id
WHERE f.project_id = %(project_id)s AND f.fingerprint = any(cast(%(fingerprints)s AS TEXT[]))
AND i.deleted_at IS NULL
ORDER BY i.id, f.fingerprint FOR UPDATE OF i"""

UPSERT_ISSUES = """WITH given AS (
    SELECT t.fingerprint, t.issue_id, t.title, t.level, t.event_count, t.first_seen,
           t.last_seen, t.first_release, t.last_release
    FROM unnest(
        cast(%(fingerprints)s AS TEXT[]), cast(%(issue_ids)s AS UUID[]),
        cast(%(titles)s AS TEXT[]), cast(%(levels)s AS TEXT[]),
        cast(%(counts)s AS INTEGER[]), cast(%(first_seen)s AS TIMESTAMPTZ[]),
        cast(%(last_seen)s AS TIMESTAMPTZ[]), cast(%(first_releases)s AS TEXT[]),
        cast(%(last_releases)s AS TEXT[])
    ) AS t (
        fingerprint, issue_id, title, level, event_count, first_seen, last_seen,
        first_release, last_release
    )
),
incoming AS (
    SELECT given.* FROM given
    WHERE EXISTS (
        SELECT FROM projects AS p WHERE p.id = %(project_id)s AND p.deleted_at IS NULL
    )
),
created AS (
    INSERT INTO issues (
        project_id, fingerprint, title, level, event_count, first_seen, last_seen,
        first_release, last_release
    )
    SELECT %(project_id)s AS project_id, incoming.fingerprint, incoming.title, incoming.level,
           incoming.event_count, incoming.first_seen, incoming.last_seen,
           incoming.first_release, incoming.last_release
    FROM incoming
    WHERE incoming.issue_id IS NULL
    ORDER BY incoming.fingerprint
    RETURNING id, fingerprint
),
batch_releases AS (
    SELECT b.fingerprint, b.version, r.first_seen
    FROM unnest(cast(%(release_fingerprints)s AS TEXT[]), cast(%(release_versions)s AS TEXT[]))
         AS b (fingerprint, version)
    LEFT JOIN releases AS r ON r.project_id = %(project_id)s AND b.version = r.release
),
reopening AS (
    SELECT DISTINCT g.issue_id
    FROM incoming AS g
    INNER JOIN issues AS i ON i.project_id = %(project_id)s AND g.issue_id = i.id
    LEFT JOIN releases AS v
        ON v.project_id = %(project_id)s AND i.resolved_in_release = v.release
    WHERE i.status = 'resolved'
      AND ((i.resolved_after IS NULL AND i.resolved_in_release IS NULL)
           OR EXISTS (
               SELECT FROM batch_releases AS b
               WHERE b.fingerprint = g.fingerprint
                 AND (coalesce(b.first_seen, 'infinity') >= i.resolved_after
                      OR b.version = i.resolved_in_release
                      OR coalesce(b.first_seen, 'infinity') > v.first_seen)))
),
grouped AS (
    SELECT g.issue_id, sum(g.event_count) AS event_count,
           max(g.last_seen) AS last_seen,
           (array_agg(g.level ORDER BY severity_rank(g.level) DESC))[1] AS level,
           (array_remove(array_agg(g.first_release ORDER BY g.first_seen),
               NULL))[1] AS first_release,
           (array_remove(array_agg(g.last_release ORDER BY g.last_seen DESC),
               NULL))[1] AS last_release
    FROM incoming AS g
    WHERE g.issue_id IS NOT NULL
    GROUP BY g.issue_id
),
updated AS (
    UPDATE issues AS i SET
        event_count = i.event_count + grouped.event_count,
        last_seen = greatest(i.last_seen, grouped.last_seen),
        level = CASE
            WHEN severity_rank(grouped.level) > severity_rank(i.level) THEN grouped.level
            ELSE i.level END,
        status = CASE WHEN reopening.issue_id IS NULL THEN i.status ELSE 'unresolved' END,
        first_release = coalesce(i.first_release, grouped.first_release),
        last_release = coalesce(grouped.last_release, i.last_release),
        resolved_after = CASE WHEN reopening.issue_id IS NULL THEN i.resolved_after END,
        resolved_in_release = CASE
            WHEN reopening.issue_id IS NULL THEN i.resolved_in_release END
    FROM grouped
    LEFT JOIN reopening ON grouped.issue_id = reopening.issue_id
    WHERE i.project_id = %(project_id)s AND i.id = grouped.issue_id
    RETURNING i.id, reopening.issue_id IS NOT NULL AS regressed
),
routed AS (
    SELECT incoming.fingerprint, incoming.title, incoming.level, incoming.event_count,
           incoming.first_seen, incoming.last_seen,
           coalesce(incoming.issue_id, created.id) AS issue_id,
           incoming.issue_id IS NULL AS new_issue
    FROM incoming
    LEFT JOIN created ON incoming.fingerprint = created.fingerprint
),
fingerprints AS (
    INSERT INTO issue_fingerprints AS f (
        project_id, fingerprint, issue_id, title, level, event_count, first_seen, last_seen
    )
    SELECT %(project_id)s AS project_id, routed.fingerprint, routed.issue_id, routed.title,
           routed.level, routed.event_count, routed.first_seen, routed.last_seen
    FROM routed
    ORDER BY routed.fingerprint
    ON CONFLICT (project_id, fingerprint) DO UPDATE SET
        event_count = f.event_count + excluded.event_count,
        last_seen = greatest(f.last_seen, excluded.last_seen),
        level = CASE
            WHEN severity_rank(excluded.level) > severity_rank(f.level) THEN excluded.level
            ELSE f.level END
    RETURNING 1
)
SELECT routed.issue_id AS id, routed.fingerprint, routed.new_issue,
       coalesce(updated.regressed, FALSE) AS regressed
FROM routed
LEFT JOIN updated ON routed.issue_id = updated.id"""

LOCK_TAG_KEYS = """INSERT INTO project_tag_keys AS k (project_id, tag_key)
SELECT
    %(project_id)s AS project_id,
    t.tag_key
FROM unnest(cast(%(tag_keys)s AS TEXT[])) AS t (tag_key)
ORDER BY t.tag_key
ON CONFLICT (project_id, tag_key) DO UPDATE
    SET tracked_values = k.tracked_values
RETURNING k.tag_key, k.untracked_events > 0 AS frozen"""

UPSERT_TAGS_AND_COUNTS = """WITH tags AS (
    SELECT
        t.issue_id,
        t.tag_key,
        t.tag_value,
        t.times_seen,
        t.first_seen,
        t.last_seen,
        t.n <= %(new_issue_tag_rows)s AS new_issue
    FROM unnest(
        cast(%(tag_issue_ids)s AS UUID[]),
        cast(%(tag_keys)s AS TEXT[]),
        cast(%(tag_values)s AS TEXT[]),
        cast(%(tag_counts)s AS INTEGER[]),
        cast(%(tag_first_seen)s AS TIMESTAMPTZ[]),
        cast(%(tag_last_seen)s AS TIMESTAMPTZ[])
    ) WITH ORDINALITY AS t (issue_id, tag_key, tag_value, times_seen, first_seen, last_seen, n)
),

batch_values AS (
    SELECT
        b.tag_key,
        b.tag_value,
        b.times_seen,
        b.first_seen,
        b.last_seen,
        k.tracked_values,
        k.value_bound,
        k.untracked_events,
        v.tag_value IS NOT NULL AS known
    FROM (
        SELECT
            tags.tag_key,
            tags.tag_value,
            sum(tags.times_seen) AS times_seen,
            min(tags.first_seen) AS first_seen,
            max(tags.last_seen) AS last_seen
        FROM tags
        GROUP BY tags.tag_key, tags.tag_value
    ) AS b
    LEFT JOIN project_tag_keys AS k ON k.project_id = %(project_id)s AND b.tag_key = k.tag_key
    LEFT JOIN project_tag_values AS v
        ON
            v.project_id = %(project_id)s
            AND b.tag_key = v.tag_key
            AND b.tag_value = v.tag_value
),

tracking AS (
    SELECT
        b.tag_key,
        b.tag_value,
        b.times_seen,
        b.first_seen,
        b.last_seen,
        b.known,
        b.known OR coalesce(b.untracked_events, 0) = 0
        AND coalesce(b.tracked_values, 0) + row_number() OVER (
            PARTITION BY b.tag_key, b.known ORDER BY b.tag_value
        ) <= coalesce(b.value_bound, 2147483647) AS tracked
    FROM batch_values AS b
),

issue_rows AS (
    SELECT
        tags.issue_id,
        tags.tag_key,
        tags.new_issue,
        CASE WHEN w.tracked THEN tags.tag_value ELSE repeat('~', 201) END AS tag_value,
        sum(tags.times_seen) AS times_seen,
        min(tags.first_seen) AS first_seen,
        max(tags.last_seen) AS last_seen
    FROM tags
    INNER JOIN tracking AS w ON tags.tag_key = w.tag_key AND tags.tag_value = w.tag_value
    GROUP BY
        tags.issue_id,
        tags.tag_key,
        CASE WHEN w.tracked THEN tags.tag_value ELSE repeat('~', 201) END,
        tags.new_issue
),

hours AS (
    SELECT
        h.issue_id,
        h.hour_start,
        h.level,
        h.event_count,
        h.n <= %(new_issue_hour_rows)s AS new_issue
    FROM unnest(
        cast(%(hour_issue_ids)s AS UUID[]),
        cast(%(hour_starts)s AS TIMESTAMPTZ[]),
        cast(%(hour_levels)s AS TEXT[]),
        cast(%(hour_counts)s AS INTEGER[])
    ) WITH ORDINALITY AS h (issue_id, hour_start, level, event_count, n)
),

pairs AS (
    SELECT
        p.tag_key,
        p.tag_value,
        p.first_entry,
        p.last_entry
    FROM
        unnest(
            cast(%(pair_keys)s AS TEXT[]),
            cast(%(pair_values)s AS TEXT[]),
            cast(%(pair_starts)s AS INTEGER[]),
            cast(%(pair_ends)s AS INTEGER[])
        ) AS p (tag_key, tag_value, first_entry, last_entry)
),

issue_release_rows AS (
    SELECT
        r.issue_id,
        r.release,
        r.environment,
        r.event_count,
        r.first_seen,
        r.last_seen
    FROM unnest(
        cast(%(issue_release_ids)s AS UUID[]),
        cast(%(issue_release_versions)s AS TEXT[]),
        cast(%(issue_release_environments)s AS TEXT[]),
        cast(%(issue_release_counts)s AS INTEGER[]),
        cast(%(issue_release_first_seen)s AS TIMESTAMPTZ[]),
        cast(%(issue_release_last_seen)s AS TIMESTAMPTZ[])
    ) AS r (issue_id, release, environment, event_count, first_seen, last_seen)
),

user_rows AS (
    SELECT
        u.issue_id,
        u.user_key,
        u.times_seen
    FROM unnest(
        cast(%(user_issue_ids)s AS UUID[]),
        cast(%(user_keys)s AS TEXT[]),
        cast(%(user_counts)s AS INTEGER[])
    ) AS u (issue_id, user_key, times_seen)
),

new_issue_tags AS (
    INSERT INTO issue_tag_values (
        project_id, issue_id, tag_key, tag_value, times_seen, first_seen, last_seen
    )
    SELECT
        %(project_id)s AS project_id,
        r.issue_id,
        r.tag_key,
        r.tag_value,
        r.times_seen,
        r.first_seen,
        r.last_seen
    FROM issue_rows AS r
    WHERE r.new_issue
    RETURNING 1
),

issue_tags AS (
    INSERT INTO issue_tag_values AS v (
        project_id, issue_id, tag_key, tag_value, times_seen, first_seen, last_seen
    )
    SELECT
        %(project_id)s AS project_id,
        r.issue_id,
        r.tag_key,
        r.tag_value,
        r.times_seen,
        r.first_seen,
        r.last_seen
    FROM issue_rows AS r
    WHERE NOT r.new_issue
    ORDER BY r.issue_id, r.tag_key, r.tag_value
    ON CONFLICT (project_id, issue_id, tag_key, tag_value) DO UPDATE
        SET
            times_seen = v.times_seen + excluded.times_seen,
            first_seen = least(v.first_seen, excluded.first_seen),
            last_seen = greatest(v.last_seen, excluded.last_seen)
    RETURNING 1
),

new_issue_hours AS (
    INSERT INTO issue_hourly_counts (project_id, issue_id, hour_start, event_count)
    SELECT
        %(project_id)s AS project_id,
        hours.issue_id,
        hours.hour_start,
        sum(hours.event_count) AS event_count
    FROM hours
    WHERE hours.new_issue
    GROUP BY hours.issue_id, hours.hour_start
    RETURNING 1
),

issue_hours AS (
    INSERT INTO issue_hourly_counts AS c (project_id, issue_id, hour_start, event_count)
    SELECT
        %(project_id)s AS project_id,
        hours.issue_id,
        hours.hour_start,
        sum(hours.event_count) AS event_count
    FROM hours
    WHERE NOT hours.new_issue
    GROUP BY hours.issue_id, hours.hour_start
    ORDER BY hours.issue_id, hours.hour_start
    ON CONFLICT (project_id, issue_id, hour_start) DO UPDATE
        SET event_count = c.event_count + excluded.event_count
    RETURNING 1
),

issue_releases_upserted AS (
    INSERT INTO issue_releases AS v (
        project_id, issue_id, release, environment, first_seen, last_seen, event_count
    )
    SELECT
        %(project_id)s AS project_id,
        r.issue_id,
        r.release,
        r.environment,
        r.first_seen,
        r.last_seen,
        r.event_count
    FROM issue_release_rows AS r
    ORDER BY r.issue_id, r.release, r.environment
    ON CONFLICT (project_id, issue_id, release, environment) DO UPDATE
        SET
            event_count = v.event_count + excluded.event_count,
            first_seen = least(v.first_seen, excluded.first_seen),
            last_seen = greatest(v.last_seen, excluded.last_seen)
    RETURNING 1
),

issue_users_upserted AS (
    INSERT INTO issue_users AS v (project_id, issue_id, user_key, times_seen)
    SELECT
        %(project_id)s AS project_id,
        u.issue_id,
        u.user_key,
        u.times_seen
    FROM user_rows AS u
    ORDER BY u.issue_id, u.user_key
    ON CONFLICT (project_id, issue_id, user_key) DO UPDATE
        SET times_seen = v.times_seen + excluded.times_seen
    RETURNING v.issue_id, (v.xmax = 0) AS inserted
),

new_users AS (
    SELECT
        issue_users_upserted.issue_id,
        count(*) AS user_count
    FROM issue_users_upserted
    WHERE issue_users_upserted.inserted
    GROUP BY issue_users_upserted.issue_id
),

issue_user_counts AS (
    UPDATE issues AS i
    SET user_count = i.user_count + new_users.user_count
    FROM new_users
    WHERE i.project_id = %(project_id)s AND i.id = new_users.issue_id
    RETURNING 1
),

project_tags AS (
    INSERT INTO project_tag_values AS v (
        project_id, tag_key, tag_value, times_seen, first_seen, last_seen
    )
    SELECT
        %(project_id)s AS project_id,
        w.tag_key,
        w.tag_value,
        w.times_seen,
        w.first_seen,
        w.last_seen
    FROM tracking AS w
    WHERE w.tracked
    ORDER BY w.tag_key, w.tag_value
    ON CONFLICT (project_id, tag_key, tag_value) DO UPDATE
        SET
            times_seen = v.times_seen + excluded.times_seen,
            first_seen = least(v.first_seen, excluded.first_seen),
            last_seen = greatest(v.last_seen, excluded.last_seen)
    RETURNING 1
),

tag_keys_counted AS (
    UPDATE project_tag_keys AS k
    SET
        tracked_values = k.tracked_values + d.new_values,
        untracked_events = k.untracked_events + d.untracked_events
    FROM (
        SELECT
            w.tag_key,
            count(*) FILTER (WHERE w.tracked AND NOT w.known) AS new_values,
            coalesce(sum(w.times_seen) FILTER (WHERE NOT w.tracked), 0) AS untracked_events
        FROM tracking AS w
        GROUP BY w.tag_key
    ) AS d
    WHERE
        k.project_id = %(project_id)s
        AND k.tag_key = d.tag_key
        AND (d.new_values > 0 OR d.untracked_events > 0)
    RETURNING 1
),

project_hours AS (
    INSERT INTO project_hourly_counts AS c (project_id, hour_start, level, event_count)
    SELECT
        %(project_id)s AS project_id,
        hours.hour_start,
        hours.level,
        sum(hours.event_count) AS event_count
    FROM hours
    GROUP BY hours.hour_start, hours.level
    ORDER BY hours.hour_start, hours.level
    ON CONFLICT (project_id, hour_start, level) DO UPDATE
        SET event_count = c.event_count + excluded.event_count
    RETURNING 1
),

project_releases AS (
    INSERT INTO releases AS v (project_id, release, first_seen, last_seen, event_count)
    SELECT
        %(project_id)s AS project_id,
        r.release,
        min(r.first_seen) AS first_seen,
        max(r.last_seen) AS last_seen,
        sum(r.event_count) AS event_count
    FROM issue_release_rows AS r
    GROUP BY r.release
    ORDER BY r.release
    ON CONFLICT (project_id, release) DO UPDATE
        SET
            event_count = v.event_count + excluded.event_count,
            first_seen = least(v.first_seen, excluded.first_seen),
            last_seen = greatest(v.last_seen, excluded.last_seen)
    RETURNING 1
),

project_statuses AS (
    INSERT INTO project_issue_counts AS c (project_id, status, issue_count)
    SELECT
        %(project_id)s AS project_id,
        moved.status,
        moved.delta
    FROM (
        VALUES
        ('resolved', -cast(%(reopened_issues)s AS INTEGER)),
        ('unresolved', cast(%(opened_issues)s AS INTEGER) + cast(%(reopened_issues)s AS INTEGER))
    ) AS moved (status, delta)
    WHERE moved.delta <> 0
    ORDER BY moved.status
    ON CONFLICT (project_id, status) DO UPDATE
        SET issue_count = c.issue_count + excluded.issue_count
    RETURNING 1
),

event_pairs AS (
    INSERT INTO event_tags (
        project_id, tag_key, tag_value, received_at, event_id, received_ats, event_ids
    )
    SELECT
        %(project_id)s AS project_id,
        s.tag_key,
        s.tag_value,
        s.received_ats[1] AS received_at,
        s.event_ids[1] AS event_id,
        s.received_ats,
        s.event_ids
    FROM (
        SELECT
            pairs.tag_key,
            pairs.tag_value,
            (cast(%(pair_received_ats)s AS TIMESTAMPTZ[]))[
                pairs.first_entry : pairs.last_entry
            ] AS received_ats,
            (cast(%(pair_event_ids)s AS UUID[]))[
                pairs.first_entry : pairs.last_entry
            ] AS event_ids
        FROM pairs
        INNER JOIN tracking AS w ON pairs.tag_key = w.tag_key AND pairs.tag_value = w.tag_value
        WHERE w.tracked
    ) AS s
    RETURNING 1
)

SELECT
    (SELECT count(*) FROM new_issue_tags)
    + (SELECT count(*) FROM issue_tags) AS issue_tag_rows,
    (SELECT count(*) FROM new_issue_hours)
    + (SELECT count(*) FROM issue_hours) AS issue_hour_rows,
    (SELECT count(*) FROM issue_releases_upserted) AS issue_release_rows,
    (SELECT count(*) FROM issue_users_upserted) AS issue_user_rows,
    (SELECT count(*) FROM issue_user_counts) AS issue_user_counts,
    (SELECT count(*) FROM project_tags) AS project_tag_rows,
    (SELECT count(*) FROM tag_keys_counted) AS tag_key_rows,
    (SELECT count(*) FROM project_hours) AS project_hour_rows,
    (SELECT count(*) FROM project_releases) AS release_rows,
    (SELECT count(*) FROM project_statuses) AS project_status_rows,
    (SELECT count(*) FROM event_pairs) AS event_tag_rows"""


def tags_and_counts(
    project_id: UUID,
    rows: Sequence[EventRow],
    tags: Sequence[Mapping[str, str]],
    *,
    locked: Sequence[Sequence[Any]],
    upserted: Sequence[Sequence[Any]],
) -> dict[str, Any]:
    """UPSERT_TAGS_AND_COUNTS' parameters: ``rows`` the batch's events rows
    (with their issue ids), ``tags`` each event's; ``locked`` and
    ``upserted`` the rows of LOCK_ISSUES (id, fingerprint, status) and
    UPSERT_ISSUES (id, fingerprint, new_issue, regressed), which give the
    batch's new issues and the resolved ones it reopened."""
    new_issues = {issue_id for issue_id, _, new, _ in upserted if new}
    users: dict[tuple[Any, str], int] = {}
    for row in rows:
        user = json.loads(row.user_context) if row.user_context not in ("{}", "null") else None
        key = user_key(user) if isinstance(user, dict) else None
        if key is not None:
            users[(row.issue_id, key)] = users.get((row.issue_id, key), 0) + 1
    releases: dict[tuple[Any, str, str], list[Any]] = {}
    for row in rows:
        if row.release is not None:
            counted = releases.setdefault(
                (row.issue_id, row.release, row.environment or ""),
                [0, row.received_at, row.received_at],
            )
            counted[0] += 1
            counted[2] = row.received_at
    new_seen: dict[tuple[Any, str, str], list[Any]] = {}
    old_seen: dict[tuple[Any, str, str], list[Any]] = {}
    new_hours: dict[tuple[Any, Any, str], int] = {}
    old_hours: dict[tuple[Any, Any, str], int] = {}
    pairs: dict[tuple[str, str, Any], list[EventRow]] = {}
    for row, event_tags in zip(rows, tags, strict=True):
        issue_id, at = row.issue_id, row.received_at
        new = issue_id in new_issues
        seen, hours = (new_seen, new_hours) if new else (old_seen, old_hours)
        hour = (issue_id, at.replace(minute=0, second=0, microsecond=0), row.level)
        hours[hour] = hours.get(hour, 0) + 1
        day = at.date()
        for key, value in event_tags.items():
            entry = seen.get((issue_id, key, value))
            if entry is None:
                seen[(issue_id, key, value)] = [1, at, at]
            else:
                entry[0] += 1
                entry[2] = at
            pairs.setdefault((key, value, day), []).append(row)
    pair_rows: list[EventRow] = []
    starts, ends = [], []
    for pair in pairs.values():  # each pair's events newest first
        starts.append(len(pair_rows) + 1)
        pair_rows.extend(reversed(pair))
        ends.append(len(pair_rows))
    seen, hours = new_seen | old_seen, new_hours | old_hours  # the new issues' first
    a = BinaryArray  # as the layer sends them: binary arrays
    return {
        "project_id": project_id,
        "tag_issue_ids": a(k[0] for k in seen), "tag_keys": a(k[1] for k in seen),
        "tag_values": a(k[2] for k in seen), "tag_counts": a(e[0] for e in seen.values()),
        "tag_first_seen": a(e[1] for e in seen.values()),
        "tag_last_seen": a(e[2] for e in seen.values()),
        "hour_issue_ids": a(k[0] for k in hours), "hour_starts": a(k[1] for k in hours),
        "hour_levels": a(k[2] for k in hours), "hour_counts": a(hours.values()),
        "new_issue_tag_rows": len(new_seen), "new_issue_hour_rows": len(new_hours),
        "opened_issues": sum(new for _, _, new, _ in upserted),
        "reopened_issues": len({i for i, _, _, regressed in upserted if regressed}),
        "issue_release_ids": a(k[0] for k in releases),
        "issue_release_versions": a(k[1] for k in releases),
        "issue_release_environments": a(k[2] for k in releases),
        "issue_release_counts": a(e[0] for e in releases.values()),
        "issue_release_first_seen": a(e[1] for e in releases.values()),
        "issue_release_last_seen": a(e[2] for e in releases.values()),
        "user_issue_ids": a(k[0] for k in users), "user_keys": a(k[1] for k in users),
        "user_counts": a(users.values()),
        "pair_keys": a(k[0] for k in pairs), "pair_values": a(k[1] for k in pairs),
        "pair_starts": a(starts), "pair_ends": a(ends),
        "pair_event_ids": a(r.id for r in pair_rows),
        "pair_received_ats": a(r.received_at for r in pair_rows),
    }  # fmt: skip


SEVERITY = ["debug", "info", "warning", "error", "fatal"]  # least severe first

#: An event's JSONB columns as JSON text: exception, stacktrace, breadcrumbs,
#: tags, extra, user_context.
JsonColumns = tuple[str | None, str, str, str, str, str]


def json_columns(p: dict[str, Any]) -> JsonColumns:
    exc = p.get("exception")
    return (
        None if exc is None else json.dumps(exc), json.dumps(p.get("stacktrace", [])),
        json.dumps(p.get("breadcrumbs", [])), json.dumps(p.get("tags", {})),
        json.dumps(p.get("extra", {})), json.dumps(p.get("user_context", {})),
    )  # fmt: skip


def _row(
    project_id: UUID, issue_id: UUID, fp: str, p: dict[str, Any], columns: JsonColumns | None
) -> EventRow:
    event_id, received_at = uuid7_with_time()
    exception, stacktrace, breadcrumbs, tags, extra, user_context = (
        json_columns(p) if columns is None else columns
    )
    return EventRow(
        id=event_id, project_id=project_id, issue_id=issue_id, level=p.get("level", "error"),
        message=p.get("message", ""), fingerprint=fp,
        exception=None if exception is None else JsonText(exception),
        stacktrace=JsonText(stacktrace), breadcrumbs=JsonText(breadcrumbs), tags=JsonText(tags),
        extra=JsonText(extra), user_context=JsonText(user_context),
        sdk_name=p.get("sdk_name"), sdk_version=p.get("sdk_version"), received_at=received_at,
    )  # fmt: skip


def ingest_batch(
    conn: psycopg.Connection[Any],
    project_id: UUID,
    payloads: Sequence[dict[str, Any]],
    fingerprints: Sequence[str],
    titles: Sequence[str],
    json_text: Sequence[JsonColumns] | None = None,
    today: bool = False,
) -> None:
    """Lock, upsert one issue per fingerprint, COPY the events (INSERT a single
    one), upsert the tag store and the hourly rollups: one transaction. The
    arrays go as binary arrays, as the layer sends them. ``json_text``: the
    JSONB columns already serialized (else they are serialized here, inside
    the clock). ``today``: the write path as it was before the tag store
    (scenario 11): no tag store statement, and plain lists (sent as text)."""
    a: Callable[[Iterable[Any]], list[Any]] = list if today else BinaryArray
    _, now = uuid7_with_time()
    groups: dict[str, list[int]] = {}
    for index, fp in enumerate(fingerprints):
        groups.setdefault(fp, []).append(index)
    keys = a(sorted(groups))
    levels = a(
        max((payloads[i].get("level", "error") for i in groups[k]), key=SEVERITY.index)
        for k in keys
    )
    lock_keys = a(
        sorted(
            {
                int.from_bytes(sha256(project_id.bytes + k.encode()).digest()[:8], signed=True)
                for k in keys
            }
        )
    )

    def row(i: int, issue_ids: dict[str, UUID]) -> EventRow:
        columns = None if json_text is None else json_text[i]
        return _row(project_id, issue_ids[fingerprints[i]], fingerprints[i], payloads[i], columns)

    with conn.transaction(), conn.cursor() as cur:
        cur.execute(LOCK_FINGERPRINTS, {"keys": lock_keys})
        cur.execute(LOCK_ISSUES, {"project_id": project_id, "fingerprints": keys})
        locked = cur.fetchall()
        routes = {fp: issue_id for issue_id, fp, _ in locked}
        cur.execute(
            UPSERT_ISSUES,
            {"project_id": project_id, "fingerprints": keys,
             "issue_ids": a(routes.get(k) for k in keys),
             "release_fingerprints": a([]), "release_versions": a([]),
             "titles": a(titles[groups[k][0]] for k in keys), "levels": levels,
             "counts": a(len(groups[k]) for k in keys), "first_seen": a([now] * len(keys)),
             "last_seen": a([now] * len(keys)), "first_releases": a([None] * len(keys)),
             "last_releases": a([None] * len(keys))},
        )  # fmt: skip
        upserted = cur.fetchall()
        issue_ids = {fp: issue_id for issue_id, fp, _, _ in upserted}
        rows = [row(i, issue_ids) for i in range(len(payloads))]
        if len(payloads) == 1:
            cur.execute(INSERT_EVENT, rows[0])
        else:
            with cur.copy(COPY_EVENTS) as copy:
                for r in rows:
                    copy.write_row(r)
        if not today:
            tags = [p.get("tags", {}) for p in payloads]
            tag_keys = a(sorted({key for event_tags in tags for key in event_tags}))
            if tag_keys:
                cur.execute(LOCK_TAG_KEYS, {"project_id": project_id, "tag_keys": tag_keys})
            cur.execute(
                UPSERT_TAGS_AND_COUNTS,
                tags_and_counts(project_id, rows, tags, locked=locked, upserted=upserted),
            )


# --- API keys (sql/queries/api_keys.sql) ------------------------------------------

API_KEY_LOOKUP = """SELECT p.id, p.org_id, p.name, p.platform, p.created_at, p.dsn_id,
       p.retention_days, p.deleted_at
FROM api_keys AS k INNER JOIN projects AS p ON k.project_id = p.id
WHERE k.key_value = %(key_value)s AND k.revoked_at IS NULL AND p.deleted_at IS NULL"""


def get_project_by_api_key(conn: psycopg.Connection[Any], key: str) -> tuple[Any, ...] | None:
    return conn.execute(API_KEY_LOOKUP, {"key_value": key}, prepare=True).fetchone()


# --- reads (sql/queries/issues.sql and events.sql) ----------------------------------

ISSUE_FILTERS = """project_id = %(project_id)s
  AND (cast(%(status)s AS TEXT) IS NULL OR status = %(status)s)
  AND (cast(%(level)s AS TEXT) IS NULL OR level = %(level)s)
  AND merged_into IS NULL AND deleted_at IS NULL
  AND NOT EXISTS (
    SELECT FROM projects AS p WHERE p.id = %(project_id)s AND p.deleted_at IS NOT NULL
  )"""

READS = {
    "list_issues": f"""SELECT * FROM issues
WHERE {ISSUE_FILTERS}
ORDER BY last_seen DESC, id DESC LIMIT %(page_size)s""",
    "list_issues_after": f"""SELECT * FROM issues
WHERE {ISSUE_FILTERS}
  AND last_seen <= %(after_last_seen)s
  AND (last_seen, id) < (%(after_last_seen)s, cast(%(after_id)s AS UUID))
ORDER BY last_seen DESC, id DESC LIMIT %(page_size)s""",
    "count_issues_by_status": """SELECT status, issue_count FROM project_issue_counts
WHERE project_id = %(project_id)s
  AND NOT EXISTS (
    SELECT FROM projects AS p WHERE p.id = %(project_id)s AND p.deleted_at IS NOT NULL
  )""",
    "top_issues": """SELECT * FROM issues WHERE project_id = %(project_id)s
  AND merged_into IS NULL AND deleted_at IS NULL
  AND NOT EXISTS (
    SELECT FROM projects AS p WHERE p.id = %(project_id)s AND p.deleted_at IS NOT NULL
  )
ORDER BY event_count DESC, id DESC LIMIT %(page_size)s""",
    "get_event": """SELECT *
FROM events
WHERE
    id = %(id)s
    AND project_id = %(project_id)s
    AND received_at >= %(not_before)s
    AND received_at < %(not_after)s
    AND NOT EXISTS (
        SELECT FROM issues AS i
        WHERE
            i.project_id = events.project_id
            AND i.id = events.issue_id
            AND i.deleted_at IS NOT NULL
    )
  AND NOT EXISTS (
    SELECT FROM projects AS p WHERE p.id = %(project_id)s AND p.deleted_at IS NOT NULL
  )""",
    "list_events_for_issue": """SELECT *
FROM list_issue_events(NULL, %(issue_id)s, NULL, NULL, %(page_size)s)""",
    "filter_events_by_tags": """SELECT * FROM filter_events_by_tags(
    %(project_id)s, %(tags)s, %(since)s, %(page_size)s
)""",
    "event_volume": """WITH counted AS (
    SELECT
        date_trunc(%(bucket)s, hour_start, 'UTC') AS bucket_start,
        sum(event_count) AS event_count
    FROM project_hourly_counts
    WHERE
        project_id = %(project_id)s
        AND hour_start >= date_trunc('hour', cast(%(since)s AS TIMESTAMPTZ), 'UTC')
        AND NOT EXISTS (
            SELECT FROM projects AS p
            WHERE p.id = %(project_id)s AND p.deleted_at IS NOT NULL
        )
    GROUP BY bucket_start
),

buckets AS (
    SELECT generate_series(
        date_trunc(%(bucket)s, cast(%(since)s AS TIMESTAMPTZ), 'UTC'),
        date_trunc(%(bucket)s, now(), 'UTC'),
        cast('1 ' || %(bucket)s AS INTERVAL)
    ) AS bucket_start
)

SELECT
    buckets.bucket_start,
    coalesce(counted.event_count, 0) AS event_count
FROM buckets
LEFT JOIN counted ON buckets.bucket_start = counted.bucket_start
ORDER BY buckets.bucket_start""",
    "level_breakdown": """SELECT
    level,
    sum(event_count) AS event_count
FROM project_hourly_counts
WHERE
    project_id = %(project_id)s
    AND hour_start >= date_trunc('hour', cast(%(since)s AS TIMESTAMPTZ), 'UTC')
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = %(project_id)s AND p.deleted_at IS NOT NULL
    )
GROUP BY level""",
}

#: Which of the layer's queries each baseline statement stands for.
SAME_AS = {
    "lock_fingerprints": LOCK_FINGERPRINTS,
    "lock_issues": LOCK_ISSUES,
    "upsert_issues": UPSERT_ISSUES,
    "lock_tag_keys": LOCK_TAG_KEYS,
    "upsert_tags_and_counts": UPSERT_TAGS_AND_COUNTS,
    "get_project_by_api_key": API_KEY_LOOKUP,
    **READS,
}


# --- scenario 12: issue search, written by hand for each query --------------------
#
# Not the layer's statements: search_issues runs one generic statement per
# sort order, whatever the query (sql/queries/search.sql), and these are what
# one would write for each query alone. The scenario compares the two designs
# (its name says so), layer included.


@dataclass(frozen=True)
class Search:
    """A search_issues query and the same filters written by hand."""

    name: str
    query: str
    where: str  # on issues AS i
    values: Callable[[UUID, dt.datetime], dict[str, Any]]

    def params(self, project: UUID, now: dt.datetime) -> dict[str, Any]:
        return {"project_id": project, **self.values(project, now)}


def _tag(key: str, value: str) -> str:
    return (
        "EXISTS (SELECT FROM issue_tag_values AS tv WHERE tv.project_id = i.project_id"
        f" AND tv.issue_id = i.id AND tv.tag_key = '{key}' AND tv.tag_value = '{value}')"
    )


SEARCHES = (
    Search(
        "`is:unresolved level:error env:production` (common)",
        "is:unresolved level:error env:production",
        f"i.status = 'unresolved' AND i.level = 'error' AND {_tag('env', 'production')}",
        lambda project, now: {},
    ),
    Search(
        "`!is:resolved region:ap-south-1 lastSeen:-3d` (selective)",
        "!is:resolved region:ap-south-1 lastSeen:-3d",
        f"i.status <> 'resolved' AND i.last_seen >= %(since)s AND {_tag('region', 'ap-south-1')}",
        lambda project, now: {"since": now - dt.timedelta(days=3)},
    ),
)


#: What a search adds to its filters, as the layer's statements do: live
#: issues of a live project.
LIVE_ISSUES = """i.merged_into IS NULL AND i.deleted_at IS NULL
  AND NOT EXISTS (
    SELECT FROM projects AS p WHERE p.id = %(project_id)s AND p.deleted_at IS NOT NULL
  )"""


#: A tag value's issues, from the tag store (idx_issue_tag_values_tag).
TAG_ISSUES = """SELECT tv.issue_id FROM issue_tag_values AS tv
WHERE tv.project_id = %(project_id)s AND tv.tag_key = %(key)s AND tv.tag_value = %(value)s"""


def page_by_hand(issues: str, key: str) -> str:
    """A search's first page as one would write it knowing its issues are
    few: ``issues`` (a subquery of their ids) first, then the live ones
    sorted by ``key``."""
    return f"""SELECT i.* FROM issues AS i
WHERE i.project_id = %(project_id)s AND {LIVE_ISSUES}
  AND i.id IN ({issues})
ORDER BY i.{key} DESC, i.id DESC LIMIT 51"""


def search_sql(search: Search, key: str, *, after: bool, page: bool = True) -> str:
    """The hand-written statement for a search in one sort order: a page
    (after a row, if ``after``), or (not ``page``) every match's key and id."""
    columns = "i.*" if page else f"{key}, id"
    keyset = f" AND (i.{key}, i.id) < (%(after_key)s, %(after_id)s)" if after else ""
    return (
        f"SELECT {columns} FROM issues AS i"
        f" WHERE i.project_id = %(project_id)s AND {LIVE_ISSUES} AND {search.where}{keyset}"
        f" ORDER BY i.{key} DESC, i.id DESC" + (" LIMIT %(page_size)s" if page else "")
    )


def read(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A read by its name in READS, or a hand-written search statement."""
    return conn.execute(READS.get(name, name), params, prepare=True).fetchall()
