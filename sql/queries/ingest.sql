-- name: lock_fingerprints(keys)$
-- The write path's first statement: one transaction-level advisory lock per
-- fingerprint of the batch, taken in the order given (the caller sorts the
-- keys). Concurrent batches that share fingerprints then queue instead of
-- deadlocking, whether their issues exist yet or are about to be inserted.
-- The function (sql/functions/lock_fingerprints.sql) refuses on a Citus
-- node other than the coordinator, where the locks would not exclude the
-- coordinator's writers.
SELECT lock_fingerprints(cast(:keys AS BIGINT[])) AS locks_taken;

-- name: lock_issues(project_id, fingerprints)
-- Routes a batch: the issue of each of its fingerprints that has one
-- (issue_fingerprints pkey, then issues_pkey), locked, in issue id order
-- (several fingerprints may share an issue, and batches that share no
-- fingerprint may share issues: one global order keeps them from
-- deadlocking), with its status before the batch, which tells upsert_issues'
-- caller which issues regress (a concurrent resolve_issue cannot slip in
-- between). A fingerprint without a row starts a new issue. The fingerprint
-- locks, taken before, keep merge and unmerge from repointing these rows
-- until the batch commits. An issue deleted while the batch waited for its
-- row lock is re-checked after that delete commits and left out, so its
-- fingerprint starts a new issue (delete_issue takes no fingerprint lock).
SELECT
    i.id,
    f.fingerprint,
    i.status
FROM issue_fingerprints AS f
INNER JOIN issues AS i ON f.project_id = i.project_id AND f.issue_id = i.id
WHERE
    f.project_id = :project_id
    AND f.fingerprint = any(cast(:fingerprints AS TEXT[]))
    AND i.deleted_at IS NULL
ORDER BY i.id, f.fingerprint
FOR UPDATE OF i;

-- name: upsert_issues(project_id, fingerprints, issue_ids, titles, levels, counts, first_seen, last_seen, first_releases, last_releases, release_fingerprints, release_versions)
-- The write path's one issue statement per batch: one entry per distinct
-- fingerprint (parallel arrays, sorted by fingerprint), with its issue from
-- lock_issues (NULL: none yet). A fingerprint without an issue starts one at
-- the batch's count. An existing issue adds the counts of its fingerprints,
-- moves last_seen, keeps the most severe level (severity_rank orders them)
-- and its first release, takes the batch's latest release, and regresses
-- from resolved to unresolved (archived stays archived): always if it was
-- resolved plainly; if it was resolved in a release (migration 0024), only
-- when one of its fingerprints' events here is of a release first seen
-- from the resolution on (resolved_after) or of the release it was resolved
-- in or one first seen after that one (resolved_in_release). The batch's
-- releases per fingerprint are release_fingerprints and release_versions
-- (distinct pairs); a release not in releases yet is first seen now. Every
-- fingerprint's row of issue_fingerprints gets its own counts the same way
-- (inserted for a new one). Returns each fingerprint's issue id, whether
-- this statement created it and whether it regressed it; nothing for a
-- deleted project. Served by the primary keys of issues, issue_fingerprints,
-- releases and projects.
WITH given AS (
    SELECT
        t.fingerprint,
        t.issue_id,
        t.title,
        t.level,
        t.event_count,
        t.first_seen,
        t.last_seen,
        t.first_release,
        t.last_release
    FROM unnest(
        cast(:fingerprints AS TEXT[]),
        cast(:issue_ids AS UUID[]),
        cast(:titles AS TEXT[]),
        cast(:levels AS TEXT[]),
        cast(:counts AS INTEGER[]),
        cast(:first_seen AS TIMESTAMPTZ[]),
        cast(:last_seen AS TIMESTAMPTZ[]),
        cast(:first_releases AS TEXT[]),
        cast(:last_releases AS TEXT[])
    ) AS t (
        fingerprint, issue_id, title, level, event_count, first_seen, last_seen,
        first_release, last_release
    )
),

-- A deleted (or missing) project: nothing written, no row back (the caller
-- refuses the batch).
incoming AS (
    SELECT given.*
    FROM given
    WHERE EXISTS (
        SELECT FROM projects AS p
        WHERE p.id = :project_id AND p.deleted_at IS NULL
    )
),

