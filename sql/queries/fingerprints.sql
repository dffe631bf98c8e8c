-- Fingerprints and their issues (migration 0021): merge and unmerge.
--
-- A merge repoints the sources' rows of issue_fingerprints to the target,
-- adds the sources' counts and rollup rows (issue_tag_values,
-- issue_hourly_counts, issue_releases) to the target's, and hides the sources
-- (issues.merged_into): its cost follows fingerprints and rollup rows, and
-- it rewrites no event (the reads of a target's events take its sources'
-- too, sql/queries/events.sql). An unmerge moves fingerprints to a new
-- issue at once (issue_fingerprints; a row of issue_unmerges says it is in
-- progress) and then their past events, with those events' share of the
-- counts and rollups, in chunks of one short transaction each
-- (move_unmerged_events): at every commit both issues' reads agree with the
-- events they hold, and an unmerge cut short is finished by the next one of
-- the project, or by resume_unmerges (migration 0027).
--
-- Locks, in the write path's order: the fingerprints' advisory locks
-- (lock_fingerprints), then the issue rows in id order, then the rollup
-- rows sorted by key, then the project's status counts. An unmerge's chunk
-- locks its issue_unmerges row first (nothing else locks those rows).

-- name: fingerprints_of_issues(project_id, issue_ids)
-- The fingerprints of these issues, sorted (idx_issue_fingerprints_issue):
-- what a merge locks before it locks the issues.
SELECT fingerprint
FROM issue_fingerprints
WHERE project_id = :project_id AND issue_id = any(cast(:issue_ids AS UUID[]))
ORDER BY fingerprint;

-- name: list_issue_fingerprints(project_id, issue_id)
-- An issue's fingerprints (a merged id: its target's), each with its own
-- event count, first and last seen, level and first title, the most events
-- first; none for a deleted issue or no issue. The issue by issues_pkey, its
-- fingerprints by idx_issue_fingerprints_issue.
SELECT
    f.fingerprint,
    f.issue_id,
    f.title,
    f.level,
    f.event_count,
    f.first_seen,
    f.last_seen
FROM issues AS given
INNER JOIN issues AS i
    ON given.project_id = i.project_id AND coalesce(given.merged_into, given.id) = i.id
INNER JOIN issue_fingerprints AS f ON i.project_id = f.project_id AND i.id = f.issue_id
WHERE
    given.project_id = :project_id
    AND given.id = :issue_id
    AND i.project_id = :project_id
    AND f.project_id = :project_id
    AND i.merged_into IS NULL
    AND i.deleted_at IS NULL
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
ORDER BY f.event_count DESC, f.fingerprint ASC;

-- name: lock_issues_for_change(project_id, issue_ids)
-- Locks issues for a merge or an unmerge, in id order (primary key), and
-- returns whether each is merged or deleted. A missing id, or any of a
-- deleted project, has no row.
SELECT
    id,
    merged_into,
    deleted_at
FROM issues
WHERE
    project_id = :project_id
    AND id = any(cast(:issue_ids AS UUID[]))
    AND NOT EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NOT NULL
    )
ORDER BY id
FOR UPDATE;

