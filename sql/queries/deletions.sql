-- name: mark_project_deleted(project_id)$
-- Marks a live project deleted (delete_project); returns its id, NULL when
-- there is no such live project. Primary key.
UPDATE projects
SET deleted_at = now()
WHERE id = :project_id AND deleted_at IS NULL
RETURNING id;

-- name: mark_org_deleted(org_id)$
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

-- name: mark_project_issues_deleted(project_id)!
-- Hides a deleted project's issues from every issue read at once (they
-- filter on deleted_at); one statement over the project's issues, not its
-- events. Served by issues_pkey's leading project_id.
UPDATE issues
SET deleted_at = now()
WHERE project_id = :project_id AND deleted_at IS NULL;

-- name: forget_project_issue_counts(project_id)!
-- A deleted project's per-status issue counts go at once, with its issues.
DELETE FROM project_issue_counts
WHERE project_id = :project_id;

-- name: list_deleted_projects()
-- The projects whose rows are still being removed, oldest deletion first
-- (idx_projects_deleted).
SELECT id
FROM projects
WHERE deleted_at IS NOT NULL
ORDER BY deleted_at, id;

-- name: delete_project_rows(project_id, chunk_size)^
-- One chunk of a deleted project's rows: the table it came from and how
-- many; ('projects', 1) when the project's row itself went; none for a
-- project that is not marked deleted
-- (sql/functions/delete_project_rows.sql).
SELECT
    table_name,
    deleted_rows
FROM delete_project_rows(:project_id, :chunk_size);

-- name: delete_emptied_orgs()!
-- Deletes the deleted organizations whose projects are all gone; returns
-- how many (idx_projects_org for the check).
DELETE FROM organizations AS o
WHERE
    o.deleted_at IS NOT NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.org_id = o.id
    );

-- name: list_projects_with_retention()
-- The live projects with a retention of their own, and its days.
SELECT
    id,
    retention_days
FROM projects
WHERE retention_days IS NOT NULL AND deleted_at IS NULL
ORDER BY id;

-- name: expire_project_events(project_id, keep_days, chunk_size)^
-- One chunk of a project's events and event_tags rows received more than
-- keep_days ago: the partition it came from and how many; none when none is
-- left (sql/functions/delete_expired_project_events.sql).
SELECT
    table_name,
    deleted_rows
FROM delete_expired_project_events(
    :project_id, now() - make_interval(days => :keep_days), :chunk_size
);

-- name: mark_issue_deleted(project_id, issue_id)$
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

-- name: expire_project_issues(project_id, keep_days, chunk_size)$
-- A project's own retention: marks deleted at most chunk_size of its issues
-- whose last event is older than keep_days, as mark_issue_deleted does
-- (counts, fingerprints); returns how many. Their rows then go with the
-- deleted issues'. idx_issues_project_last_seen; one shard on Citus.
WITH expired AS (
    SELECT id
    FROM issues
    WHERE
        project_id = :project_id
        AND deleted_at IS NULL
        AND last_seen < now() - make_interval(days => :keep_days)
    ORDER BY last_seen
    LIMIT :chunk_size
    FOR UPDATE
),

gone AS (
    UPDATE issues AS i
    SET deleted_at = now()
    FROM expired AS e
    WHERE i.project_id = :project_id AND i.id = e.id
    RETURNING
        i.id,
        i.status,
        i.merged_into
),

counted AS (
    UPDATE project_issue_counts AS c
    SET issue_count = c.issue_count - d.issues
    FROM (
        SELECT
            status,
            count(*) AS issues
        FROM gone
        WHERE merged_into IS NULL
        GROUP BY status
    ) AS d
    WHERE c.project_id = :project_id AND c.status = d.status
),

fingerprints AS (
    DELETE FROM issue_fingerprints AS f
    USING gone
    WHERE f.project_id = :project_id AND f.issue_id = gone.id
)

SELECT count(*) AS expired_issues FROM gone;

-- name: list_deleted_issues(page_size)
-- Deleted issues whose rows are still being removed (not those of a deleted
-- project: its own deletion removes them), oldest deletion first
-- (idx_issues_deleted).
SELECT
    i.project_id,
    i.id
FROM issues AS i
WHERE
    i.deleted_at IS NOT NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = i.project_id AND p.deleted_at IS NOT NULL
    )
ORDER BY i.deleted_at, i.id
LIMIT :page_size;

-- name: delete_issue_rows(project_id, issue_id, chunk_size)^
-- One chunk of a deleted issue's rows: the table it came from and how many;
-- ('issues', 1) when the issue's row itself went; none for an issue that is
-- not marked deleted (sql/functions/delete_issue_rows.sql).
SELECT
    table_name,
    deleted_rows
FROM delete_issue_rows(:project_id, :issue_id, :chunk_size);
