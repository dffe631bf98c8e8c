-- name: lock_issues(project_id, fingerprints)
-- The write path's first statement: locks a batch's existing issues, in
-- fingerprint order (so concurrent batches cannot deadlock), and returns
-- their status before the batch, which tells upsert_issues' caller which
-- issues regress. Served by issues_project_id_fingerprint_key.
SELECT
    id,
    fingerprint,
    status
FROM issues
WHERE project_id = :project_id AND fingerprint = any(cast(:fingerprints AS TEXT[]))
ORDER BY fingerprint
FOR UPDATE;

-- name: upsert_issues(project_id, fingerprints, titles, levels, counts, first_seen, last_seen)
-- The write path's one issue statement per batch: one row per distinct
-- fingerprint (parallel arrays, sorted by fingerprint). A new issue starts at
-- the batch's count; an existing one adds it, moves last_seen, keeps the most
-- severe level, and regresses from resolved to unresolved (archived stays
-- archived). Returns each issue's id and whether this statement created it.
-- Served by issues_project_id_fingerprint_key.
WITH incoming AS (
    SELECT
        t.fingerprint,
        t.title,
        t.level,
        t.event_count,
        t.first_seen,
        t.last_seen
    FROM unnest(
        cast(:fingerprints AS TEXT[]),
        cast(:titles AS TEXT[]),
        cast(:levels AS TEXT[]),
        cast(:counts AS INTEGER[]),
        cast(:first_seen AS TIMESTAMPTZ[]),
        cast(:last_seen AS TIMESTAMPTZ[])
    ) AS t (fingerprint, title, level, event_count, first_seen, last_seen)
)

INSERT INTO issues AS i (
    project_id, fingerprint, title, level, event_count, first_seen, last_seen
)
SELECT
    :project_id AS project_id,
    incoming.fingerprint,
    incoming.title,
    incoming.level,
    incoming.event_count,
    incoming.first_seen,
    incoming.last_seen
FROM incoming
ORDER BY incoming.fingerprint
ON CONFLICT (project_id, fingerprint) DO UPDATE
    SET
        event_count = i.event_count + excluded.event_count,
        last_seen = greatest(i.last_seen, excluded.last_seen),
        level = CASE
            WHEN
                array_position(
                    ARRAY['debug', 'info', 'warning', 'error', 'fatal'], excluded.level
                )
                > array_position(ARRAY['debug', 'info', 'warning', 'error', 'fatal'], i.level)
                THEN excluded.level
            ELSE i.level
        END,
        status = CASE WHEN i.status = 'resolved' THEN 'unresolved' ELSE i.status END
RETURNING i.id, i.fingerprint, (i.xmax = 0) AS new_issue;

-- name: copy_events()!
-- COPY statement for the write path (psycopg's cursor.copy); rows are
-- written in this column order.
COPY events (
    id, project_id, issue_id, level, message, fingerprint, exception, stacktrace,
    breadcrumbs, tags, extra, user_context, sdk_name, sdk_version, received_at
) FROM STDIN;
