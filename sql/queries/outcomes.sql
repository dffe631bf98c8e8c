-- name: record_outcomes(project_id, hour_starts, categories, outcomes, reasons, quantities)!
-- Adds counts to a project's outcomes, one entry per (UTC hour, category,
-- outcome, reason) in parallel arrays; the rows are taken in key order, so
-- concurrent calls do not deadlock. The primary key serves the upsert.
INSERT INTO project_outcomes AS o (project_id, hour_start, category, outcome, reason, quantity)
SELECT
    :project_id AS project_id,
    t.hour_start,
    t.category,
    t.outcome,
    t.reason,
    t.quantity
FROM
    unnest(
        cast(:hour_starts AS TIMESTAMPTZ[]),
        cast(:categories AS TEXT[]),
        cast(:outcomes AS TEXT[]),
        cast(:reasons AS TEXT[]),
        cast(:quantities AS BIGINT[])
    ) AS t (hour_start, category, outcome, reason, quantity)
ORDER BY t.hour_start, t.category, t.outcome, t.reason
ON CONFLICT (project_id, hour_start, category, outcome, reason) DO UPDATE
    SET quantity = o.quantity + excluded.quantity;

-- name: project_outcomes(project_id, since)
-- A project's outcomes from the UTC hour that holds since on, oldest hour
-- first: a range scan of the primary key.
SELECT
    hour_start,
    category,
    outcome,
    reason,
    quantity
FROM project_outcomes
WHERE
    project_id = :project_id
    AND hour_start >= date_trunc('hour', cast(:since AS TIMESTAMPTZ), 'UTC')
ORDER BY hour_start, category, outcome, reason;

-- name: list_projects_with_expired_outcomes(not_after)
-- The projects with outcome rows of hours that started at not_after or
-- before (a scan of the table, once per maintenance run: it holds counts,
-- not events).
SELECT DISTINCT project_id
FROM project_outcomes
WHERE hour_start <= :not_after
ORDER BY project_id;

-- name: expire_outcomes(project_id, not_after, chunk_size)$
-- Deletes at most chunk_size of a project's outcome rows whose hour started
-- at not_after or before, oldest first; returns how many. A range of the
-- primary key; one shard on Citus.
WITH expired AS (
    SELECT
        hour_start,
        category,
        outcome,
        reason
    FROM project_outcomes
    WHERE project_id = :project_id AND hour_start <= :not_after
    ORDER BY hour_start, category, outcome, reason
    LIMIT :chunk_size
),

gone AS (
    DELETE FROM project_outcomes AS o
    USING expired AS e
    WHERE
        o.project_id = :project_id
        AND o.hour_start = e.hour_start
        AND o.category = e.category
        AND o.outcome = e.outcome
        AND o.reason = e.reason
    RETURNING 1
)

SELECT count(*) AS deleted_rows FROM gone;