-- name: merge_issues(project_id, target_id, source_ids)^
-- Merges the sources into the target, all live issues of the project that
-- the caller locked (lock_issues_for_change), with their fingerprints'
-- advisory locks. The target's event_count becomes the sum, first_seen the
-- earliest, last_seen the latest, level the most severe, first_release the
-- earliest issue's, last_release the latest one's. The sources (and the
-- issues merged into them before) point at the target (merged_into) and
-- leave the project's status counts; their fingerprints and their rollup
-- rows move to the target (the rows' counts added, sorted by key, the write
-- path's order). Returns the target, updated. Served by the primary keys
-- and idx_issue_fingerprints_issue.
WITH every_issue AS (
    SELECT
        id,
        status,
        event_count,
        first_seen,
        last_seen,
        level,
        first_release,
        last_release
    FROM issues
    WHERE
        project_id = :project_id
        AND (id = :target_id OR id = any(cast(:source_ids AS UUID[])))
),

totals AS (
    SELECT
        sum(event_count) AS event_count,
        min(first_seen) AS first_seen,
        max(last_seen) AS last_seen,
        (array_agg(level ORDER BY severity_rank(level) DESC))[1] AS level,
        (array_remove(array_agg(first_release ORDER BY first_seen), NULL))[1] AS first_release,
        (array_remove(array_agg(last_release ORDER BY last_seen DESC), NULL))[1] AS last_release,
        (
            SELECT count(DISTINCT u.user_key)
            FROM issue_users AS u
            WHERE
                u.project_id = :project_id
                AND (u.issue_id = :target_id OR u.issue_id = any(cast(:source_ids AS UUID[])))  -- noqa: RF02
        ) AS user_count
    FROM every_issue
),

merged AS (
    UPDATE issues AS i
    SET
        event_count = totals.event_count,
        first_seen = totals.first_seen,
        last_seen = totals.last_seen,
        level = totals.level,
        first_release = totals.first_release,
        last_release = totals.last_release,
        user_count = totals.user_count
    FROM totals
    WHERE i.project_id = :project_id AND i.id = :target_id
    RETURNING i.*
),

hidden AS (
    UPDATE issues AS i
    SET merged_into = :target_id
    WHERE
        i.project_id = :project_id
        AND (
            i.id = any(cast(:source_ids AS UUID[]))
            OR i.merged_into = any(cast(:source_ids AS UUID[]))
        )
    RETURNING 1
),

repointed AS (
    UPDATE issue_fingerprints AS f
    SET issue_id = :target_id
    WHERE f.project_id = :project_id AND f.issue_id = any(cast(:source_ids AS UUID[]))
    RETURNING 1
),

source_tags AS (
    DELETE FROM issue_tag_values AS v
    WHERE v.project_id = :project_id AND v.issue_id = any(cast(:source_ids AS UUID[]))
    RETURNING v.tag_key, v.tag_value, v.times_seen, v.first_seen, v.last_seen
),

target_tags AS (
    INSERT INTO issue_tag_values AS v (
        project_id, issue_id, tag_key, tag_value, times_seen, first_seen, last_seen
    )
    SELECT
        :project_id AS project_id,
        :target_id AS issue_id,
        source_tags.tag_key,
        source_tags.tag_value,
        sum(source_tags.times_seen) AS times_seen,
        min(source_tags.first_seen) AS first_seen,
        max(source_tags.last_seen) AS last_seen
    FROM source_tags
    GROUP BY source_tags.tag_key, source_tags.tag_value
    ORDER BY source_tags.tag_key, source_tags.tag_value
    ON CONFLICT (project_id, issue_id, tag_key, tag_value) DO UPDATE
        SET
            times_seen = v.times_seen + excluded.times_seen,
            first_seen = least(v.first_seen, excluded.first_seen),
            last_seen = greatest(v.last_seen, excluded.last_seen)
    RETURNING 1
),

source_hours AS (
    DELETE FROM issue_hourly_counts AS c
    WHERE c.project_id = :project_id AND c.issue_id = any(cast(:source_ids AS UUID[]))
    RETURNING c.hour_start, c.event_count
),

target_hours AS (
    INSERT INTO issue_hourly_counts AS c (project_id, issue_id, hour_start, event_count)
    SELECT
        :project_id AS project_id,
        :target_id AS issue_id,
        source_hours.hour_start,
        sum(source_hours.event_count) AS event_count
    FROM source_hours
    GROUP BY source_hours.hour_start
    ORDER BY source_hours.hour_start
    ON CONFLICT (project_id, issue_id, hour_start) DO UPDATE
        SET event_count = c.event_count + excluded.event_count
    RETURNING 1
),

source_releases AS (
    DELETE FROM issue_releases AS r
    WHERE r.project_id = :project_id AND r.issue_id = any(cast(:source_ids AS UUID[]))
    RETURNING r.release, r.environment, r.first_seen, r.last_seen, r.event_count
),

target_releases AS (
    INSERT INTO issue_releases AS r (
        project_id, issue_id, release, environment, first_seen, last_seen, event_count
    )
    SELECT
        :project_id AS project_id,
        :target_id AS issue_id,
        source_releases.release,
        source_releases.environment,
        min(source_releases.first_seen) AS first_seen,
        max(source_releases.last_seen) AS last_seen,
        sum(source_releases.event_count) AS event_count
    FROM source_releases
    GROUP BY source_releases.release, source_releases.environment
    ORDER BY source_releases.release, source_releases.environment
    ON CONFLICT (project_id, issue_id, release, environment) DO UPDATE
        SET
            event_count = r.event_count + excluded.event_count,
            first_seen = least(r.first_seen, excluded.first_seen),
            last_seen = greatest(r.last_seen, excluded.last_seen)
    RETURNING 1
),

source_users AS (
    DELETE FROM issue_users AS u
    WHERE u.project_id = :project_id AND u.issue_id = any(cast(:source_ids AS UUID[]))
    RETURNING u.user_key, u.times_seen
),

target_users AS (
    INSERT INTO issue_users AS u (project_id, issue_id, user_key, times_seen)
    SELECT
        :project_id AS project_id,
        :target_id AS issue_id,
        source_users.user_key,
        sum(source_users.times_seen) AS times_seen
    FROM source_users
    GROUP BY source_users.user_key
    ORDER BY source_users.user_key
    ON CONFLICT (project_id, issue_id, user_key) DO UPDATE
        SET times_seen = u.times_seen + excluded.times_seen
    RETURNING 1
),

counted AS (
    INSERT INTO project_issue_counts AS c (project_id, status, issue_count)
    SELECT
        :project_id AS project_id,
        every_issue.status,
        -count(*) AS issue_count
    FROM every_issue
    WHERE every_issue.id <> :target_id
    GROUP BY every_issue.status
    ORDER BY every_issue.status
    ON CONFLICT (project_id, status) DO UPDATE
        SET issue_count = c.issue_count + excluded.issue_count
    RETURNING 1
)

SELECT *  -- noqa: AM04
FROM merged;

-- name: unmerge_issue(project_id, issue_id, fingerprints)^
-- An unmerge's first step, with the fingerprints' advisory locks and the
-- issue's row lock held: a new issue for the fingerprints (unresolved; its
-- first fingerprint, title and first_seen those of the earliest one, its
-- last_seen the latest, its level the most severe, no events yet), their
-- rows of issue_fingerprints repointed to it (so new events land there),
-- the new issue counted unresolved, and the unmerge recorded in
-- issue_unmerges with the ids its events carry (the issue and those merged
-- into it). Returns the new issue; none (and nothing done) unless every
-- fingerprint given is the issue's and the issue keeps at least one. The
-- events, their counts and rollups follow in chunks (move_unmerged_events);
-- the old issue's first_seen, last_seen and level, which still hold those
-- events', once they are all moved (settle_unmerge).
-- Served by the primary keys, idx_issue_fingerprints_issue and
-- idx_issues_merged_into.
WITH moving AS (
    SELECT
        fingerprint,
        title,
        level,
        event_count,
        first_seen,
        last_seen
    FROM issue_fingerprints
    WHERE
        project_id = :project_id
        AND issue_id = :issue_id
        AND fingerprint = any(cast(:fingerprints AS TEXT[]))
),

