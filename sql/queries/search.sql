-- Issue search (mesher.search parses the query; mesher.queries.search_issues
-- compiles its terms into the parameters below). One static statement per
-- sort order, the four identical but for their ORDER BY and keyset bound
-- (tests/test_search.py checks that): every value is a bound parameter, and
-- NULL means "no filter" wherever a parameter is a filter. A page is whole
-- issues rows (SELECT *), as in issues.sql.
--
--   statuses, levels        the issue's status / level is one of these
--   assigned                true: has an assignee, false: has none
--   assignees               assigned to one of these users
--   not_assignees           not assigned to any of these (unassigned passes)
--   first_seen_min/_max, last_seen_min/_max, times_seen_min/_max
--                           inclusive bounds on first_seen, last_seen and
--                           event_count (the caller turns > and < into them)
--   tag_keys, tag_negated, tag_value_first, tag_value_last, tag_values
--                           one tag term per index of the first four arrays:
--                           its key, whether it is negated, and its values
--                           as a slice of tag_values (first..last). A term
--                           holds when the issue has an event with one of
--                           the values (environment and release are tags in
--                           issue_tag_values too), and a negated one when it
--                           has none. Every term must hold: no term may have
--                           "negated = whether the issue has a value".
--   title_patterns          LIKE patterns (backslash escapes, the default
--                           escape character): the title matches all of
--                           them, in any case
--   first_releases          the issue's first_release is one of these
--   users_min, users_max    inclusive bounds on user_count
--
-- The plan walks the sort order's index of issues from the cursor (the keyset
-- bound is an index condition: a row comparison on (key, id), which the
-- index holds in that order), filters each issue, and stops after page_size
-- matches. A tag term is one probe of issue_tag_values_pkey per issue walked
-- (project_id, issue_id, tag_key, tag_value). So a page costs the issues
-- walked to find it: few when the filters match many issues, up to all of
-- the project's issues when they match few. Nothing reads events, so the
-- cost does not grow with them.
--
-- Merged sources and deleted issues (merged_into, deleted_at) never match,
-- nor the issues of a deleted project.
--
-- The first page passes no cursor: the bound is then (infinity, or the
-- largest INTEGER for event_count, and the largest UUID), above every row
-- (ids are UUIDv7s, never ffffffff-...).

-- name: search_assignees(emails)
-- The users with these emails, in any case (users_email_lower_key): the
-- emails of assigned: terms, resolved before the search. Returns each email
-- as given with its user's id; an unknown email has no row.
SELECT
    given.email,
    u.id
FROM unnest(cast(:emails AS TEXT[])) AS given (email)
INNER JOIN users AS u ON lower(given.email) = lower(u.email);

-- name: search_tag_values(project_id, tag_keys, tag_values)
-- Before a search with tag terms (mesher.search.tag_plan): for each (key,
-- value) of its terms, the events the tag store counts of it
-- (project_tag_values pkey; NULL for a value without a row), and the
-- project's issues (project_issue_counts), which choose the plan.
SELECT
    g.tag_key,
    g.tag_value,
    v.times_seen,
    (
        SELECT coalesce(sum(c.issue_count), 0)
        FROM project_issue_counts AS c
        WHERE c.project_id = :project_id
    ) AS issues
FROM
    unnest(cast(:tag_keys AS TEXT[]), cast(:tag_values AS TEXT[])) AS g (tag_key, tag_value)
LEFT JOIN project_tag_values AS v
    ON v.project_id = :project_id AND g.tag_key = v.tag_key AND g.tag_value = v.tag_value;

