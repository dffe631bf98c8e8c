-- name: create_events_partition(day)$
-- Creates events_YYYYMMDD and event_tags_YYYYMMDD for one UTC day unless
-- they exist, moving that day's rows out of events_default and
-- event_tags_default; returns the events moved, NULL if events_YYYYMMDD
-- existed (sql/functions/create_events_partition.sql).
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