staying AS (
    SELECT fingerprint
    FROM issue_fingerprints
    WHERE
        project_id = :project_id
        AND issue_id = :issue_id
        AND NOT fingerprint = any(cast(:fingerprints AS TEXT[]))
),

created AS (
    INSERT INTO issues (project_id, fingerprint, title, level, event_count, first_seen, last_seen)
    SELECT
        :project_id AS project_id,
        (array_agg(fingerprint ORDER BY first_seen, fingerprint))[1] AS fingerprint,
        (array_agg(title ORDER BY first_seen, fingerprint))[1] AS title,
        (array_agg(level ORDER BY severity_rank(level) DESC))[1] AS level,
        0 AS event_count,
        min(first_seen) AS first_seen,
        max(last_seen) AS last_seen
    FROM moving
    HAVING
        count(*) = cardinality(cast(:fingerprints AS TEXT[]))
        AND (SELECT count(*) FROM staying) > 0
    RETURNING *
),

repointed AS (
    UPDATE issue_fingerprints AS f
    SET issue_id = created.id
    FROM created
    WHERE f.project_id = :project_id AND f.fingerprint = any(cast(:fingerprints AS TEXT[]))
    RETURNING 1
),

counted AS (
    INSERT INTO project_issue_counts AS c (project_id, status, issue_count)
    SELECT
        :project_id AS project_id,
        created.status,
        1 AS issue_count
    FROM created
    ON CONFLICT (project_id, status) DO UPDATE
        SET issue_count = c.issue_count + excluded.issue_count
    RETURNING 1
),

pending AS (
    INSERT INTO issue_unmerges (
        project_id, new_issue_id, old_issue_id, from_issue_ids, fingerprints
    )
    SELECT
        :project_id AS project_id,
        created.id AS new_issue_id,
        :issue_id AS old_issue_id,
        array(
            SELECT i.id
            FROM issues AS i
            WHERE
                i.project_id = :project_id
                AND (i.id = :issue_id OR i.merged_into = :issue_id)
            ORDER BY i.id
        ) AS from_issue_ids,
        cast(:fingerprints AS TEXT[]) AS fingerprints
    FROM created
    RETURNING 1
)

