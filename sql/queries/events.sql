-- name: get_event(project_id, id, not_before, not_after)^
-- One event of a project. The id is a UUIDv7, so its timestamp bounds
-- received_at: the caller passes a window around it and partition pruning
-- limits the lookup to the partitions of that window (primary key index).
SELECT
    id,
    project_id,
    issue_id,
    level,
    message,
    fingerprint,
    exception,
    stacktrace,
    breadcrumbs,
    tags,
    extra,
    user_context,
    sdk_name,
    sdk_version,
    received_at,
    client_event_id,
    occurred_at,
    release,
    environment,
    dist,
    platform,
    server_name,
    logger,
    transaction,
    handled,
    exceptions,
    data
FROM events
WHERE
    id = :id
    AND project_id = :project_id
    AND received_at >= :not_before
    AND received_at < :not_after;

-- name: list_events_for_issue(issue_id, page_size)
-- The first page of an issue's events, newest first. Served by
-- idx_events_issue_received in each partition (merge-appended).
SELECT
    id,
    project_id,
    issue_id,
    level,
    message,
    fingerprint,
    exception,
    stacktrace,
    breadcrumbs,
    tags,
    extra,
    user_context,
    sdk_name,
    sdk_version,
    received_at,
    client_event_id,
    occurred_at,
    release,
    environment,
    dist,
    platform,
    server_name,
    logger,
    transaction,
    handled,
    exceptions,
    data
FROM events
WHERE issue_id = :issue_id
ORDER BY received_at DESC, id DESC
LIMIT :page_size;

-- name: list_events_for_issue_in_project(project_id, issue_id, page_size)
-- list_events_for_issue, project-scoped (single-shard on Citus): no rows for
-- an issue of another project. Served by idx_events_issue_received in each
-- partition (merge-appended); project_id is checked on the rows it finds.
SELECT
    id,
    project_id,
    issue_id,
    level,
    message,
    fingerprint,
    exception,
    stacktrace,
    breadcrumbs,
    tags,
    extra,
    user_context,
    sdk_name,
    sdk_version,
    received_at,
    client_event_id,
    occurred_at,
    release,
    environment,
    dist,
    platform,
    server_name,
    logger,
    transaction,
    handled,
    exceptions,
    data
FROM events
WHERE project_id = :project_id AND issue_id = :issue_id
ORDER BY received_at DESC, id DESC
LIMIT :page_size;

-- name: list_events_for_issue_after(issue_id, after_received_at, after_id, page_size)
-- The next page after a row (keyset on (received_at, id)); the received_at
-- bound prunes partitions and starts each index scan at the cursor.
SELECT
    id,
    project_id,
    issue_id,
    level,
    message,
    fingerprint,
    exception,
    stacktrace,
    breadcrumbs,
    tags,
    extra,
    user_context,
    sdk_name,
    sdk_version,
    received_at,
    client_event_id,
    occurred_at,
    release,
    environment,
    dist,
    platform,
    server_name,
    logger,
    transaction,
    handled,
    exceptions,
    data
FROM events
WHERE
    issue_id = :issue_id
    AND received_at <= :after_received_at
    AND (received_at, id) < (:after_received_at, cast(:after_id AS UUID))
ORDER BY received_at DESC, id DESC
LIMIT :page_size;

-- name: list_events_for_issue_after_in_project(project_id, issue_id, after_received_at, after_id, page_size)
-- list_events_for_issue_after, project-scoped (single-shard on Citus). The
-- received_at bound prunes partitions and starts each idx_events_issue_received
-- scan at the cursor; project_id is checked on the rows it finds.
SELECT
    id,
    project_id,
    issue_id,
    level,
    message,
    fingerprint,
    exception,
    stacktrace,
    breadcrumbs,
    tags,
    extra,
    user_context,
    sdk_name,
    sdk_version,
    received_at,
    client_event_id,
    occurred_at,
    release,
    environment,
    dist,
    platform,
    server_name,
    logger,
    transaction,
    handled,
    exceptions,
    data
FROM events
WHERE
    project_id = :project_id
    AND issue_id = :issue_id
    AND received_at <= :after_received_at
    AND (received_at, id) < (:after_received_at, cast(:after_id AS UUID))
ORDER BY received_at DESC, id DESC
LIMIT :page_size;

-- name: rarest_tag_pair(project_id, tags)^
-- Of the given tag pairs, the one on the fewest of the project's events, by
-- the tag store's counts (project_tag_values: times_seen, primary key, one
-- probe per pair); a pair it does not know counts as none. Ties go to the
-- first key in jsonb order (shorter keys first). filter_events_by_tags walks
-- that pair's events, so it reads as few events per match as the tag store
-- can tell.
SELECT
    t.key AS tag_key,
    t.value AS tag_value