-- name: search_untracked_issues(project_id, tag_keys, tag_values)
-- Then, for the values search_tag_values found no row of (a value past its
-- key's value_bound, migration 0028, or one never seen), the issues whose
-- events carry each (idx_events_tags, every partition; a merged issue's
-- events count for its target). Its cost follows the values' events, of
-- which a value without a row has few unless it became frequent after its
-- key was full.
SELECT
    g.tag_key,
    g.tag_value,
    array(
        SELECT DISTINCT coalesce(i.merged_into, i.id)
        FROM events AS e
        INNER JOIN issues AS i ON e.project_id = i.project_id AND e.issue_id = i.id
        WHERE
            e.project_id = :project_id
            AND e.tags @> jsonb_build_object(g.tag_key, g.tag_value)
            AND i.deleted_at IS NULL
    ) AS issue_ids
FROM
    unnest(cast(:tag_keys AS TEXT[]), cast(:tag_values AS TEXT[])) AS g (tag_key, tag_value);

-- name: search_issues(project_id, statuses, levels, assigned, assignees, not_assignees, first_seen_min, first_seen_max, last_seen_min, last_seen_max, times_seen_min, times_seen_max, tag_keys, tag_negated, tag_value_first, tag_value_last, tag_values, tag_issue_first, tag_issue_last, tag_issues, title_patterns, first_releases, users_min, users_max, after_last_seen, after_id, page_size)
-- A page of the issues that match, most recently seen first (sort "date"):
-- idx_issues_project_last_seen (project_id, last_seen DESC, id DESC), from
-- the cursor; last_seen bounds are index conditions too.
SELECT *  -- noqa: AM04
FROM issues AS i
WHERE
    project_id = :project_id
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND (cast(:statuses AS TEXT[]) IS NULL OR status = any(cast(:statuses AS TEXT[])))
    AND (cast(:levels AS TEXT[]) IS NULL OR level = any(cast(:levels AS TEXT[])))
    AND (cast(:assigned AS BOOLEAN) IS NULL OR (assigned_to IS NOT NULL) = :assigned)
    AND (
        cast(:assignees AS UUID[]) IS NULL
        OR assigned_to = any(cast(:assignees AS UUID[]))
    )
    AND (
        cast(:not_assignees AS UUID[]) IS NULL
        OR assigned_to IS NULL
        OR NOT assigned_to = any(cast(:not_assignees AS UUID[]))
    )
    AND first_seen >= coalesce(cast(:first_seen_min AS TIMESTAMPTZ), '-infinity')
    AND first_seen <= coalesce(cast(:first_seen_max AS TIMESTAMPTZ), 'infinity')
    AND last_seen >= coalesce(cast(:last_seen_min AS TIMESTAMPTZ), '-infinity')
    AND last_seen <= coalesce(cast(:last_seen_max AS TIMESTAMPTZ), 'infinity')
    AND event_count >= coalesce(cast(:times_seen_min AS BIGINT), -2147483648)
    AND event_count <= coalesce(cast(:times_seen_max AS BIGINT), 2147483647)
    AND NOT EXISTS (
        SELECT
        FROM
            unnest(
                cast(:tag_keys AS TEXT[]),
                cast(:tag_negated AS BOOLEAN[]),
                cast(:tag_value_first AS INTEGER[]),
                cast(:tag_value_last AS INTEGER[]),
                cast(:tag_issue_first AS INTEGER[]),
                cast(:tag_issue_last AS INTEGER[])
            ) AS f (tag_key, negated, first_value, last_value, first_issue, last_issue)
        WHERE f.negated = (
            EXISTS (
                SELECT
                FROM issue_tag_values AS tv
                WHERE
                    tv.project_id = :project_id
                    AND tv.issue_id = i.id
                    AND tv.tag_key = f.tag_key
                    AND tv.tag_value = any(
                        -- the spaces around ':' keep aiosql from reading a parameter
                        (cast(:tag_values AS TEXT[]))[f.first_value : f.last_value]  -- noqa: LT01
                    )
            )
            OR i.id = any(
                (cast(:tag_issues AS UUID[]))[f.first_issue : f.last_issue]  -- noqa: LT01
            )
        )
    )
    AND (
        cast(:title_patterns AS TEXT[]) IS NULL
        OR title ILIKE all(cast(:title_patterns AS TEXT[]))
    )
    AND (
        cast(:first_releases AS TEXT[]) IS NULL
        OR first_release = any(cast(:first_releases AS TEXT[]))
    )
    AND user_count >= coalesce(cast(:users_min AS BIGINT), -2147483648)
    AND user_count <= coalesce(cast(:users_max AS BIGINT), 2147483647)
    AND (last_seen, id) < (
        coalesce(cast(:after_last_seen AS TIMESTAMPTZ), 'infinity'),
        coalesce(cast(:after_id AS UUID), 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    )
ORDER BY last_seen DESC, id DESC
LIMIT :page_size;

-- name: search_issues_new(project_id, statuses, levels, assigned, assignees, not_assignees, first_seen_min, first_seen_max, last_seen_min, last_seen_max, times_seen_min, times_seen_max, tag_keys, tag_negated, tag_value_first, tag_value_last, tag_values, tag_issue_first, tag_issue_last, tag_issues, title_patterns, first_releases, users_min, users_max, after_first_seen, after_id, page_size)
-- search_issues, newest issues first (sort "new"): idx_issues_project_first_seen
-- (project_id, first_seen DESC, id DESC), from the cursor; first_seen bounds
-- are index conditions too.
SELECT *  -- noqa: AM04
FROM issues AS i
WHERE
    project_id = :project_id
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND (cast(:statuses AS TEXT[]) IS NULL OR status = any(cast(:statuses AS TEXT[])))
    AND (cast(:levels AS TEXT[]) IS NULL OR level = any(cast(:levels AS TEXT[])))
    AND (cast(:assigned AS BOOLEAN) IS NULL OR (assigned_to IS NOT NULL) = :assigned)
    AND (
        cast(:assignees AS UUID[]) IS NULL
        OR assigned_to = any(cast(:assignees AS UUID[]))
    )
    AND (
        cast(:not_assignees AS UUID[]) IS NULL
        OR assigned_to IS NULL
        OR NOT assigned_to = any(cast(:not_assignees AS UUID[]))
    )
    AND first_seen >= coalesce(cast(:first_seen_min AS TIMESTAMPTZ), '-infinity')
    AND first_seen <= coalesce(cast(:first_seen_max AS TIMESTAMPTZ), 'infinity')
    AND last_seen >= coalesce(cast(:last_seen_min AS TIMESTAMPTZ), '-infinity')
    AND last_seen <= coalesce(cast(:last_seen_max AS TIMESTAMPTZ), 'infinity')
    AND event_count >= coalesce(cast(:times_seen_min AS BIGINT), -2147483648)
    AND event_count <= coalesce(cast(:times_seen_max AS BIGINT), 2147483647)
    AND NOT EXISTS (
        SELECT
        FROM
            unnest(
                cast(:tag_keys AS TEXT[]),
                cast(:tag_negated AS BOOLEAN[]),
                cast(:tag_value_first AS INTEGER[]),
                cast(:tag_value_last AS INTEGER[]),
                cast(:tag_issue_first AS INTEGER[]),
                cast(:tag_issue_last AS INTEGER[])
            ) AS f (tag_key, negated, first_value, last_value, first_issue, last_issue)
        WHERE f.negated = (
            EXISTS (
                SELECT
                FROM issue_tag_values AS tv
                WHERE
                    tv.project_id = :project_id
                    AND tv.issue_id = i.id
                    AND tv.tag_key = f.tag_key
                    AND tv.tag_value = any(
                        -- the spaces around ':' keep aiosql from reading a parameter
                        (cast(:tag_values AS TEXT[]))[f.first_value : f.last_value]  -- noqa: LT01
                    )
            )
            OR i.id = any(
                (cast(:tag_issues AS UUID[]))[f.first_issue : f.last_issue]  -- noqa: LT01
            )
        )
    )
    AND (
        cast(:title_patterns AS TEXT[]) IS NULL
        OR title ILIKE all(cast(:title_patterns AS TEXT[]))
    )
    AND (
        cast(:first_releases AS TEXT[]) IS NULL
        OR first_release = any(cast(:first_releases AS TEXT[]))
    )
    AND user_count >= coalesce(cast(:users_min AS BIGINT), -2147483648)
    AND user_count <= coalesce(cast(:users_max AS BIGINT), 2147483647)
    AND (first_seen, id) < (
        coalesce(cast(:after_first_seen AS TIMESTAMPTZ), 'infinity'),
        coalesce(cast(:after_id AS UUID), 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    )
ORDER BY first_seen DESC, id DESC
LIMIT :page_size;

-- name: search_issues_freq(project_id, statuses, levels, assigned, assignees, not_assignees, first_seen_min, first_seen_max, last_seen_min, last_seen_max, times_seen_min, times_seen_max, tag_keys, tag_negated, tag_value_first, tag_value_last, tag_values, tag_issue_first, tag_issue_last, tag_issues, title_patterns, first_releases, users_min, users_max, after_event_count, after_id, page_size)
-- search_issues, most events first (sort "freq"): idx_issues_project_event_count
-- (project_id, event_count DESC, id DESC), from the cursor; times_seen bounds
-- are index conditions too.
SELECT *  -- noqa: AM04
FROM issues AS i
WHERE
    project_id = :project_id
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND (cast(:statuses AS TEXT[]) IS NULL OR status = any(cast(:statuses AS TEXT[])))
    AND (cast(:levels AS TEXT[]) IS NULL OR level = any(cast(:levels AS TEXT[])))
    AND (cast(:assigned AS BOOLEAN) IS NULL OR (assigned_to IS NOT NULL) = :assigned)
    AND (
        cast(:assignees AS UUID[]) IS NULL
        OR assigned_to = any(cast(:assignees AS UUID[]))
    )
    AND (
        cast(:not_assignees AS UUID[]) IS NULL
        OR assigned_to IS NULL
        OR NOT assigned_to = any(cast(:not_assignees AS UUID[]))
    )
    AND first_seen >= coalesce(cast(:first_seen_min AS TIMESTAMPTZ), '-infinity')
    AND first_seen <= coalesce(cast(:first_seen_max AS TIMESTAMPTZ), 'infinity')
    AND last_seen >= coalesce(cast(:last_seen_min AS TIMESTAMPTZ), '-infinity')
    AND last_seen <= coalesce(cast(:last_seen_max AS TIMESTAMPTZ), 'infinity')
    AND event_count >= coalesce(cast(:times_seen_min AS BIGINT), -2147483648)
    AND event_count <= coalesce(cast(:times_seen_max AS BIGINT), 2147483647)
    AND NOT EXISTS (
        SELECT
        FROM
            unnest(
                cast(:tag_keys AS TEXT[]),
                cast(:tag_negated AS BOOLEAN[]),
                cast(:tag_value_first AS INTEGER[]),
                cast(:tag_value_last AS INTEGER[]),
                cast(:tag_issue_first AS INTEGER[]),
                cast(:tag_issue_last AS INTEGER[])
            ) AS f (tag_key, negated, first_value, last_value, first_issue, last_issue)
        WHERE f.negated = (
            EXISTS (
                SELECT
                FROM issue_tag_values AS tv
                WHERE
                    tv.project_id = :project_id
                    AND tv.issue_id = i.id
                    AND tv.tag_key = f.tag_key
                    AND tv.tag_value = any(
                        -- the spaces around ':' keep aiosql from reading a parameter
                        (cast(:tag_values AS TEXT[]))[f.first_value : f.last_value]  -- noqa: LT01
                    )
            )
            OR i.id = any(
                (cast(:tag_issues AS UUID[]))[f.first_issue : f.last_issue]  -- noqa: LT01
            )
        )
    )
    AND (
        cast(:title_patterns AS TEXT[]) IS NULL
        OR title ILIKE all(cast(:title_patterns AS TEXT[]))
    )
    AND (
        cast(:first_releases AS TEXT[]) IS NULL
        OR first_release = any(cast(:first_releases AS TEXT[]))
    )
    AND user_count >= coalesce(cast(:users_min AS BIGINT), -2147483648)
    AND user_count <= coalesce(cast(:users_max AS BIGINT), 2147483647)
    AND (event_count, id) < (
        coalesce(cast(:after_event_count AS BIGINT), 2147483647),
        coalesce(cast(:after_id AS UUID), 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    )
ORDER BY event_count DESC, id DESC
LIMIT :page_size;

-- name: search_issues_user(project_id, statuses, levels, assigned, assignees, not_assignees, first_seen_min, first_seen_max, last_seen_min, last_seen_max, times_seen_min, times_seen_max, tag_keys, tag_negated, tag_value_first, tag_value_last, tag_values, tag_issue_first, tag_issue_last, tag_issues, title_patterns, first_releases, users_min, users_max, after_user_count, after_id, page_size)
-- search_issues, most users first (sort "user"): idx_issues_project_user_count
-- (project_id, user_count DESC, id DESC), from the cursor; users bounds are
-- index conditions too.
SELECT *  -- noqa: AM04
FROM issues AS i
WHERE
    project_id = :project_id
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND (cast(:statuses AS TEXT[]) IS NULL OR status = any(cast(:statuses AS TEXT[])))
    AND (cast(:levels AS TEXT[]) IS NULL OR level = any(cast(:levels AS TEXT[])))
    AND (cast(:assigned AS BOOLEAN) IS NULL OR (assigned_to IS NOT NULL) = :assigned)
    AND (
        cast(:assignees AS UUID[]) IS NULL
        OR assigned_to = any(cast(:assignees AS UUID[]))
    )
    AND (
        cast(:not_assignees AS UUID[]) IS NULL
        OR assigned_to IS NULL
        OR NOT assigned_to = any(cast(:not_assignees AS UUID[]))
    )
    AND first_seen >= coalesce(cast(:first_seen_min AS TIMESTAMPTZ), '-infinity')
    AND first_seen <= coalesce(cast(:first_seen_max AS TIMESTAMPTZ), 'infinity')
    AND last_seen >= coalesce(cast(:last_seen_min AS TIMESTAMPTZ), '-infinity')
    AND last_seen <= coalesce(cast(:last_seen_max AS TIMESTAMPTZ), 'infinity')
    AND event_count >= coalesce(cast(:times_seen_min AS BIGINT), -2147483648)
    AND event_count <= coalesce(cast(:times_seen_max AS BIGINT), 2147483647)
    AND NOT EXISTS (
        SELECT
        FROM
            unnest(
                cast(:tag_keys AS TEXT[]),
                cast(:tag_negated AS BOOLEAN[]),
                cast(:tag_value_first AS INTEGER[]),
                cast(:tag_value_last AS INTEGER[]),
                cast(:tag_issue_first AS INTEGER[]),
                cast(:tag_issue_last AS INTEGER[])
            ) AS f (tag_key, negated, first_value, last_value, first_issue, last_issue)
        WHERE f.negated = (
            EXISTS (
                SELECT
                FROM issue_tag_values AS tv
                WHERE
                    tv.project_id = :project_id
                    AND tv.issue_id = i.id
                    AND tv.tag_key = f.tag_key
                    AND tv.tag_value = any(
                        -- the spaces around ':' keep aiosql from reading a parameter
                        (cast(:tag_values AS TEXT[]))[f.first_value : f.last_value]  -- noqa: LT01
                    )
            )
            OR i.id = any(
                (cast(:tag_issues AS UUID[]))[f.first_issue : f.last_issue]  -- noqa: LT01
            )
        )
    )
    AND (
        cast(:title_patterns AS TEXT[]) IS NULL
        OR title ILIKE all(cast(:title_patterns AS TEXT[]))
    )
    AND (
        cast(:first_releases AS TEXT[]) IS NULL
        OR first_release = any(cast(:first_releases AS TEXT[]))
    )
    AND user_count >= coalesce(cast(:users_min AS BIGINT), -2147483648)
    AND user_count <= coalesce(cast(:users_max AS BIGINT), 2147483647)
    AND (user_count, id) < (
        coalesce(cast(:after_user_count AS BIGINT), 2147483647),
        coalesce(cast(:after_id AS UUID), 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    )
ORDER BY user_count DESC, id DESC
LIMIT :page_size;

-- name: search_issues_by_tag(project_id, statuses, levels, assigned, assignees, not_assignees, first_seen_min, first_seen_max, last_seen_min, last_seen_max, times_seen_min, times_seen_max, tag_keys, tag_negated, tag_value_first, tag_value_last, tag_values, tag_issue_first, tag_issue_last, tag_issues, seed_key, seed_values, seed_issues, title_patterns, first_releases, users_min, users_max, after_last_seen, after_id, page_size)
-- search_issues, starting from one tag term's issues instead of walking the
-- sort's index: the issues of seed_key with one of seed_values
-- (idx_issue_tag_values_tag, a range per value) and seed_issues (the
-- issues of the term's values without rows, found in their events by the
-- caller), each then read by its primary key, filtered as search_issues
-- filters, sorted. The seed drives the plan whatever the parameters:
-- OFFSET 0 keeps the lateral subquery from being pulled up into a join
-- that the planner could turn around, as a prepared statement's generic
-- plan did (bench/NOTES.md, scenario 12): it walked the sort's index and
-- compared each issue with every seed issue.
-- Its cost follows the term's issues, not the project's; the layer picks
-- it when the tag store counts few events of the term (mesher.search,
-- tag_plan). Identical to search_issues but for the seed.
SELECT *  -- noqa: AM04
FROM (
    SELECT by_id.*
    FROM (
        SELECT tv.issue_id
        FROM issue_tag_values AS tv
        WHERE
            tv.project_id = :project_id
            AND tv.tag_key = :seed_key
            AND tv.tag_value = any(cast(:seed_values AS TEXT[]))
        UNION
        SELECT unnest(cast(:seed_issues AS UUID[])) AS issue_id
    ) AS seed
    CROSS JOIN LATERAL (
        SELECT *  -- noqa: AM04
        FROM issues AS x
        WHERE x.project_id = :project_id AND x.id = seed.issue_id  -- noqa: RF03
        OFFSET 0  -- noqa: AM09
    ) AS by_id
) AS i
WHERE
    project_id = :project_id
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND (cast(:statuses AS TEXT[]) IS NULL OR status = any(cast(:statuses AS TEXT[])))
    AND (cast(:levels AS TEXT[]) IS NULL OR level = any(cast(:levels AS TEXT[])))
    AND (cast(:assigned AS BOOLEAN) IS NULL OR (assigned_to IS NOT NULL) = :assigned)
    AND (
        cast(:assignees AS UUID[]) IS NULL
        OR assigned_to = any(cast(:assignees AS UUID[]))
    )
    AND (
        cast(:not_assignees AS UUID[]) IS NULL
        OR assigned_to IS NULL
        OR NOT assigned_to = any(cast(:not_assignees AS UUID[]))
    )
    AND first_seen >= coalesce(cast(:first_seen_min AS TIMESTAMPTZ), '-infinity')
    AND first_seen <= coalesce(cast(:first_seen_max AS TIMESTAMPTZ), 'infinity')
    AND last_seen >= coalesce(cast(:last_seen_min AS TIMESTAMPTZ), '-infinity')
    AND last_seen <= coalesce(cast(:last_seen_max AS TIMESTAMPTZ), 'infinity')
    AND event_count >= coalesce(cast(:times_seen_min AS BIGINT), -2147483648)
    AND event_count <= coalesce(cast(:times_seen_max AS BIGINT), 2147483647)
    AND NOT EXISTS (
        SELECT
        FROM
            unnest(
                cast(:tag_keys AS TEXT[]),
                cast(:tag_negated AS BOOLEAN[]),
                cast(:tag_value_first AS INTEGER[]),
                cast(:tag_value_last AS INTEGER[]),
                cast(:tag_issue_first AS INTEGER[]),
                cast(:tag_issue_last AS INTEGER[])
            ) AS f (tag_key, negated, first_value, last_value, first_issue, last_issue)
        WHERE f.negated = (
            EXISTS (
                SELECT
                FROM issue_tag_values AS tv
                WHERE
                    tv.project_id = :project_id
                    AND tv.issue_id = i.id
                    AND tv.tag_key = f.tag_key
                    AND tv.tag_value = any(
                        -- the spaces around ':' keep aiosql from reading a parameter
                        (cast(:tag_values AS TEXT[]))[f.first_value : f.last_value]  -- noqa: LT01
                    )
            )
            OR i.id = any(
                (cast(:tag_issues AS UUID[]))[f.first_issue : f.last_issue]  -- noqa: LT01
            )
        )
    )
    AND (
        cast(:title_patterns AS TEXT[]) IS NULL
        OR title ILIKE all(cast(:title_patterns AS TEXT[]))
    )
    AND (
        cast(:first_releases AS TEXT[]) IS NULL
        OR first_release = any(cast(:first_releases AS TEXT[]))
    )
    AND user_count >= coalesce(cast(:users_min AS BIGINT), -2147483648)
    AND user_count <= coalesce(cast(:users_max AS BIGINT), 2147483647)
    AND (last_seen, id) < (
        coalesce(cast(:after_last_seen AS TIMESTAMPTZ), 'infinity'),
        coalesce(cast(:after_id AS UUID), 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    )
ORDER BY last_seen DESC, id DESC
LIMIT :page_size;

-- name: search_issues_new_by_tag(project_id, statuses, levels, assigned, assignees, not_assignees, first_seen_min, first_seen_max, last_seen_min, last_seen_max, times_seen_min, times_seen_max, tag_keys, tag_negated, tag_value_first, tag_value_last, tag_values, tag_issue_first, tag_issue_last, tag_issues, seed_key, seed_values, seed_issues, title_patterns, first_releases, users_min, users_max, after_first_seen, after_id, page_size)
-- search_issues_new, starting from one tag term's issues instead of walking the
-- sort's index: the issues of seed_key with one of seed_values
-- (idx_issue_tag_values_tag, a range per value) and seed_issues (the
-- issues of the term's values without rows, found in their events by the
-- caller), each then read by its primary key, filtered as search_issues_new
-- filters, sorted; OFFSET 0 as in search_issues_by_tag.
-- Its cost follows the term's issues, not the project's; the layer picks
-- it when the tag store counts few events of the term (mesher.search,
-- tag_plan). Identical to search_issues_new but for the seed.
SELECT *  -- noqa: AM04
FROM (
    SELECT by_id.*
    FROM (
        SELECT tv.issue_id
        FROM issue_tag_values AS tv
        WHERE
            tv.project_id = :project_id
            AND tv.tag_key = :seed_key
            AND tv.tag_value = any(cast(:seed_values AS TEXT[]))
        UNION
        SELECT unnest(cast(:seed_issues AS UUID[])) AS issue_id
    ) AS seed
    CROSS JOIN LATERAL (
        SELECT *  -- noqa: AM04
        FROM issues AS x
        WHERE x.project_id = :project_id AND x.id = seed.issue_id  -- noqa: RF03
        OFFSET 0  -- noqa: AM09
    ) AS by_id
) AS i
WHERE
    project_id = :project_id
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND (cast(:statuses AS TEXT[]) IS NULL OR status = any(cast(:statuses AS TEXT[])))
    AND (cast(:levels AS TEXT[]) IS NULL OR level = any(cast(:levels AS TEXT[])))
    AND (cast(:assigned AS BOOLEAN) IS NULL OR (assigned_to IS NOT NULL) = :assigned)
    AND (
        cast(:assignees AS UUID[]) IS NULL
        OR assigned_to = any(cast(:assignees AS UUID[]))
    )
    AND (
        cast(:not_assignees AS UUID[]) IS NULL
        OR assigned_to IS NULL
        OR NOT assigned_to = any(cast(:not_assignees AS UUID[]))
    )
    AND first_seen >= coalesce(cast(:first_seen_min AS TIMESTAMPTZ), '-infinity')
    AND first_seen <= coalesce(cast(:first_seen_max AS TIMESTAMPTZ), 'infinity')
    AND last_seen >= coalesce(cast(:last_seen_min AS TIMESTAMPTZ), '-infinity')
    AND last_seen <= coalesce(cast(:last_seen_max AS TIMESTAMPTZ), 'infinity')
    AND event_count >= coalesce(cast(:times_seen_min AS BIGINT), -2147483648)
    AND event_count <= coalesce(cast(:times_seen_max AS BIGINT), 2147483647)
    AND NOT EXISTS (
        SELECT
        FROM
            unnest(
                cast(:tag_keys AS TEXT[]),
                cast(:tag_negated AS BOOLEAN[]),
                cast(:tag_value_first AS INTEGER[]),
                cast(:tag_value_last AS INTEGER[]),
                cast(:tag_issue_first AS INTEGER[]),
                cast(:tag_issue_last AS INTEGER[])
            ) AS f (tag_key, negated, first_value, last_value, first_issue, last_issue)
        WHERE f.negated = (
            EXISTS (
                SELECT
                FROM issue_tag_values AS tv
                WHERE
                    tv.project_id = :project_id
                    AND tv.issue_id = i.id
                    AND tv.tag_key = f.tag_key
                    AND tv.tag_value = any(
                        -- the spaces around ':' keep aiosql from reading a parameter
                        (cast(:tag_values AS TEXT[]))[f.first_value : f.last_value]  -- noqa: LT01
                    )
            )
            OR i.id = any(
                (cast(:tag_issues AS UUID[]))[f.first_issue : f.last_issue]  -- noqa: LT01
            )
        )
    )
    AND (
        cast(:title_patterns AS TEXT[]) IS NULL
        OR title ILIKE all(cast(:title_patterns AS TEXT[]))
    )
    AND (
        cast(:first_releases AS TEXT[]) IS NULL
        OR first_release = any(cast(:first_releases AS TEXT[]))
    )
    AND user_count >= coalesce(cast(:users_min AS BIGINT), -2147483648)
    AND user_count <= coalesce(cast(:users_max AS BIGINT), 2147483647)
    AND (first_seen, id) < (
        coalesce(cast(:after_first_seen AS TIMESTAMPTZ), 'infinity'),
        coalesce(cast(:after_id AS UUID), 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    )
ORDER BY first_seen DESC, id DESC
LIMIT :page_size;

-- name: search_issues_freq_by_tag(project_id, statuses, levels, assigned, assignees, not_assignees, first_seen_min, first_seen_max, last_seen_min, last_seen_max, times_seen_min, times_seen_max, tag_keys, tag_negated, tag_value_first, tag_value_last, tag_values, tag_issue_first, tag_issue_last, tag_issues, seed_key, seed_values, seed_issues, title_patterns, first_releases, users_min, users_max, after_event_count, after_id, page_size)
-- search_issues_freq, starting from one tag term's issues instead of walking the
-- sort's index: the issues of seed_key with one of seed_values
-- (idx_issue_tag_values_tag, a range per value) and seed_issues (the
-- issues of the term's values without rows, found in their events by the
-- caller), each then read by its primary key, filtered as search_issues_freq
-- filters, sorted; OFFSET 0 as in search_issues_by_tag.
-- Its cost follows the term's issues, not the project's; the layer picks
-- it when the tag store counts few events of the term (mesher.search,
-- tag_plan). Identical to search_issues_freq but for the seed.
SELECT *  -- noqa: AM04
FROM (
    SELECT by_id.*
    FROM (
        SELECT tv.issue_id
        FROM issue_tag_values AS tv
        WHERE
            tv.project_id = :project_id
            AND tv.tag_key = :seed_key
            AND tv.tag_value = any(cast(:seed_values AS TEXT[]))
        UNION
        SELECT unnest(cast(:seed_issues AS UUID[])) AS issue_id
    ) AS seed
    CROSS JOIN LATERAL (
        SELECT *  -- noqa: AM04
        FROM issues AS x
        WHERE x.project_id = :project_id AND x.id = seed.issue_id  -- noqa: RF03
        OFFSET 0  -- noqa: AM09
    ) AS by_id
) AS i
WHERE
    project_id = :project_id
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND (cast(:statuses AS TEXT[]) IS NULL OR status = any(cast(:statuses AS TEXT[])))
    AND (cast(:levels AS TEXT[]) IS NULL OR level = any(cast(:levels AS TEXT[])))
    AND (cast(:assigned AS BOOLEAN) IS NULL OR (assigned_to IS NOT NULL) = :assigned)
    AND (
        cast(:assignees AS UUID[]) IS NULL
        OR assigned_to = any(cast(:assignees AS UUID[]))
    )
    AND (
        cast(:not_assignees AS UUID[]) IS NULL
        OR assigned_to IS NULL
        OR NOT assigned_to = any(cast(:not_assignees AS UUID[]))
    )
    AND first_seen >= coalesce(cast(:first_seen_min AS TIMESTAMPTZ), '-infinity')
    AND first_seen <= coalesce(cast(:first_seen_max AS TIMESTAMPTZ), 'infinity')
    AND last_seen >= coalesce(cast(:last_seen_min AS TIMESTAMPTZ), '-infinity')
    AND last_seen <= coalesce(cast(:last_seen_max AS TIMESTAMPTZ), 'infinity')
    AND event_count >= coalesce(cast(:times_seen_min AS BIGINT), -2147483648)
    AND event_count <= coalesce(cast(:times_seen_max AS BIGINT), 2147483647)
    AND NOT EXISTS (
        SELECT
        FROM
            unnest(
                cast(:tag_keys AS TEXT[]),
                cast(:tag_negated AS BOOLEAN[]),
                cast(:tag_value_first AS INTEGER[]),
                cast(:tag_value_last AS INTEGER[]),
                cast(:tag_issue_first AS INTEGER[]),
                cast(:tag_issue_last AS INTEGER[])
            ) AS f (tag_key, negated, first_value, last_value, first_issue, last_issue)
        WHERE f.negated = (
            EXISTS (
                SELECT
                FROM issue_tag_values AS tv
                WHERE
                    tv.project_id = :project_id
                    AND tv.issue_id = i.id
                    AND tv.tag_key = f.tag_key
                    AND tv.tag_value = any(
                        -- the spaces around ':' keep aiosql from reading a parameter
                        (cast(:tag_values AS TEXT[]))[f.first_value : f.last_value]  -- noqa: LT01
                    )
            )
            OR i.id = any(
                (cast(:tag_issues AS UUID[]))[f.first_issue : f.last_issue]  -- noqa: LT01
            )
        )
    )
    AND (
        cast(:title_patterns AS TEXT[]) IS NULL
        OR title ILIKE all(cast(:title_patterns AS TEXT[]))
    )
    AND (
        cast(:first_releases AS TEXT[]) IS NULL
        OR first_release = any(cast(:first_releases AS TEXT[]))
    )
    AND user_count >= coalesce(cast(:users_min AS BIGINT), -2147483648)
    AND user_count <= coalesce(cast(:users_max AS BIGINT), 2147483647)
    AND (event_count, id) < (
        coalesce(cast(:after_event_count AS BIGINT), 2147483647),
        coalesce(cast(:after_id AS UUID), 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    )
ORDER BY event_count DESC, id DESC
LIMIT :page_size;

-- name: search_issues_user_by_tag(project_id, statuses, levels, assigned, assignees, not_assignees, first_seen_min, first_seen_max, last_seen_min, last_seen_max, times_seen_min, times_seen_max, tag_keys, tag_negated, tag_value_first, tag_value_last, tag_values, tag_issue_first, tag_issue_last, tag_issues, seed_key, seed_values, seed_issues, title_patterns, first_releases, users_min, users_max, after_user_count, after_id, page_size)
-- search_issues_user, starting from one tag term's issues instead of walking the
-- sort's index: the issues of seed_key with one of seed_values
-- (idx_issue_tag_values_tag, a range per value) and seed_issues (the
-- issues of the term's values without rows, found in their events by the
-- caller), each then read by its primary key, filtered as search_issues_user
-- filters, sorted; OFFSET 0 as in search_issues_by_tag.
-- Its cost follows the term's issues, not the project's; the layer picks
-- it when the tag store counts few events of the term (mesher.search,
-- tag_plan). Identical to search_issues_user but for the seed.
SELECT *  -- noqa: AM04
FROM (
    SELECT by_id.*
    FROM (
        SELECT tv.issue_id
        FROM issue_tag_values AS tv
        WHERE
            tv.project_id = :project_id
            AND tv.tag_key = :seed_key
            AND tv.tag_value = any(cast(:seed_values AS TEXT[]))
        UNION
        SELECT unnest(cast(:seed_issues AS UUID[])) AS issue_id
    ) AS seed
    CROSS JOIN LATERAL (
        SELECT *  -- noqa: AM04
        FROM issues AS x
        WHERE x.project_id = :project_id AND x.id = seed.issue_id  -- noqa: RF03
        OFFSET 0  -- noqa: AM09
    ) AS by_id
) AS i
WHERE
    project_id = :project_id
    AND merged_into IS NULL
    AND deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
    AND (cast(:statuses AS TEXT[]) IS NULL OR status = any(cast(:statuses AS TEXT[])))
    AND (cast(:levels AS TEXT[]) IS NULL OR level = any(cast(:levels AS TEXT[])))
    AND (cast(:assigned AS BOOLEAN) IS NULL OR (assigned_to IS NOT NULL) = :assigned)
    AND (
        cast(:assignees AS UUID[]) IS NULL
        OR assigned_to = any(cast(:assignees AS UUID[]))
    )
    AND (
        cast(:not_assignees AS UUID[]) IS NULL
        OR assigned_to IS NULL
        OR NOT assigned_to = any(cast(:not_assignees AS UUID[]))
    )
    AND first_seen >= coalesce(cast(:first_seen_min AS TIMESTAMPTZ), '-infinity')
    AND first_seen <= coalesce(cast(:first_seen_max AS TIMESTAMPTZ), 'infinity')
    AND last_seen >= coalesce(cast(:last_seen_min AS TIMESTAMPTZ), '-infinity')
    AND last_seen <= coalesce(cast(:last_seen_max AS TIMESTAMPTZ), 'infinity')
    AND event_count >= coalesce(cast(:times_seen_min AS BIGINT), -2147483648)
    AND event_count <= coalesce(cast(:times_seen_max AS BIGINT), 2147483647)
    AND NOT EXISTS (
        SELECT
        FROM
            unnest(
                cast(:tag_keys AS TEXT[]),
                cast(:tag_negated AS BOOLEAN[]),
                cast(:tag_value_first AS INTEGER[]),
                cast(:tag_value_last AS INTEGER[]),
                cast(:tag_issue_first AS INTEGER[]),
                cast(:tag_issue_last AS INTEGER[])
            ) AS f (tag_key, negated, first_value, last_value, first_issue, last_issue)
        WHERE f.negated = (
            EXISTS (
                SELECT
                FROM issue_tag_values AS tv
                WHERE
                    tv.project_id = :project_id
                    AND tv.issue_id = i.id
                    AND tv.tag_key = f.tag_key
                    AND tv.tag_value = any(
                        -- the spaces around ':' keep aiosql from reading a parameter
                        (cast(:tag_values AS TEXT[]))[f.first_value : f.last_value]  -- noqa: LT01
                    )
            )
            OR i.id = any(
                (cast(:tag_issues AS UUID[]))[f.first_issue : f.last_issue]  -- noqa: LT01
            )
        )
    )
    AND (
        cast(:title_patterns AS TEXT[]) IS NULL
        OR title ILIKE all(cast(:title_patterns AS TEXT[]))
    )
    AND (
        cast(:first_releases AS TEXT[]) IS NULL
        OR first_release = any(cast(:first_releases AS TEXT[]))
    )
    AND user_count >= coalesce(cast(:users_min AS BIGINT), -2147483648)
    AND user_count <= coalesce(cast(:users_max AS BIGINT), 2147483647)
    AND (user_count, id) < (
        coalesce(cast(:after_user_count AS BIGINT), 2147483647),
        coalesce(cast(:after_id AS UUID), 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    )
ORDER BY user_count DESC, id DESC
LIMIT :page_size;
