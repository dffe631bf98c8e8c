-- An issue read or update returns the whole issues row (SELECT *, RETURNING *):
-- the table's columns, in its order, are the row's one definition. models.Issue
-- has the same fields in the same order (tests/test_rows.py), which
-- _results.issue_from_row needs.
--
-- Hidden issues: a merged source (merged_into set) and a deleted issue
-- (deleted_at set) keep their rows, but no read, list or count shows them;
-- nor the issues of a deleted project (projects.deleted_at: delete_project
-- marks the project alone, so that it returns at once whatever its size).
-- get_issue on a merged source answers its target; the status changes and
-- assignments act on the target too.

-- name: get_issue(id)^
-- One issue by id, or the issue it was merged into (idx_issues_id, twice);
-- none for a deleted one.
SELECT i.*  -- noqa: AM04
FROM issues AS given
INNER JOIN issues AS i
    ON given.project_id = i.project_id AND coalesce(given.merged_into, given.id) = i.id
WHERE
    given.id = :id  -- noqa: RF02
    AND i.merged_into IS NULL
    AND i.deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = i.project_id AND p.deleted_at IS NOT NULL
    );

-- name: get_issue_in_project(project_id, id)^
-- One issue by id, only if it belongs to the project: the project-scoped
-- (single-shard on Citus) variant of get_issue. Primary key (issues_pkey),
-- twice.
SELECT i.*  -- noqa: AM04
FROM issues AS given
INNER JOIN issues AS i
    ON given.project_id = i.project_id AND coalesce(given.merged_into, given.id) = i.id
WHERE
    given.project_id = :project_id
    AND given.id = :id  -- noqa: RF02
    AND i.merged_into IS NULL
    AND i.deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = i.project_id AND p.deleted_at IS NOT NULL
    );

-- name: list_issues(project_id, status, level, page_size)
-- The first page of a project's issues, most recently seen first, optionally
-- of one status and/or level. Served by idx_issues_project_last_seen.
SELECT *  -- noqa: AM04
FROM issues
WHERE
    project_id = :project_id
    AND (cast(:status AS TEXT) IS NULL OR status = :status)
    AND (cast(:level AS TEXT) IS NULL OR level = :level)
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
ORDER BY last_seen DESC, id DESC
LIMIT :page_size;

-- name: list_issues_after(project_id, status, level, after_last_seen, after_id, page_size)
-- The next page after a row (keyset pagination on (last_seen, id)). The plain
-- last_seen bound is an index condition on idx_issues_project_last_seen, so
-- the scan starts at the cursor: a deep page costs what the first one does.
SELECT *  -- noqa: AM04
FROM issues
WHERE
    project_id = :project_id
    AND (cast(:status AS TEXT) IS NULL OR status = :status)
    AND (cast(:level AS TEXT) IS NULL OR level = :level)
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND last_seen <= :after_last_seen
    AND (last_seen, id) < (:after_last_seen, cast(:after_id AS UUID))
ORDER BY last_seen DESC, id DESC
LIMIT :page_size;

-- name: set_issue_status(project_id, id, new_status, in_next_release, in_release)^
-- Sets an issue's status (resolve, archive, unresolve) and moves it between
-- its project's counts per status (project_issue_counts, migration 0014);
-- returns the updated row, none if the issue does not exist, is deleted or
-- belongs to another project (a merged id: its target's). The old status is read under the issue's row lock
-- (FOR UPDATE waits for a concurrent change and reads its result), and the
-- UPDATE joins it so that it runs after; the counts stay exact. Setting the
-- status an issue has already changes no count. in_next_release and
-- in_release (migration 0024) say how a resolved issue reopens: a release
-- first seen from now on (resolved_after, to the millisecond, the precision
-- of received_at), or that release or one first seen after it
-- (resolved_in_release); both false/NULL: on any event. Any other status
-- clears them. Primary keys of issues and
-- project_issue_counts; one shard on Citus. The lookups by id alone
-- (resolve_issue without project_id) find the project with get_issue first.
WITH old AS (
    SELECT
        i.id,
        i.status
    FROM issues AS given
    INNER JOIN issues AS i
        ON given.project_id = i.project_id AND coalesce(given.merged_into, given.id) = i.id
    WHERE
        given.project_id = :project_id
        AND given.id = :id  -- noqa: RF02
        AND i.project_id = :project_id
        AND i.merged_into IS NULL
        AND i.deleted_at IS NULL
        AND NOT EXISTS (
            SELECT FROM projects AS p
            WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
        )
    FOR UPDATE OF i
),

changed AS (
    UPDATE issues AS i
    SET
        status = :new_status,
        resolved_after = CASE
            WHEN cast(:in_next_release AS BOOLEAN)
                THEN date_trunc('milliseconds', statement_timestamp())
        END,
        resolved_in_release = :in_release
    FROM old
    WHERE i.project_id = :project_id AND i.id = old.id
    RETURNING i.*
),

counted AS (
    INSERT INTO project_issue_counts AS c (project_id, status, issue_count)
    SELECT
        :project_id AS project_id,
        moved.status,
        moved.delta
    FROM old
    CROSS JOIN changed
    CROSS JOIN
        LATERAL (VALUES (old.status, -1), (changed.status, 1)) AS moved (status, delta)
    WHERE old.status <> changed.status
    ORDER BY moved.status
    ON CONFLICT (project_id, status) DO UPDATE
        SET issue_count = c.issue_count + excluded.issue_count
    RETURNING 1
)

SELECT *  -- noqa: AM04
FROM changed;

-- name: assign_issue(id, user_id)^
-- Assigns an issue to a user, or unassigns it with NULL; returns the updated
-- row, none if the issue does not exist. An unknown user violates
-- issues_assigned_to_fkey.
UPDATE issues
SET assigned_to = :user_id
WHERE
    id = (
        SELECT coalesce(given.merged_into, given.id) FROM issues AS given
        WHERE given.id = :id
    )
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = issues.project_id AND p.deleted_at IS NOT NULL
    )
