-- An event read returns the whole events row (SELECT *): the table's columns,
-- in its order, are the row's one definition. models.Event has the same fields
-- in the same order (tests/test_rows.py), which _results.event_from_row needs.

-- name: get_event(project_id, id, not_before, not_after)^
-- One event of a project, none if its issue (delete_issue) or its project
-- (delete_project) was deleted. The id is a UUIDv7, so its timestamp bounds
-- received_at: the caller passes a window around it and partition pruning
-- limits the lookup to the partitions of that window (primary key index);
-- then the issue's primary key.
SELECT *  -- noqa: AM04
FROM events
WHERE
    id = :id
    AND project_id = :project_id
    AND received_at >= :not_before
    AND received_at < :not_after
    AND NOT EXISTS (
        SELECT FROM issues AS i
        WHERE
            i.project_id = events.project_id
            AND i.id = events.issue_id
            AND i.deleted_at IS NOT NULL
    )
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    );

-- name: list_events_for_issue(issue_id, page_size)
-- The first page of an issue's events, newest first, those of the issues
-- merged into it included (a merge rewrites no event: they keep their
-- issue_id); none for a deleted issue or project. The statement is the SQL
-- function list_issue_events (sql/functions/list_issue_events.sql): the
-- issue and those merged into it (idx_issues_id, idx_issues_merged_into),
-- then time windows from the last event back, each a page per issue from
-- idx_events_issue_received in the partitions of the window only, merged,
-- until the page is full. The cost follows the page, not the number of
-- partitions kept.
SELECT *  -- noqa: AM04
FROM list_issue_events(NULL, :issue_id, NULL, NULL, :page_size);

-- name: list_events_for_issue_in_project(project_id, issue_id, page_size)
-- list_events_for_issue, project-scoped (single-shard on Citus): no rows for
-- an issue of another project. The function finds the issue by issues_pkey
-- and reads its events as list_events_for_issue does
-- (idx_events_issue_received), every statement with project_id = the
-- parameter, which routes it on Citus.
SELECT *  -- noqa: AM04
FROM list_issue_events(:project_id, :issue_id, NULL, NULL, :page_size);

-- name: list_events_for_issue_after(issue_id, after_received_at, after_id, page_size)
-- The next page after a row (keyset on (received_at, id)), merged issues'
-- events included as in list_events_for_issue; the windows start at the
-- cursor's day, so that they prune the newer partitions too, and each
-- idx_events_issue_received scan starts at the cursor.
SELECT *  -- noqa: AM04
FROM list_issue_events(NULL, :issue_id, :after_received_at, :after_id, :page_size);

-- name: list_events_for_issue_after_in_project(project_id, issue_id, after_received_at, after_id, page_size)
-- list_events_for_issue_after, project-scoped (single-shard on Citus), as
-- list_events_for_issue_in_project (issues_pkey, then
-- idx_events_issue_received).
SELECT *  -- noqa: AM04
FROM list_issue_events(:project_id, :issue_id, :after_received_at, :after_id, :page_size);

-- name: filter_events_by_tags(project_id, tags, since, page_size)
-- A project's events since a time whose tags contain all the given pairs,
-- newest first, at most page_size. The statement is the SQL function of the
-- same name (sql/functions/filter_events_by_tags.sql). It picks, of the
-- pairs, the one the tag store counts fewest events of (project_tag_values,
-- primary key), walks that pair's rows of event_tags (a batch's events of the
-- pair each) by their primary key from the newest back, fetching each listed
-- event by its primary key, until page_size match; then sorts the events of
-- the rows from the oldest of those on (rows of concurrent batches overlap in
-- time) and fetches them in order until page_size match. Its cost follows
-- page_size and, with several pairs, how many of the walked pair's events
-- lack the others; not how many events match, nor how old they are. It is a
-- function so that its statements keep one generic plan per session (planning
-- them per call cost more than the walk); tests/test_events.py checks that
-- plan. It returns events rows (SETOF events), like the other event reads.
SELECT *  -- noqa: AM04
FROM filter_events_by_tags(:project_id, :tags, :since, :page_size);

-- name: event_volume(project_id, bucket, since)
-- Events per hour or day (UTC) since a time, including empty buckets, for a
-- dashboard chart: sums of the hourly rollup (project_hourly_counts, written
-- by the write path), never the events. The rollup counts whole UTC hours, so
-- since counts from the start of its hour. A project's hours in the window
-- are a range of project_hourly_counts_pkey. Nothing for a deleted project.
WITH counted AS (
    SELECT
        date_trunc(:bucket, hour_start, 'UTC') AS bucket_start,
        sum(event_count) AS event_count
    FROM project_hourly_counts
    WHERE
        project_id = :project_id
        AND hour_start >= date_trunc('hour', cast(:since AS TIMESTAMPTZ), 'UTC')
        AND NOT EXISTS (
            SELECT FROM projects AS p
            WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
        )
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
-- project_hourly_counts_pkey (at most five rows per hour). Nothing for a
-- deleted project.
SELECT
    level,
    sum(event_count) AS event_count
FROM project_hourly_counts
WHERE
    project_id = :project_id
    AND hour_start >= date_trunc('hour', cast(:since AS TIMESTAMPTZ), 'UTC')
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
GROUP BY level;