FROM jsonb_each_text(cast(:tags AS JSONB)) AS t
LEFT JOIN project_tag_values AS v
    ON
        v.project_id = :project_id
        AND t.key = v.tag_key
        AND t.value = v.tag_value
ORDER BY coalesce(v.times_seen, 0), t.key
LIMIT 1;

-- name: filter_events_by_tags(project_id, tags, tag_key, tag_value, since, page_size)
-- A project's events since a time whose tags contain all the given pairs,
-- newest first. It walks one pair's rows of event_tags (tag_key and
-- tag_value: the layer passes rarest_tag_pair's) in its primary key, from
-- the newest back (the partitions' keys merged; since prunes the older
-- partitions), and fetches each row's event by its primary key (received_at picks the
-- partition), keeping those whose tags contain every pair, until page_size
-- are found. Its cost follows page_size and, with several pairs, how many of
-- the walked pair's events lack the others; not how many events match, nor
-- how old they are. The event is fetched in a LATERAL subquery with LIMIT 1
-- (one event per row): that keeps the planner from joining every row of the
-- pair to events before the LIMIT, which it would do because it cannot
-- estimate the join on the event's id and time (it expects one row); its
-- columns are the event's, those of the other event reads. since bounds
-- the events too, so that the lookup's partitions older than it are pruned
-- once, before the walk, not skipped on every row. The
-- plan is the same for every value, so it is prepared like any other
-- statement (tests/test_events.py checks the generic plan).
SELECT e.*
FROM event_tags AS t
CROSS JOIN
    LATERAL (
        SELECT
            e.id,
            e.project_id,
            e.issue_id,
            e.level,
            e.message,
            e.fingerprint,
            e.exception,
            e.stacktrace,
            e.breadcrumbs,
            e.tags,
            e.extra,
            e.user_context,
            e.sdk_name,
            e.sdk_version,
            e.received_at,
            e.client_event_id,
            e.occurred_at,
            e.release,
            e.environment,
            e.dist,
            e.platform,
            e.server_name,
            e.logger,
            e.transaction,
            e.handled,
            e.exceptions,
            e.data
        FROM events AS e
        WHERE
            e.project_id = :project_id
            AND e.id = t.event_id
            AND e.received_at = t.received_at
            AND e.received_at >= cast(:since AS TIMESTAMPTZ)
            AND e.tags @> :tags
        LIMIT 1  -- noqa: AM09
    ) AS e
WHERE
    t.project_id = :project_id
    AND t.tag_key = cast(:tag_key AS TEXT)
    AND t.tag_value = cast(:tag_value AS TEXT)
    AND t.received_at >= cast(:since AS TIMESTAMPTZ)
ORDER BY t.received_at DESC, t.event_id DESC
LIMIT :page_size;

-- name: event_volume(project_id, bucket, since)
-- Events per hour or day (UTC) since a time, including empty buckets, for a
-- dashboard chart: sums of the hourly rollup (project_hourly_counts, written
-- by the write path), never the events. The rollup counts whole UTC hours, so
-- since counts from the start of its hour. A project's hours in the window
-- are a range of project_hourly_counts_pkey.
WITH counted AS (
    SELECT
        date_trunc(:bucket, hour_start, 'UTC') AS bucket_start,
        sum(event_count) AS event_count
    FROM project_hourly_counts
    WHERE
        project_id = :project_id
        AND hour_start >= date_trunc('hour', cast(:since AS TIMESTAMPTZ), 'UTC')
    GROUP BY bucket_start
),

buckets AS (
    SELECT generate_series(
        date_trunc(:bucket, cast(:since AS TIMESTAMPTZ), 'UTC'),
        date_trunc(:bucket, now(), 'UTC'),
        cast('1 ' || :bucket AS INTERVAL)
    ) AS bucket_start
)

SELECT
    buckets.bucket_start,
    coalesce(counted.event_count, 0) AS event_count
FROM buckets
LEFT JOIN counted ON buckets.bucket_start = counted.bucket_start
ORDER BY buckets.bucket_start;

-- name: level_breakdown(project_id, since)
-- Events per level since a time (counted from the start of its UTC hour):
-- sums of the hourly rollup, never the events; a range of
-- project_hourly_counts_pkey (at most five rows per hour).
SELECT
    level,
    sum(event_count) AS event_count
FROM project_hourly_counts
WHERE
    project_id = :project_id
    AND hour_start >= date_trunc('hour', cast(:since AS TIMESTAMPTZ), 'UTC')
GROUP BY level;