created AS (
    INSERT INTO issues (
        project_id, fingerprint, title, level, event_count, first_seen, last_seen,
        first_release, last_release
    )
    SELECT
        :project_id AS project_id,
        incoming.fingerprint,
        incoming.title,
        incoming.level,
        incoming.event_count,
        incoming.first_seen,
        incoming.last_seen,
        incoming.first_release,
        incoming.last_release
    FROM incoming
    WHERE incoming.issue_id IS NULL
    ORDER BY incoming.fingerprint
    RETURNING id, fingerprint
),

batch_releases AS (
    SELECT
        b.fingerprint,
        b.version,
        r.first_seen
    FROM
        unnest(
            cast(:release_fingerprints AS TEXT[]), cast(:release_versions AS TEXT[])
        ) AS b (fingerprint, version)
    LEFT JOIN releases AS r ON r.project_id = :project_id AND b.version = r.release
),

reopening AS (
    SELECT DISTINCT g.issue_id
    FROM incoming AS g
    INNER JOIN issues AS i ON i.project_id = :project_id AND g.issue_id = i.id
    LEFT JOIN releases AS v
        ON v.project_id = :project_id AND i.resolved_in_release = v.release
    WHERE
        i.status = 'resolved'
        AND (
            (i.resolved_after IS NULL AND i.resolved_in_release IS NULL)
            OR EXISTS (
                SELECT
                FROM batch_releases AS b
                WHERE
                    b.fingerprint = g.fingerprint
                    AND (
                        coalesce(b.first_seen, 'infinity') >= i.resolved_after
                        OR b.version = i.resolved_in_release
                        OR coalesce(b.first_seen, 'infinity') > v.first_seen
                    )
            )
        )
),

grouped AS (
    SELECT
        g.issue_id,
        sum(g.event_count) AS event_count,
        max(g.last_seen) AS last_seen,
        (array_agg(g.level ORDER BY severity_rank(g.level) DESC))[1] AS level,
        (array_remove(array_agg(g.first_release ORDER BY g.first_seen), NULL))[1] AS first_release,
        (array_remove(array_agg(g.last_release ORDER BY g.last_seen DESC), NULL))[1] AS last_release
    FROM incoming AS g
    WHERE g.issue_id IS NOT NULL
    GROUP BY g.issue_id
),

updated AS (
    UPDATE issues AS i
    SET
        event_count = i.event_count + grouped.event_count,
        last_seen = greatest(i.last_seen, grouped.last_seen),
        level = CASE
            WHEN severity_rank(grouped.level) > severity_rank(i.level) THEN grouped.level
            ELSE i.level
        END,
        status = CASE WHEN reopening.issue_id IS NULL THEN i.status ELSE 'unresolved' END,
        first_release = coalesce(i.first_release, grouped.first_release),
        last_release = coalesce(grouped.last_release, i.last_release),
        resolved_after = CASE WHEN reopening.issue_id IS NULL THEN i.resolved_after END,
        resolved_in_release = CASE
            WHEN reopening.issue_id IS NULL THEN i.resolved_in_release
        END
    FROM grouped
    LEFT JOIN reopening ON grouped.issue_id = reopening.issue_id
    WHERE i.project_id = :project_id AND i.id = grouped.issue_id
    RETURNING i.id, reopening.issue_id IS NOT NULL AS regressed
),

routed AS (
    SELECT
        incoming.fingerprint,
        incoming.title,
        incoming.level,
        incoming.event_count,
        incoming.first_seen,
        incoming.last_seen,
        coalesce(incoming.issue_id, created.id) AS issue_id,
        incoming.issue_id IS NULL AS new_issue
    FROM incoming
    LEFT JOIN created ON incoming.fingerprint = created.fingerprint
),

fingerprints AS (
    INSERT INTO issue_fingerprints AS f (
        project_id, fingerprint, issue_id, title, level, event_count, first_seen, last_seen
    )
    SELECT
        :project_id AS project_id,
        routed.fingerprint,
        routed.issue_id,
        routed.title,
        routed.level,
        routed.event_count,
        routed.first_seen,
        routed.last_seen
    FROM routed
    ORDER BY routed.fingerprint
    ON CONFLICT (project_id, fingerprint) DO UPDATE
        SET
            event_count = f.event_count + excluded.event_count,
            last_seen = greatest(f.last_seen, excluded.last_seen),
            level = CASE
                WHEN severity_rank(excluded.level) > severity_rank(f.level) THEN excluded.level
                ELSE f.level
            END
    RETURNING 1
)