RETURNING *;

-- name: assign_issue_in_project(project_id, id, user_id)^
-- assign_issue, project-scoped (single-shard on Citus): none if the issue
-- does not exist or belongs to another project. Primary key (issues_pkey).
UPDATE issues
SET assigned_to = :user_id
WHERE
    project_id = :project_id
    AND id = (
        SELECT coalesce(given.merged_into, given.id)
        FROM issues AS given
        WHERE given.project_id = :project_id AND given.id = :id
    )
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = issues.project_id AND p.deleted_at IS NOT NULL
    )
RETURNING *;

-- name: count_issues_by_status(project_id)
-- Issue counts per status for a project: its rows of project_issue_counts
-- (migration 0014; primary key), kept by the write path and
-- set_issue_status, merge_issues and unmerge_issue; a hidden issue is in no
-- count. A status with no issues may have no row or a 0. None for a deleted
-- project: delete_project forgets its rows, but a batch that read the
-- project live before it was marked may write them again as it commits.
SELECT
    status,
    issue_count
FROM project_issue_counts
WHERE
    project_id = :project_id
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    );

-- name: top_issues(project_id, page_size)
-- A project's issues with the most events (idx_issues_project_event_count).
SELECT *  -- noqa: AM04
FROM issues
WHERE
    project_id = :project_id
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
ORDER BY event_count DESC, id DESC
LIMIT :page_size;

-- name: issue_sparklines(project_id, issue_ids, bucket, since)
-- Events per hour or day (UTC) since a time for each of a page of issues,
-- empty buckets included: one row per (issue, bucket), issues in the order
-- given, oldest bucket first. Sums of the hourly rollup (issue_hourly_counts,
-- written by the write path; it counts whole UTC hours, so since counts from
-- the start of its hour), never the events: per issue, a range of
-- issue_hourly_counts_pkey.
WITH counted AS (
    SELECT
        issue_id,
        date_trunc(:bucket, hour_start, 'UTC') AS bucket_start,
        sum(event_count) AS event_count
    FROM issue_hourly_counts
    WHERE
        project_id = :project_id
        AND issue_id = any(cast(:issue_ids AS UUID[]))
        AND hour_start >= date_trunc('hour', cast(:since AS TIMESTAMPTZ), 'UTC')
        AND NOT EXISTS (
            SELECT FROM projects AS p
            WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
        )
    GROUP BY issue_id, bucket_start
),

buckets AS (
    SELECT generate_series(
        date_trunc(:bucket, cast(:since AS TIMESTAMPTZ), 'UTC'),
        date_trunc(:bucket, now(), 'UTC'),
        cast('1 ' || :bucket AS INTERVAL)
    ) AS bucket_start
)

SELECT
    ids.issue_id,
    buckets.bucket_start,
    coalesce(counted.event_count, 0) AS event_count
FROM unnest(cast(:issue_ids AS UUID[])) WITH ORDINALITY AS ids (issue_id, given_order)
CROSS JOIN buckets
LEFT JOIN counted
    ON ids.issue_id = counted.issue_id AND buckets.bucket_start = counted.bucket_start
ORDER BY ids.given_order, buckets.bucket_start;
