-- name: issue_tag_facets(issue_id, top)
-- An issue's tags, from the tag store (written by the write path): for every
-- tag key, its top values by count (ties by value) with their counts and
-- first and last times, how many distinct values it has and how many of the
-- issue's events carry it, and the issue's event count (for each value's
-- share). A key past its project's value_bound (migration 0028) has values
-- without rows of their own: their events are its untracked_events (the
-- issue's row whose tag_value is repeat('~', 201)), they are never among
-- the top values, and distinct_values counts the others only (the values
-- with rows: at most value_bound per key, which bounds the read). A key
-- with untracked values only has one row with a NULL tag_value.
-- One row per value, in key order, then most seen first; a single
-- row with NULL tag columns for an issue without tags, none for no issue
-- (or a deleted one; a merged id gives its target's facets, which hold its
-- own). The issue by idx_issues_id, its tags as a range of issue_tag_values_pkey
-- read twice: whole, in key order, for each key's counts (no sort), and
-- ranked by count per key (one sort): the cost follows the issue's values
-- with rows, at most value_bound per key.
WITH issue AS (
    SELECT
        i.project_id,
        i.id,
        i.event_count
    FROM issues AS given
    INNER JOIN issues AS i
        ON given.project_id = i.project_id AND coalesce(given.merged_into, given.id) = i.id
    WHERE
        given.id = :issue_id
        AND i.merged_into IS NULL
        AND i.deleted_at IS NULL
        AND NOT EXISTS (
            SELECT FROM projects AS p
            WHERE p.id = i.project_id AND p.deleted_at IS NOT NULL
        )
),

keys AS (
    SELECT
        t.tag_key,
        cast(sum(t.times_seen) AS BIGINT) AS key_event_count,
        cast(sum(
            CASE WHEN t.tag_value = repeat('~', 201) THEN t.times_seen ELSE 0 END
        ) AS BIGINT) AS untracked_events,
        sum(CASE WHEN t.tag_value = repeat('~', 201) THEN 0 ELSE 1 END) AS distinct_values
    FROM issue_tag_values AS t
    INNER JOIN issue ON t.project_id = issue.project_id AND t.issue_id = issue.id
    WHERE t.issue_id = issue.id
    GROUP BY t.tag_key
),

ranked AS (
    SELECT
        t.tag_key,
        t.tag_value,
        t.times_seen,
        t.first_seen,
        t.last_seen,
        row_number() OVER (
            PARTITION BY t.tag_key ORDER BY t.times_seen DESC, t.tag_value ASC
        ) AS value_rank
    FROM issue_tag_values AS t
    INNER JOIN issue ON t.project_id = issue.project_id AND t.issue_id = issue.id
    WHERE t.issue_id = issue.id AND t.tag_value <> repeat('~', 201)
)

SELECT
    issue.event_count AS issue_event_count,
    keys.tag_key,
    ranked.tag_value,
    ranked.times_seen,
    ranked.first_seen,
    ranked.last_seen,
    keys.distinct_values,
    keys.key_event_count,
    keys.untracked_events
FROM issue
LEFT JOIN keys ON TRUE
LEFT JOIN ranked ON keys.tag_key = ranked.tag_key AND ranked.value_rank <= :top
ORDER BY keys.tag_key ASC, ranked.value_rank ASC;

-- name: issue_tag_facets_in_project(project_id, issue_id, top)
-- issue_tag_facets, project-scoped (single-shard on Citus): no row for an
-- issue of another project. The issue by its primary key (issues_pkey), its
-- tags as a range of issue_tag_values_pkey; both filtered by the project_id
-- parameter itself, which is what routes each part on Citus.
WITH issue AS (
    SELECT
        i.project_id,
        i.id,
        i.event_count
    FROM issues AS given
    INNER JOIN issues AS i
        ON given.project_id = i.project_id AND coalesce(given.merged_into, given.id) = i.id
    WHERE
        given.project_id = :project_id
        AND given.id = :issue_id
        AND i.merged_into IS NULL
        AND i.deleted_at IS NULL
        AND NOT EXISTS (
            SELECT FROM projects AS p
            WHERE p.id = i.project_id AND p.deleted_at IS NOT NULL
        )
),

keys AS (
    SELECT
        t.tag_key,
        cast(sum(t.times_seen) AS BIGINT) AS key_event_count,
        cast(sum(
            CASE WHEN t.tag_value = repeat('~', 201) THEN t.times_seen ELSE 0 END
        ) AS BIGINT) AS untracked_events,
        sum(CASE WHEN t.tag_value = repeat('~', 201) THEN 0 ELSE 1 END) AS distinct_values
    FROM issue_tag_values AS t
    INNER JOIN issue ON t.project_id = issue.project_id AND t.issue_id = issue.id
    WHERE t.project_id = :project_id AND t.issue_id = issue.id
    GROUP BY t.tag_key
),

ranked AS (
    SELECT
        t.tag_key,
        t.tag_value,
        t.times_seen,
        t.first_seen,
        t.last_seen,
        row_number() OVER (
            PARTITION BY t.tag_key ORDER BY t.times_seen DESC, t.tag_value ASC
        ) AS value_rank
    FROM issue_tag_values AS t
    INNER JOIN issue ON t.project_id = issue.project_id AND t.issue_id = issue.id
    WHERE t.project_id = :project_id AND t.issue_id = issue.id AND t.tag_value <> repeat('~', 201)
)

SELECT
    issue.event_count AS issue_event_count,
    keys.tag_key,
    ranked.tag_value,
    ranked.times_seen,
    ranked.first_seen,
    ranked.last_seen,
    keys.distinct_values,
    keys.key_event_count,
    keys.untracked_events
FROM issue
LEFT JOIN keys ON TRUE
LEFT JOIN ranked ON keys.tag_key = ranked.tag_key AND ranked.value_rank <= :top
ORDER BY keys.tag_key ASC, ranked.value_rank ASC;

-- name: project_tag_keys(project_id)
-- The tag keys seen in a project, in byte order, for autocompletion. Skips
-- from one key to the next in project_tag_values_pkey (one index probe per
-- key, however many values each has). None for a deleted project (its rows
-- go later, by maintenance).
WITH RECURSIVE tag_keys AS (
    (
        SELECT tag_key
        FROM project_tag_values
        WHERE
            project_id = :project_id
            AND NOT EXISTS (
                SELECT FROM projects AS p
                WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
            )
        ORDER BY tag_key
        LIMIT 1
    )
    UNION ALL
    SELECT (
        SELECT v.tag_key
        FROM project_tag_values AS v
        WHERE v.project_id = :project_id AND v.tag_key > tag_keys.tag_key
        ORDER BY v.tag_key
        LIMIT 1
    ) AS tag_key
    FROM tag_keys
    WHERE tag_keys.tag_key IS NOT NULL
)

SELECT tag_key
FROM tag_keys
WHERE tag_key IS NOT NULL
ORDER BY tag_key;

-- name: project_tag_values(project_id, tag_key, prefix, prefix_end, page_size)
-- A tag key's values in a project that start with a prefix, most seen first
-- (ties by value), for autocompletion. prefix_end is the smallest string
-- after all those that start with the prefix (the caller computes it), so
-- the matches are a range of project_tag_values_pkey (tag_value is COLLATE
-- "C": code point order) and no character of the prefix is a wildcard. The
-- range is read whole and sorted by count: the cost follows the matches.
-- None for a deleted project.
SELECT
    tag_value,
    times_seen,
    first_seen,
    last_seen
FROM project_tag_values
WHERE
    project_id = :project_id
    AND tag_key = :tag_key
    AND tag_value >= :prefix
    AND tag_value < :prefix_end
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
ORDER BY times_seen DESC, tag_value ASC
LIMIT :page_size;

-- name: project_tag_key_bounds(project_id)
-- A project's tag keys, in byte order, with their bound on the values with
-- rows of their own (migration 0028): how many have one, and how many
-- events carried a value without (past the bound). Nothing for a deleted
-- project. A range of project_tag_keys_pkey.
SELECT
    k.tag_key,
    k.value_bound,
    k.tracked_values,
    k.untracked_events
FROM project_tag_keys AS k
WHERE
    k.project_id = :project_id
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
ORDER BY k.tag_key;