SELECT
    routed.issue_id AS id,
    routed.fingerprint,
    routed.new_issue,
    coalesce(updated.regressed, FALSE) AS regressed
FROM routed
LEFT JOIN updated ON routed.issue_id = updated.id;

-- name: claim_ingest_batch(project_id, idempotency_key, request_digest)^
-- Claims an idempotency key for this call (ingest_batches pkey). No row back
-- means the key was used before: a concurrent call with the same key waits
-- here until that one commits or rolls back.
INSERT INTO ingest_batches (project_id, idempotency_key, request_digest, result)
VALUES (:project_id, :idempotency_key, :request_digest, '[]')
ON CONFLICT (project_id, idempotency_key) DO NOTHING
RETURNING TRUE AS claimed;

-- name: get_ingest_batch(project_id, idempotency_key)^
-- What an earlier call with this key stored, and the digest of its events.
SELECT
    request_digest,
    result
FROM ingest_batches
WHERE project_id = :project_id AND idempotency_key = :idempotency_key;

-- name: record_ingest_batch(project_id, idempotency_key, result)!
-- Stores a keyed call's result, in the same transaction as its events.
UPDATE ingest_batches
SET result = :result
WHERE project_id = :project_id AND idempotency_key = :idempotency_key;

-- name: list_sentry_event_ids(project_id, client_event_ids)
-- What the write path did with SDK event ids that arrived before
-- (sentry_event_ids pkey).
SELECT
    client_event_id,
    event_id,
    issue_id,
    new_issue,
    regressed
FROM sentry_event_ids
WHERE project_id = :project_id AND client_event_id = any(cast(:client_event_ids AS UUID[]));

-- name: record_sentry_event_ids(project_id, client_event_ids, event_ids, issue_ids, new_issues, regressed)
-- Records what the write path did with each SDK event id of a batch, in the
-- same transaction as its events, in the order given (sorted by the caller:
-- concurrent batches cannot deadlock); returns the ids recorded. An id not
-- returned was recorded by an earlier arrival, which this one waited for if it
-- was still uncommitted: the caller rolls back and drops it
-- (sentry_event_ids pkey).
INSERT INTO sentry_event_ids AS s (
    project_id, client_event_id, event_id, issue_id, new_issue, regressed
)
SELECT
    :project_id AS project_id,
    t.client_event_id,
    t.event_id,
    t.issue_id,
    t.new_issue,
    t.regressed
FROM
    unnest(
        cast(:client_event_ids AS UUID[]),
        cast(:event_ids AS UUID[]),
        cast(:issue_ids AS UUID[]),
        cast(:new_issues AS BOOLEAN[]),
        cast(:regressed AS BOOLEAN[])
    ) AS t (client_event_id, event_id, issue_id, new_issue, regressed)
ORDER BY t.client_event_id
ON CONFLICT (project_id, client_event_id) DO NOTHING
RETURNING s.client_event_id;

-- name: lock_tag_keys(project_id, tag_keys)
-- Before the write path's last statement: the batch's tag keys' rows of
-- project_tag_keys (migration 0028), created if new, locked in key order
-- until the commit (an update that changes nothing). Concurrent batches of
-- the project that share a key queue here, so upsert_tags_and_counts, a
-- statement later, sees every value a batch before it gave a row (a fresh
-- snapshot): a value has its project row exactly when all its events have
-- their rows. Batches of a project queued on its hour's rows in that
-- statement already: the wait moves, it is not new. Returns each key and
-- whether it has refused a value: such a key's values with rows never
-- change again (tracked_tag_values). project_tag_keys_pkey.
INSERT INTO project_tag_keys AS k (project_id, tag_key)
SELECT
    :project_id AS project_id,
    t.tag_key
FROM unnest(cast(:tag_keys AS TEXT[])) AS t (tag_key)
ORDER BY t.tag_key
ON CONFLICT (project_id, tag_key) DO UPDATE
    SET tracked_values = k.tracked_values
RETURNING k.tag_key, k.untracked_events > 0 AS frozen;

-- name: tracked_tag_values(project_id, tag_keys)
-- The values with rows of keys that have refused a value (lock_tag_keys'
-- frozen keys: the set never changes again), which the write path keeps
-- and uses to send the other values of those keys already counted as the
-- key's untracked values (and without rows of event_tags).
-- project_tag_values_pkey, at most value_bound rows per key.
SELECT
    tag_key,
    array_agg(tag_value) AS tag_values
