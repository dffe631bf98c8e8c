-- name: acquire_maintenance_lock()$
-- Session-level advisory lock: one maintenance run at a time.
SELECT pg_advisory_lock(hashtext('mesher.maintain'));

-- name: release_maintenance_lock()$
-- Releases acquire_maintenance_lock (also released on disconnect).
SELECT pg_advisory_unlock(hashtext('mesher.maintain'));

-- name: set_lock_timeout(milliseconds)$
-- Bounds how long a maintenance step waits for a lock (and so how long
-- ingestion can queue behind it), for the current transaction only; on
-- Citus, on the workers as well (sql/functions/set_lock_timeout.sql).
SELECT set_lock_timeout(cast(:milliseconds AS INTEGER));

-- name: list_default_partition_days()
-- The UTC days of the rows that landed in events_default (no partition
-- existed for their day), oldest first.
SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::DATE AS partition_day
FROM events_default
ORDER BY partition_day;

-- name: drop_expired_events_partitions(retention_days)
-- Drops the daily partitions of events and event_tags older than the
-- retention; one row per dropped events partition
-- (sql/functions/drop_expired_events_partitions.sql).
SELECT drop_expired_events_partitions(:retention_days) AS partition_name;

-- name: forget_ingest_batches(keep_days)!
-- Deletes idempotency keys older than the window (idx_ingest_batches_received).
DELETE FROM ingest_batches
WHERE received_at < now() - make_interval(days => :keep_days);

-- name: delete_expired_sessions()!
-- Deletes the sessions past their expiry (idx_sessions_expires); returns
-- how many. validate_session already ignores them: this only frees space.
DELETE FROM sessions
WHERE expires_at <= now();

-- name: forget_sentry_event_ids(keep_days)!
-- Deletes the SDK event ids older than the window
-- (idx_sentry_event_ids_received): an SDK retries within minutes, not weeks.
DELETE FROM sentry_event_ids
WHERE received_at < now() - make_interval(days => :keep_days);

-- name: delete_expired_rollups(keep_days)$
-- Deletes the hourly rollups' hours that ended more than keep_days ago, in
-- both tables (idx_project_hourly_counts_hour, idx_issue_hourly_counts_hour);
-- returns how many rows. The rollups outlive the event partitions they
-- counted: they have a retention of their own.
WITH issue_hours AS (
    DELETE FROM issue_hourly_counts
    WHERE hour_start <= now() - make_interval(days => :keep_days, hours => 1)
    RETURNING 1
),

project_hours AS (
    DELETE FROM project_hourly_counts
    WHERE hour_start <= now() - make_interval(days => :keep_days, hours => 1)
    RETURNING 1
)

SELECT (SELECT count(*) FROM issue_hours) + (SELECT count(*) FROM project_hours) AS deleted_rows;

-- name: list_deleted_projects()
-- The projects whose rows are still being removed, oldest deletion first
-- (idx_projects_deleted).
SELECT id
FROM projects
WHERE deleted_at IS NOT NULL
ORDER BY deleted_at, id;

-- name: delete_project_rows(project_id, chunk_size)^
-- One chunk of a deleted project's rows: the table it came from and how
-- many; ('projects', 1) when the project's row itself went; none for a
-- project that is not marked deleted
-- (sql/functions/delete_project_rows.sql).
SELECT
    table_name,
    deleted_rows
FROM delete_project_rows(:project_id, :chunk_size);

-- name: delete_emptied_orgs()!
-- Deletes the deleted organizations whose projects are all gone; returns
-- how many (idx_projects_org for the check).
DELETE FROM organizations AS o
WHERE
    o.deleted_at IS NOT NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.org_id = o.id
    );

-- name: list_projects_with_retention()
-- The live projects with a retention of their own, and its days.
SELECT
    id,
    retention_days
FROM projects
WHERE retention_days IS NOT NULL AND deleted_at IS NULL
ORDER BY id;

-- name: expire_project_events(project_id, keep_days, chunk_size)^
-- One chunk of a project's events and event_tags rows received more than
-- keep_days ago: the partition it came from and how many; none when none is
-- left (sql/functions/delete_expired_project_events.sql).
SELECT
    table_name,
    deleted_rows
FROM delete_expired_project_events(
    :project_id, now() - make_interval(days => :keep_days), :chunk_size
);

-- name: expire_project_issues(project_id, keep_days, chunk_size)$
-- A project's own retention: marks deleted at most chunk_size of its issues
-- whose last event is older than keep_days, as delete_issue does
-- (counts, fingerprints); returns how many. Their rows then go with the
-- deleted issues'. idx_issues_project_last_seen; one shard on Citus.
WITH expired AS (
    SELECT id
    FROM issues
    WHERE
        project_id = :project_id
        AND deleted_at IS NULL
        AND last_seen < now() - make_interval(days => :keep_days)
    ORDER BY last_seen
    LIMIT :chunk_size
    FOR UPDATE
),

gone AS (
    UPDATE issues AS i
    SET deleted_at = now()
    FROM expired AS e
    WHERE i.project_id = :project_id AND i.id = e.id
    RETURNING
        i.id,
        i.status,
        i.merged_into
),

counted AS (
    UPDATE project_issue_counts AS c
    SET issue_count = c.issue_count - d.issues
    FROM (
        SELECT
            status,
            count(*) AS issues
        FROM gone
        WHERE merged_into IS NULL
        GROUP BY status
    ) AS d
    WHERE c.project_id = :project_id AND c.status = d.status
),

fingerprints AS (
    DELETE FROM issue_fingerprints AS f
    USING gone
    WHERE f.project_id = :project_id AND f.issue_id = gone.id
)

SELECT count(*) AS expired_issues FROM gone;

-- name: list_deleted_issues(page_size)
-- Deleted issues whose rows are still being removed (not those of a deleted
-- project: its own deletion removes them), oldest deletion first
-- (idx_issues_deleted).
SELECT
    i.project_id,
    i.id
FROM issues AS i
WHERE
    i.deleted_at IS NOT NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = i.project_id AND p.deleted_at IS NOT NULL
    )
ORDER BY i.deleted_at, i.id
LIMIT :page_size;

-- name: delete_issue_rows(project_id, issue_id, chunk_size)^
-- One chunk of a deleted issue's rows: the table it came from and how many;
-- ('issues', 1) when the issue's row itself went; none for an issue that is
-- not marked deleted (sql/functions/delete_issue_rows.sql).
SELECT
    table_name,
    deleted_rows
FROM delete_issue_rows(:project_id, :issue_id, :chunk_size);

-- name: projects_with_unmerges()
-- The live projects with unmerges in progress or cut short (issue_unmerges
-- rows, each removed by its unmerge's last chunk): maintain finishes them
-- with resume_unmerges. A scan of issue_unmerges (one row per unmerge in
-- progress); a deleted project's go with its rows.
SELECT DISTINCT u.project_id
FROM issue_unmerges AS u
WHERE
    NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = u.project_id AND p.deleted_at IS NOT NULL
    )
ORDER BY u.project_id;