SELECT *  -- noqa: AM04
FROM created;

-- name: resume_unmerges(project_id)
-- The project's unmerges still in progress (issue_unmerges), oldest first:
-- the next unmerge_issue of the project, and resume_unmerges, finish them.
-- A range of issue_unmerges_pkey.
SELECT new_issue_id
FROM issue_unmerges
WHERE project_id = :project_id
ORDER BY started_at, new_issue_id;

-- name: lock_unmerge(project_id, new_issue_id)^
-- An unmerge in progress, locked for one chunk (a second process finishing
-- the same one waits for the chunk); none once it is finished.
SELECT
    old_issue_id,
    from_issue_ids,
    fingerprints
FROM issue_unmerges
WHERE project_id = :project_id AND new_issue_id = :new_issue_id
FOR UPDATE;

-- name: settle_unmerge(project_id, issue_id)!
-- An unmerge's last chunk: the old issue (or its target, if it was merged
-- since) holds only its own fingerprints' events now, so its first_seen,
-- last_seen and level become theirs. idx_issue_fingerprints_issue.
UPDATE issues AS i
SET
    first_seen = kept.first_seen,
    last_seen = kept.last_seen,
    level = kept.level
FROM (
    SELECT
        min(f.first_seen) AS first_seen,
        max(f.last_seen) AS last_seen,
        (array_agg(f.level ORDER BY severity_rank(f.level) DESC))[1] AS level
    FROM issue_fingerprints AS f
    WHERE f.project_id = :project_id AND f.issue_id = :issue_id
    HAVING count(*) > 0
) AS kept
WHERE i.project_id = :project_id AND i.id = :issue_id;

-- name: forget_unmerge(project_id, new_issue_id)!
-- An unmerge is finished (its last chunk, empty, after every window's
-- events), or one of its issues was deleted: its row goes.
DELETE FROM issue_unmerges
WHERE project_id = :project_id AND new_issue_id = :new_issue_id;

-- name: unmerged_event_span(project_id, from_issue_ids, fingerprints)^
-- When the events an unmerge has still to move were received, oldest and
-- newest (NULL: none left): those of its fingerprints that carry an id of
-- the old issue's (from_issue_ids: it and the issues merged into it then).
-- A fixed set once the fingerprints are repointed, since their new events
-- land in the new issue. idx_events_fingerprint.
SELECT
    min(received_at) AS oldest,
    max(received_at) AS newest
FROM events
WHERE
    project_id = :project_id
    AND fingerprint = any(cast(:fingerprints AS TEXT[]))
    AND issue_id = any(cast(:from_issue_ids AS UUID[]));

-- name: unmerged_event_ids(project_id, from_issue_ids, fingerprints, not_before, not_after)
-- Those events received from not_before (included) to not_after (excluded),
-- oldest first: an unmerge reads them a window at a time, outside its
-- chunks' transactions, and moves them in chunks. idx_events_fingerprint of
-- the window's partitions.
SELECT
    id,
    received_at
FROM events
WHERE
    project_id = :project_id
    AND fingerprint = any(cast(:fingerprints AS TEXT[]))
    AND issue_id = any(cast(:from_issue_ids AS UUID[]))
    AND received_at >= :not_before
    AND received_at < :not_after
ORDER BY received_at, id;

-- name: move_unmerged_events(project_id, from_issue_ids, fingerprints, event_ids, received_ats, not_before, not_after, new_issue_id, old_rollup_id, new_rollup_id)^
-- One chunk of an unmerge, in a transaction of its own with its
-- issue_unmerges row and both issues locked: these events (of
-- unmerged_event_ids, received from not_before to not_after) that still
-- carry an id of the old issue's get the new issue's id, and their share of
-- the issues' event_count and of the rollups moves from the old issue
-- (old_rollup_id) to the new one (new_rollup_id; the two are the issues'
-- targets if either was merged since; nothing moves between an issue and
-- itself): the counts subtracted and added, as the write path adds them,
-- sorted by key. A rollup count that reaches 0 goes in tidy_unmerge, in the
-- same transaction. Returns how many events moved. The events by their
-- primary key, in the partitions of the chunk's time range only (an event
-- moved meanwhile is not moved twice: the UPDATE checks its issue_id); the
-- rollups by their primary keys. Its cost follows the chunk, not the
-- events moved before it.
WITH chosen AS (
    SELECT
        c.id,
        c.received_at
    FROM unnest(
        cast(:event_ids AS UUID[]), cast(:received_ats AS TIMESTAMPTZ[])
    ) AS c (id, received_at)
),

