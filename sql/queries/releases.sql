-- Releases (migration 0024): a project's, and an issue's per environment,
-- kept by the write path. Releases are ordered by the time they were first
-- seen in the project.

-- name: list_releases(project_id, after_first_seen, after_release, page_size)
-- A page of a project's releases, most recently first seen first (ties by
-- release), from the cursor (a row's first_seen and release; NULL: the
-- first page), each with its first and last event, its event count and how
-- many of the project's issues were first seen in it (their first_release;
-- hidden issues left out). idx_releases_project_first_seen from the cursor;
-- each count a range of idx_issues_project_first_release.
SELECT
    r.release,
    r.first_seen,
    r.last_seen,
    r.event_count,
    (
        SELECT count(*)
        FROM issues AS i
        WHERE
            i.project_id = :project_id
            AND i.first_release = r.release
            AND i.merged_into IS NULL
            AND i.deleted_at IS NULL
    ) AS new_issues
FROM releases AS r
WHERE
    r.project_id = :project_id
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND (
        cast(:after_first_seen AS TIMESTAMPTZ) IS NULL
        OR (r.first_seen, r.release) < (cast(:after_first_seen AS TIMESTAMPTZ), :after_release)
    )
ORDER BY r.first_seen DESC, r.release DESC
LIMIT :page_size;

-- name: issue_releases(project_id, issue_id)
-- An issue's events per release and environment ('' for none): first and
-- last seen and count, the earliest release first; a merged id gives its
-- target's (which hold its own); none for a deleted issue. The issue by
-- issues_pkey, its rows a range of issue_releases_pkey.
SELECT
    r.release,
    r.environment,
    r.first_seen,
    r.last_seen,
    r.event_count
FROM issues AS given
INNER JOIN issues AS i
    ON given.project_id = i.project_id AND coalesce(given.merged_into, given.id) = i.id
INNER JOIN issue_releases AS r ON i.project_id = r.project_id AND i.id = r.issue_id
WHERE
    given.project_id = :project_id
    AND given.id = :issue_id
    AND i.project_id = :project_id
    AND r.project_id = :project_id
    AND i.merged_into IS NULL
    AND i.deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND r.event_count > 0
ORDER BY r.first_seen, r.release, r.environment;
