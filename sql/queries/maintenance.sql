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