moved AS (
    UPDATE events AS e
    SET issue_id = :new_issue_id
    FROM chosen
    WHERE
        e.project_id = :project_id
        AND e.id = chosen.id
        AND e.received_at = chosen.received_at
        AND e.received_at >= :not_before
        AND e.received_at <= :not_after
        AND e.fingerprint = any(cast(:fingerprints AS TEXT[]))
        AND e.issue_id = any(cast(:from_issue_ids AS UUID[]))
    RETURNING e.received_at, e.tags, e.release, e.environment, e.user_context
),

tag_deltas AS (
    -- A value without a project row (past its key's value_bound, migration
    -- 0028) counts in the issues' row of untracked values, as the write
    -- path counted it.
    SELECT
        t.tag_key,
        CASE WHEN v.tag_value IS NULL THEN repeat('~', 201) ELSE t.tag_value END AS tag_value,
        count(*) AS times_seen,
        min(moved.received_at) AS first_seen,
        max(moved.received_at) AS last_seen
    FROM moved
    CROSS JOIN LATERAL jsonb_each_text(moved.tags) AS t (tag_key, tag_value)
    LEFT JOIN project_tag_values AS v
        ON
            v.project_id = :project_id
            AND t.tag_key = v.tag_key
            AND t.tag_value = v.tag_value
    GROUP BY t.tag_key, CASE WHEN v.tag_value IS NULL THEN repeat('~', 201) ELSE t.tag_value END
),

hour_deltas AS (
    SELECT
        date_trunc('hour', moved.received_at, 'UTC') AS hour_start,
        count(*) AS event_count
    FROM moved
    GROUP BY date_trunc('hour', moved.received_at, 'UTC')
),

release_deltas AS (
    SELECT
        moved.release,
        coalesce(moved.environment, '') AS environment,
        count(*) AS event_count,
        min(moved.received_at) AS first_seen,
        max(moved.received_at) AS last_seen
    FROM moved
    WHERE moved.release IS NOT NULL
    GROUP BY moved.release, coalesce(moved.environment, '')
),

moved_user_keys AS (
    SELECT event_user_key(moved.user_context) AS user_key
    FROM moved
),

user_deltas AS (
    SELECT
        user_key,
        count(*) AS times_seen
    FROM moved_user_keys
    WHERE user_key IS NOT NULL
    GROUP BY user_key
),

both_issues AS (
    SELECT
        sides.issue_id,
        sides.sign
    FROM (
        VALUES (cast(:old_rollup_id AS UUID), -1), (cast(:new_rollup_id AS UUID), 1)
    ) AS sides (issue_id, sign)
    WHERE cast(:old_rollup_id AS UUID) <> cast(:new_rollup_id AS UUID)
),

tags AS (
    INSERT INTO issue_tag_values AS v (
        project_id, issue_id, tag_key, tag_value, times_seen, first_seen, last_seen
    )
    SELECT
        :project_id AS project_id,
        both_issues.issue_id,
        tag_deltas.tag_key,
        tag_deltas.tag_value,
        both_issues.sign * tag_deltas.times_seen AS times_seen,
        tag_deltas.first_seen,
        tag_deltas.last_seen
    FROM both_issues
    CROSS JOIN tag_deltas
    ORDER BY both_issues.issue_id, tag_deltas.tag_key, tag_deltas.tag_value
    ON CONFLICT (project_id, issue_id, tag_key, tag_value) DO UPDATE
        SET
            times_seen = v.times_seen + excluded.times_seen,
            first_seen = CASE
                WHEN excluded.times_seen > 0 THEN least(v.first_seen, excluded.first_seen)
                ELSE v.first_seen
            END,
            last_seen = CASE
                WHEN excluded.times_seen > 0 THEN greatest(v.last_seen, excluded.last_seen)
                ELSE v.last_seen
            END
    RETURNING 1
),

hours AS (
    INSERT INTO issue_hourly_counts AS c (project_id, issue_id, hour_start, event_count)
    SELECT
        :project_id AS project_id,
        both_issues.issue_id,
        hour_deltas.hour_start,
        both_issues.sign * hour_deltas.event_count AS event_count
    FROM both_issues
    CROSS JOIN hour_deltas
    ORDER BY both_issues.issue_id, hour_deltas.hour_start
    ON CONFLICT (project_id, issue_id, hour_start) DO UPDATE
        SET event_count = c.event_count + excluded.event_count
    RETURNING 1
),

