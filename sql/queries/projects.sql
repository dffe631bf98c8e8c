-- name: insert_project(org_id, name, platform)$
-- Creates a project in an organization; returns its id. An unknown org_id
-- violates projects_org_id_fkey.
INSERT INTO projects (org_id, name, platform)
VALUES (:org_id, :name, :platform)
RETURNING id;

-- name: get_project(id)^
-- One project by id (primary key); a deleted one is not found.
SELECT
    id,
    org_id,
    name,
    platform,
    created_at,
    dsn_id,
    retention_days,
    deleted_at
FROM projects
WHERE id = :id AND deleted_at IS NULL;

-- name: list_projects_by_org(org_id)
-- An organization's projects, by name, deleted ones left out
-- (idx_projects_org).
SELECT
    id,
    org_id,
    name,
    platform,
    created_at,
    dsn_id,
    retention_days,
    deleted_at
FROM projects
WHERE org_id = :org_id AND deleted_at IS NULL
ORDER BY name, id;

-- name: set_project_retention(project_id, retention_days)$
-- Sets a live project's own retention of events in days (NULL: the global
-- one); returns its id, NULL when there is no such live project. Primary key.
UPDATE projects
SET retention_days = :retention_days
WHERE id = :project_id AND deleted_at IS NULL
RETURNING id;
