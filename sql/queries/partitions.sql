-- name: create_events_partition(day)$
-- Creates events_YYYYMMDD for one UTC day unless it exists, moving that day's
-- rows out of events_default; returns the rows moved, NULL if it existed
-- (create_events_partition in 0007_ingest_alerts.sql).
SELECT create_events_partition(:day);

-- name: create_events_partitions_ahead(days)
-- Creates the partitions for today (UTC) and the days - 1 days after it;
-- one row per day: its partition name and whether it was created now.
WITH days AS (
    SELECT (now() AT TIME ZONE 'UTC')::DATE + n AS partition_day
    FROM generate_series(0, :days - 1) AS n
)

SELECT
    'events_' || to_char(partition_day, 'YYYYMMDD') AS partition_name,
    create_events_partition(partition_day) IS NOT NULL AS created
FROM days
ORDER BY partition_day;

-- name: list_default_partition_days()
-- The UTC days of the rows that landed in events_default (no partition
-- existed for their day), oldest first.
SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::DATE AS partition_day
FROM events_default
ORDER BY partition_day;

-- name: drop_expired_events_partitions(retention_days)
-- Drops daily partitions older than the retention; one row per dropped
-- partition (drop_expired_events_partitions in 0007_ingest_alerts.sql).
SELECT drop_expired_events_partitions(:retention_days) AS partition_name;

-- name: acquire_maintenance_lock()$
-- Session-level advisory lock: one maintenance run at a time.
SELECT pg_advisory_lock(hashtext('mesher.maintain'));

-- name: release_maintenance_lock()$
-- Releases acquire_maintenance_lock (also released on disconnect).
SELECT pg_advisory_unlock(hashtext('mesher.maintain'));

-- name: set_lock_timeout(milliseconds)$
-- Bounds how long a maintenance step waits for a lock (and so how long
-- ingestion can queue behind it), for the current transaction only.
SELECT set_config('lock_timeout', :milliseconds || 'ms', TRUE);

-- name: forget_ingest_batches(keep_days)!
-- Deletes idempotency keys older than the window (idx_ingest_batches_received).
DELETE FROM ingest_batches
WHERE received_at < now() - make_interval(days => :keep_days);
