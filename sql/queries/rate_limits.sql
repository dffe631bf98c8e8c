-- name: set_project_rate_limit(project_id, events_per_minute)!
-- Sets a project's limit on stored events per minute (project_rate_limits'
-- primary key). An unknown project violates
-- project_rate_limits_project_id_fkey. updated_at comes from excluded:
-- Citus allows no now() in DO UPDATE.
INSERT INTO project_rate_limits AS l (project_id, events_per_minute)
VALUES (:project_id, :events_per_minute)
ON CONFLICT (project_id) DO UPDATE
    SET
        events_per_minute = excluded.events_per_minute,
        updated_at = excluded.updated_at;

-- name: delete_project_rate_limit(project_id)!
-- Lifts a project's limit: no row, no limit (primary key).
DELETE FROM project_rate_limits
WHERE project_id = :project_id;

-- name: list_project_rate_limits()
-- Every project's limit, for an ingest server's cache: a sequential scan of
-- a table of one row per limited project.
SELECT
    project_id,
    events_per_minute
FROM project_rate_limits;