releases AS (
    INSERT INTO issue_releases AS r (
        project_id, issue_id, release, environment, first_seen, last_seen, event_count
    )
    SELECT
        :project_id AS project_id,
        both_issues.issue_id,
        release_deltas.release,
        release_deltas.environment,
        release_deltas.first_seen,
        release_deltas.last_seen,
        both_issues.sign * release_deltas.event_count AS event_count
    FROM both_issues
    CROSS JOIN release_deltas
    ORDER BY both_issues.issue_id, release_deltas.release, release_deltas.environment
    ON CONFLICT (project_id, issue_id, release, environment) DO UPDATE
        SET
            event_count = r.event_count + excluded.event_count,
            first_seen = CASE
                WHEN excluded.event_count > 0 THEN least(r.first_seen, excluded.first_seen)
                ELSE r.first_seen
            END,
            last_seen = CASE
                WHEN excluded.event_count > 0 THEN greatest(r.last_seen, excluded.last_seen)
                ELSE r.last_seen
            END
    RETURNING 1
),

moved_users AS (
    INSERT INTO issue_users AS u (project_id, issue_id, user_key, times_seen)
    SELECT
        :project_id AS project_id,
        both_issues.issue_id,
        user_deltas.user_key,
        both_issues.sign * user_deltas.times_seen AS times_seen
    FROM both_issues
    CROSS JOIN user_deltas
    ORDER BY both_issues.issue_id, user_deltas.user_key
    ON CONFLICT (project_id, issue_id, user_key) DO UPDATE
        SET times_seen = u.times_seen + excluded.times_seen
    RETURNING 1
),

counted AS (
    UPDATE issues AS i
    SET event_count = i.event_count + both_issues.sign * (SELECT count(*) FROM moved)
    FROM both_issues
    WHERE i.project_id = :project_id AND i.id = both_issues.issue_id
    RETURNING 1
)

SELECT count(*) AS moved
FROM moved;

-- name: tidy_unmerge(project_id, old_issue_id, new_issue_id)^
-- After each chunk of an unmerge, in its transaction: the old issue's
-- rollup rows that it brought to 0 go, and the new issue's first and last
-- release are those of its issue_releases rows (first and last seen),
-- which the chunks move with its events. Returns how many rollup rows went.
-- A range of each rollup's primary key.
WITH emptied_tags AS (
    DELETE FROM issue_tag_values
    WHERE project_id = :project_id AND issue_id = :old_issue_id AND times_seen <= 0
    RETURNING 1
),

emptied_hours AS (
    DELETE FROM issue_hourly_counts
    WHERE project_id = :project_id AND issue_id = :old_issue_id AND event_count <= 0
    RETURNING 1
),

emptied_users AS (
    DELETE FROM issue_users
    WHERE project_id = :project_id AND issue_id = :old_issue_id AND times_seen <= 0
    RETURNING 1
),

emptied_releases AS (
    DELETE FROM issue_releases
    WHERE project_id = :project_id AND issue_id = :old_issue_id AND event_count <= 0
    RETURNING 1
),

releases AS (
    SELECT
        (array_agg(release ORDER BY first_seen, release))[1] AS first_release,
        (array_agg(release ORDER BY last_seen DESC, release ASC))[1] AS last_release
    FROM issue_releases
    WHERE project_id = :project_id AND issue_id = :new_issue_id AND event_count > 0
    HAVING count(*) > 0
),

released AS (
    UPDATE issues AS i
    SET
        first_release = releases.first_release,
        last_release = releases.last_release
    FROM releases
    WHERE i.project_id = :project_id AND i.id = :new_issue_id
    RETURNING 1
)

SELECT
    (SELECT count(*) FROM emptied_tags)
    + (SELECT count(*) FROM emptied_hours)
    + (SELECT count(*) FROM emptied_releases)
    + (SELECT count(*) FROM emptied_users) AS removed;

-- name: recount_issue_users(project_id, issue_ids)!
-- Sets these issues' user_count to their rows of issue_users (after each
-- chunk of an unmerge and its tidy_unmerge: the chunk moved users between
-- them).
-- A range of issue_users_pkey per issue.
UPDATE issues AS i
SET
    user_count = (
        SELECT count(*)
        FROM issue_users AS u
        WHERE u.project_id = :project_id AND u.issue_id = i.id AND u.times_seen > 0
    )
WHERE i.project_id = :project_id AND i.id = any(cast(:issue_ids AS UUID[]));
