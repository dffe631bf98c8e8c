-- name: delete_project(project_id)$
-- Marks a live project deleted (delete_project): from then on every read
-- leaves out the project, its issues and events, and the write path refuses
-- it. Returns its id, NULL when there is no such live project. Primary key.
UPDATE projects
SET deleted_at = now()
WHERE id = :project_id AND deleted_at IS NULL
RETURNING id;

-- name: delete_organization(org_id)$
-- Marks a live organization deleted (delete_organization); returns its id,
-- NULL when there is no such live organization. Primary key.
UPDATE organizations
SET deleted_at = now()
WHERE id = :org_id AND deleted_at IS NULL
RETURNING id;

-- name: mark_org_projects_deleted(org_id)
-- Marks an organization's live projects deleted; one row per project
-- (idx_projects_org).
UPDATE projects
SET deleted_at = now()
WHERE org_id = :org_id AND deleted_at IS NULL
RETURNING id;

-- name: forget_project_issue_counts(project_id)!
-- A deleted project's per-status issue counts go at once (a row per status):
-- its issues are hidden by projects.deleted_at, which every issue read
-- checks, and are not touched here, so that delete_project's work does not
-- grow with them.
DELETE FROM project_issue_counts
WHERE project_id = :project_id;

-- name: delete_issue(project_id, issue_id)$
-- delete_issue: hides a live issue at once. Marks it (and the issues merged
-- into it) deleted, moves it out of its project's counts per status, and
-- deletes its fingerprints' rows (issue_fingerprints), so that their next
-- events open a new issue. Returns its id; NULL when the project has no
-- such live issue. Primary keys; one shard on Citus.
WITH gone AS (
    UPDATE issues
    SET deleted_at = now()
    WHERE
        project_id = :project_id
        AND id = :issue_id
        AND deleted_at IS NULL
        AND merged_into IS NULL
        AND NOT EXISTS (
            SELECT FROM projects AS p
            WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
        )
    RETURNING
        id,
        status
),

sources AS (
    UPDATE issues AS s
    SET deleted_at = now()
    FROM gone
    WHERE
        s.project_id = :project_id
        AND s.merged_into = gone.id
        AND s.deleted_at IS NULL
),

counted AS (
    UPDATE project_issue_counts AS c
    SET issue_count = c.issue_count - 1
    FROM gone
    WHERE c.project_id = :project_id AND c.status = gone.status
),

fingerprints AS (
    DELETE FROM issue_fingerprints AS f
    USING gone
    WHERE f.project_id = :project_id AND f.issue_id = gone.id
)

SELECT id FROM gone;