FROM project_tag_values
WHERE project_id = :project_id AND tag_key = any(cast(:tag_keys AS TEXT[]))
GROUP BY tag_key;

-- name: upsert_tags_and_counts(project_id, tag_issue_ids, tag_keys, tag_values, tag_counts, tag_first_seen, tag_last_seen, hour_issue_ids, hour_starts, hour_levels, hour_counts, new_issue_tag_rows, new_issue_hour_rows, opened_issues, reopened_issues, pair_keys, pair_values, pair_starts, pair_ends, pair_event_ids, pair_received_ats, issue_release_ids, issue_release_versions, issue_release_environments, issue_release_counts, issue_release_first_seen, issue_release_last_seen, user_issue_ids, user_keys, user_counts)^
-- The write path's last statement: the tag store and the hourly rollups
-- (migration 0012), the project's counts per issue status (migration 0014),
-- the batch's rows of event_tags (migrations 0015 and 0019), and its
-- releases, per issue and environment and per project (migration 0024:
-- one row per distinct (issue, release, environment), environment '' for
-- none, with its count, first and last time), and its users per issue
-- (migration 0025: one row per distinct (issue, user) with its count; an
-- issue's user_count adds the rows inserted), for a
-- batch, after its COPY, in one statement. Python coalesces the batch into
-- one row per (issue, tag key, value), with its count, first and last time,
-- one per (issue, UTC hour, level) with its count, and one per (tag key,
-- value, UTC day) with its events (parallel arrays: each group's contract is
-- stated where mesher/aio/ingest.py builds it, and tested); the per-project
-- rows are summed from those here. The i-th row of event_tags takes its
-- events' ids and times from pair_event_ids and pair_received_ats, entries
-- pair_starts[i] to pair_ends[i], which Python lists newest first (the
-- batch's events are in time order, their ids made in that order); its
-- newest event's time and id are its key. The first new_issue_tag_rows and
-- new_issue_hour_rows entries of the issue arrays are those of the batch's
-- new issues (upsert_issues made them): those rows cannot exist yet, and are
-- inserted without the upsert's check for a conflicting row (which costs
-- about half of an insert). The status counts take the batch's new issues
-- (opened_issues, from upsert_issues) and the resolved ones it reopened
-- (reopened_issues: the resolved issues lock_issues found); a status row
-- is touched only when its count changes. Each table gets one upsert that adds the counts, its rows
-- sorted by key (and the per-issue tables an insert of the new issues' rows,
-- which no other batch can touch), and the tables are upserted in the order
-- of the SELECT below: concurrent batches lock shared rows (a project's
-- hour, its common tag values, its status counts) in one global order and
-- never deadlock. The issue rows are the batch's own: it holds its issues'
-- row locks (lock_issues) until it commits. Returns how many rows each
-- table got. Served by the five primary keys; event_tags rows are only
-- inserted (each is its batch's own), in no particular order. A value
-- without a project row gets one only while its key has room (migration
-- 0028: tracking, below); the others get no row of their own at any level,
-- and their events count in their issue's row of untracked values of the
-- key and in project_tag_keys. lock_tag_keys must run first.
WITH tags AS (
    SELECT
        t.issue_id,
        t.tag_key,
        t.tag_value,
        t.times_seen,
        t.first_seen,
        t.last_seen,
        t.n <= :new_issue_tag_rows AS new_issue
    FROM unnest(
        cast(:tag_issue_ids AS UUID[]),
        cast(:tag_keys AS TEXT[]),
        cast(:tag_values AS TEXT[]),
        cast(:tag_counts AS INTEGER[]),
        cast(:tag_first_seen AS TIMESTAMPTZ[]),
        cast(:tag_last_seen AS TIMESTAMPTZ[])
    ) WITH ORDINALITY AS t (issue_id, tag_key, tag_value, times_seen, first_seen, last_seen, n)
),

-- The batch's distinct values, and which have or get rows of their own
-- (migration 0028): those with a project row (known), and new ones, in
-- value order, while their key has fewer tracked values than its
-- value_bound and has refused none yet (lock_tag_keys made and locked every
-- key's row; a key without one is unbounded). A refused value never gets a
-- row later, even if value_bound is raised: its earlier events have none.
batch_values AS (
    SELECT
        b.tag_key,
        b.tag_value,
        b.times_seen,
        b.first_seen,
        b.last_seen,
        k.tracked_values,
        k.value_bound,
        k.untracked_events,
        v.tag_value IS NOT NULL AS known
    FROM (
        SELECT
            tags.tag_key,
            tags.tag_value,
            sum(tags.times_seen) AS times_seen,
            min(tags.first_seen) AS first_seen,
            max(tags.last_seen) AS last_seen
        FROM tags
        GROUP BY tags.tag_key, tags.tag_value
    ) AS b
    LEFT JOIN project_tag_keys AS k ON k.project_id = :project_id AND b.tag_key = k.tag_key
    LEFT JOIN project_tag_values AS v
        ON
            v.project_id = :project_id
            AND b.tag_key = v.tag_key
            AND b.tag_value = v.tag_value
),

tracking AS (
    SELECT
        b.tag_key,
        b.tag_value,
        b.times_seen,
        b.first_seen,
        b.last_seen,
        b.known,
        b.known OR coalesce(b.untracked_events, 0) = 0
        AND coalesce(b.tracked_values, 0) + row_number() OVER (
            PARTITION BY b.tag_key, b.known ORDER BY b.tag_value
        ) <= coalesce(b.value_bound, 2147483647) AS tracked
    FROM batch_values AS b
),

-- The per-issue rows: a tracked value's own, and per issue and key one row
-- for all its untracked values (tag_value repeat('~', 201), longer than any
-- value).
issue_rows AS (
    SELECT
        tags.issue_id,
        tags.tag_key,
        tags.new_issue,
        CASE WHEN w.tracked THEN tags.tag_value ELSE repeat('~', 201) END AS tag_value,
        sum(tags.times_seen) AS times_seen,
        min(tags.first_seen) AS first_seen,
        max(tags.last_seen) AS last_seen
    FROM tags
    INNER JOIN tracking AS w ON tags.tag_key = w.tag_key AND tags.tag_value = w.tag_value
    GROUP BY
        tags.issue_id,
        tags.tag_key,
        CASE WHEN w.tracked THEN tags.tag_value ELSE repeat('~', 201) END,
        tags.new_issue
),

hours AS (
    SELECT
        h.issue_id,
        h.hour_start,
        h.level,
        h.event_count,
        h.n <= :new_issue_hour_rows AS new_issue
    FROM unnest(
        cast(:hour_issue_ids AS UUID[]),
        cast(:hour_starts AS TIMESTAMPTZ[]),
        cast(:hour_levels AS TEXT[]),
        cast(:hour_counts AS INTEGER[])
    ) WITH ORDINALITY AS h (issue_id, hour_start, level, event_count, n)
),

pairs AS (
    SELECT
        p.tag_key,
        p.tag_value,
        p.first_entry,
        p.last_entry
    FROM
        unnest(
            cast(:pair_keys AS TEXT[]),
            cast(:pair_values AS TEXT[]),
            cast(:pair_starts AS INTEGER[]),
            cast(:pair_ends AS INTEGER[])
        ) AS p (tag_key, tag_value, first_entry, last_entry)
),

issue_release_rows AS (
    SELECT
        r.issue_id,
        r.release,
        r.environment,
        r.event_count,
        r.first_seen,
        r.last_seen
    FROM unnest(
        cast(:issue_release_ids AS UUID[]),
        cast(:issue_release_versions AS TEXT[]),
        cast(:issue_release_environments AS TEXT[]),
        cast(:issue_release_counts AS INTEGER[]),
        cast(:issue_release_first_seen AS TIMESTAMPTZ[]),
        cast(:issue_release_last_seen AS TIMESTAMPTZ[])
    ) AS r (issue_id, release, environment, event_count, first_seen, last_seen)
),

user_rows AS (
    SELECT
        u.issue_id,
        u.user_key,
        u.times_seen
    FROM unnest(
        cast(:user_issue_ids AS UUID[]),
        cast(:user_keys AS TEXT[]),
        cast(:user_counts AS INTEGER[])
    ) AS u (issue_id, user_key, times_seen)
),

new_issue_tags AS (
    INSERT INTO issue_tag_values (
        project_id, issue_id, tag_key, tag_value, times_seen, first_seen, last_seen
    )
    SELECT
        :project_id AS project_id,
        r.issue_id,
        r.tag_key,
        r.tag_value,
        r.times_seen,
        r.first_seen,
        r.last_seen
    FROM issue_rows AS r
    WHERE r.new_issue
    RETURNING 1
),

issue_tags AS (
    INSERT INTO issue_tag_values AS v (
        project_id, issue_id, tag_key, tag_value, times_seen, first_seen, last_seen
    )
    SELECT
        :project_id AS project_id,
        r.issue_id,
        r.tag_key,
        r.tag_value,
        r.times_seen,
        r.first_seen,
        r.last_seen
    FROM issue_rows AS r
    WHERE NOT r.new_issue
    ORDER BY r.issue_id, r.tag_key, r.tag_value
    ON CONFLICT (project_id, issue_id, tag_key, tag_value) DO UPDATE
        SET
            times_seen = v.times_seen + excluded.times_seen,
            first_seen = least(v.first_seen, excluded.first_seen),
            last_seen = greatest(v.last_seen, excluded.last_seen)
    RETURNING 1
),

new_issue_hours AS (
    INSERT INTO issue_hourly_counts (project_id, issue_id, hour_start, event_count)
    SELECT
        :project_id AS project_id,
        hours.issue_id,
        hours.hour_start,
        sum(hours.event_count) AS event_count
    FROM hours
    WHERE hours.new_issue
    GROUP BY hours.issue_id, hours.hour_start
    RETURNING 1
),

issue_hours AS (
    INSERT INTO issue_hourly_counts AS c (project_id, issue_id, hour_start, event_count)
    SELECT
        :project_id AS project_id,
        hours.issue_id,
        hours.hour_start,
        sum(hours.event_count) AS event_count
    FROM hours
    WHERE NOT hours.new_issue
    GROUP BY hours.issue_id, hours.hour_start
    ORDER BY hours.issue_id, hours.hour_start
    ON CONFLICT (project_id, issue_id, hour_start) DO UPDATE
        SET event_count = c.event_count + excluded.event_count
    RETURNING 1
),

issue_releases_upserted AS (
    INSERT INTO issue_releases AS v (
        project_id, issue_id, release, environment, first_seen, last_seen, event_count
    )
    SELECT
        :project_id AS project_id,
        r.issue_id,
        r.release,
        r.environment,
        r.first_seen,
        r.last_seen,
        r.event_count
    FROM issue_release_rows AS r
    ORDER BY r.issue_id, r.release, r.environment
    ON CONFLICT (project_id, issue_id, release, environment) DO UPDATE
        SET
            event_count = v.event_count + excluded.event_count,
            first_seen = least(v.first_seen, excluded.first_seen),
            last_seen = greatest(v.last_seen, excluded.last_seen)
    RETURNING 1
),

issue_users_upserted AS (
    INSERT INTO issue_users AS v (project_id, issue_id, user_key, times_seen)
    SELECT
        :project_id AS project_id,
        u.issue_id,
        u.user_key,
        u.times_seen
    FROM user_rows AS u
    ORDER BY u.issue_id, u.user_key
    ON CONFLICT (project_id, issue_id, user_key) DO UPDATE
        SET times_seen = v.times_seen + excluded.times_seen
    RETURNING v.issue_id, (v.xmax = 0) AS inserted
),

new_users AS (
    SELECT
        issue_users_upserted.issue_id,
        count(*) AS user_count
    FROM issue_users_upserted
    WHERE issue_users_upserted.inserted
    GROUP BY issue_users_upserted.issue_id
),

issue_user_counts AS (
    UPDATE issues AS i
    SET user_count = i.user_count + new_users.user_count
    FROM new_users
    WHERE i.project_id = :project_id AND i.id = new_users.issue_id
    RETURNING 1
),

project_tags AS (
    INSERT INTO project_tag_values AS v (
        project_id, tag_key, tag_value, times_seen, first_seen, last_seen
    )
    SELECT
        :project_id AS project_id,
        w.tag_key,
        w.tag_value,
        w.times_seen,
        w.first_seen,
        w.last_seen
    FROM tracking AS w
    WHERE w.tracked
    ORDER BY w.tag_key, w.tag_value
    ON CONFLICT (project_id, tag_key, tag_value) DO UPDATE
        SET
            times_seen = v.times_seen + excluded.times_seen,
            first_seen = least(v.first_seen, excluded.first_seen),
            last_seen = greatest(v.last_seen, excluded.last_seen)
    RETURNING 1
),

tag_keys_counted AS (
    UPDATE project_tag_keys AS k
    SET
        tracked_values = k.tracked_values + d.new_values,
        untracked_events = k.untracked_events + d.untracked_events
    FROM (
        SELECT
            w.tag_key,
            count(*) FILTER (WHERE w.tracked AND NOT w.known) AS new_values,
            coalesce(sum(w.times_seen) FILTER (WHERE NOT w.tracked), 0) AS untracked_events
        FROM tracking AS w
        GROUP BY w.tag_key
    ) AS d
    WHERE
        k.project_id = :project_id
        AND k.tag_key = d.tag_key
        AND (d.new_values > 0 OR d.untracked_events > 0)
    RETURNING 1
),

project_hours AS (
    INSERT INTO project_hourly_counts AS c (project_id, hour_start, level, event_count)
    SELECT
        :project_id AS project_id,
        hours.hour_start,
        hours.level,
        sum(hours.event_count) AS event_count
    FROM hours
    GROUP BY hours.hour_start, hours.level
    ORDER BY hours.hour_start, hours.level
    ON CONFLICT (project_id, hour_start, level) DO UPDATE
        SET event_count = c.event_count + excluded.event_count
    RETURNING 1
),

project_releases AS (
    INSERT INTO releases AS v (project_id, release, first_seen, last_seen, event_count)
    SELECT
        :project_id AS project_id,
        r.release,
        min(r.first_seen) AS first_seen,
        max(r.last_seen) AS last_seen,
        sum(r.event_count) AS event_count
    FROM issue_release_rows AS r
    GROUP BY r.release
    ORDER BY r.release
    ON CONFLICT (project_id, release) DO UPDATE
        SET
            event_count = v.event_count + excluded.event_count,
            first_seen = least(v.first_seen, excluded.first_seen),
            last_seen = greatest(v.last_seen, excluded.last_seen)
    RETURNING 1
),

project_statuses AS (
    INSERT INTO project_issue_counts AS c (project_id, status, issue_count)
    SELECT
        :project_id AS project_id,
        moved.status,
        moved.delta
    FROM (
        VALUES
        ('resolved', -cast(:reopened_issues AS INTEGER)),
        ('unresolved', cast(:opened_issues AS INTEGER) + cast(:reopened_issues AS INTEGER))
    ) AS moved (status, delta)
    WHERE moved.delta <> 0
    ORDER BY moved.status
    ON CONFLICT (project_id, status) DO UPDATE
        SET issue_count = c.issue_count + excluded.issue_count
    RETURNING 1
),

event_pairs AS (
    INSERT INTO event_tags (
        project_id, tag_key, tag_value, received_at, event_id, received_ats, event_ids
    )
    SELECT
        :project_id AS project_id,
        s.tag_key,
        s.tag_value,
        s.received_ats[1] AS received_at,
        s.event_ids[1] AS event_id,
        s.received_ats,
        s.event_ids
    FROM (
        -- the tracked pairs' slices only (a value without rows has none)
        SELECT
            pairs.tag_key,
            pairs.tag_value,
            -- the spaces around ':' keep aiosql from reading a parameter
            (cast(:pair_received_ats AS TIMESTAMPTZ[]))[
                pairs.first_entry : pairs.last_entry  -- noqa: LT01
            ] AS received_ats,
            (cast(:pair_event_ids AS UUID[]))[
                pairs.first_entry : pairs.last_entry  -- noqa: LT01
            ] AS event_ids
        FROM pairs
        INNER JOIN tracking AS w ON pairs.tag_key = w.tag_key AND pairs.tag_value = w.tag_value
        WHERE w.tracked
    ) AS s
    RETURNING 1
)

SELECT
    (SELECT count(*) FROM new_issue_tags)
    + (SELECT count(*) FROM issue_tags) AS issue_tag_rows,
    (SELECT count(*) FROM new_issue_hours)
    + (SELECT count(*) FROM issue_hours) AS issue_hour_rows,
    (SELECT count(*) FROM issue_releases_upserted) AS issue_release_rows,
    (SELECT count(*) FROM issue_users_upserted) AS issue_user_rows,
    (SELECT count(*) FROM issue_user_counts) AS issue_user_counts,
    (SELECT count(*) FROM project_tags) AS project_tag_rows,
    (SELECT count(*) FROM tag_keys_counted) AS tag_key_rows,
    (SELECT count(*) FROM project_hours) AS project_hour_rows,
    (SELECT count(*) FROM project_releases) AS release_rows,
    (SELECT count(*) FROM project_statuses) AS project_status_rows,
    (SELECT count(*) FROM event_pairs) AS event_tag_rows;
