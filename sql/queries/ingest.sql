-- name: lock_fingerprints(keys)$
-- The write path's first statement: one transaction-level advisory lock per
-- fingerprint of the batch, taken in the order given (the caller sorts the
-- keys). Concurrent batches that share fingerprints then queue instead of
-- deadlocking, whether their issues exist yet or are about to be inserted.
-- The function (migration 0011) refuses on a Citus node other than the
-- coordinator, where the locks would not exclude the coordinator's writers.
SELECT lock_fingerprints(cast(:keys AS BIGINT[])) AS locks_taken;

-- name: lock_issues(project_id, fingerprints)
-- Locks a batch's existing issues and returns their status before the batch,
-- which tells upsert_issues' caller which issues regress (a concurrent
-- resolve_issue cannot slip in between). Served by
-- issues_project_id_fingerprint_key.
SELECT
    id,
    fingerprint,
    status
FROM issues
WHERE project_id = :project_id AND fingerprint = any(cast(:fingerprints AS TEXT[]))
ORDER BY fingerprint
FOR UPDATE;

-- name: upsert_issues(project_id, fingerprints, titles, levels, counts, first_seen, last_seen, first_releases, last_releases)
-- The write path's one issue statement per batch: one row per distinct
-- fingerprint (parallel arrays, sorted by fingerprint). A new issue starts at
-- the batch's count; an existing one adds it, moves last_seen, keeps the most
-- severe level (severity_rank orders them) and its first release, takes the
-- batch's latest release, and regresses from resolved to unresolved
-- (archived stays archived). Returns each issue's id and whether this
-- statement created it. Served by issues_project_id_fingerprint_key.
WITH incoming AS (
    SELECT
        t.fingerprint,
        t.title,
        t.level,
        t.event_count,
        t.first_seen,
        t.last_seen,
        t.first_release,
        t.last_release
    FROM unnest(
        cast(:fingerprints AS TEXT[]),
        cast(:titles AS TEXT[]),
        cast(:levels AS TEXT[]),
        cast(:counts AS INTEGER[]),
        cast(:first_seen AS TIMESTAMPTZ[]),
        cast(:last_seen AS TIMESTAMPTZ[]),
        cast(:first_releases AS TEXT[]),
        cast(:last_releases AS TEXT[])
    ) AS t (
        fingerprint, title, level, event_count, first_seen, last_seen, first_release, last_release
    )
)

INSERT INTO issues AS i (
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
ORDER BY incoming.fingerprint
ON CONFLICT (project_id, fingerprint) DO UPDATE
    SET
        event_count = i.event_count + excluded.event_count,
        last_seen = greatest(i.last_seen, excluded.last_seen),
        level = CASE
            WHEN severity_rank(excluded.level) > severity_rank(i.level) THEN excluded.level
            ELSE i.level
        END,
        status = CASE WHEN i.status = 'resolved' THEN 'unresolved' ELSE i.status END,
        first_release = coalesce(i.first_release, excluded.first_release),
        last_release = coalesce(excluded.last_release, i.last_release)
RETURNING i.id, i.fingerprint, (i.xmax = 0) AS new_issue;

-- name: copy_events()!
-- COPY statement for the write path (psycopg's cursor.copy); rows are
-- written in this column order.
COPY events (
    id, project_id, issue_id, received_at, fingerprint, level, message, exception,
    stacktrace, breadcrumbs, tags, extra, user_context, sdk_name, sdk_version,
    client_event_id, occurred_at, release, environment, dist, platform, server_name,
    logger, transaction, handled, exceptions, data
) FROM STDIN;

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

-- name: insert_event(id, project_id, issue_id, received_at, fingerprint, level, message, exception, stacktrace, breadcrumbs, tags, extra, user_context, sdk_name, sdk_version, client_event_id, occurred_at, release, environment, dist, platform, server_name, logger, transaction, handled, exceptions, data)!
-- One event, for a batch of one: a plain INSERT costs one round trip where
-- COPY costs three. The same columns as copy_events.
INSERT INTO events (
    id, project_id, issue_id, received_at, fingerprint, level, message, exception,
    stacktrace, breadcrumbs, tags, extra, user_context, sdk_name, sdk_version,
    client_event_id, occurred_at, release, environment, dist, platform, server_name,
    logger, transaction, handled, exceptions, data
)
VALUES (
    :id, :project_id, :issue_id, :received_at, :fingerprint, :level, :message,
    cast(:exception AS JSONB), cast(:stacktrace AS JSONB), cast(:breadcrumbs AS JSONB),
    cast(:tags AS JSONB), cast(:extra AS JSONB), cast(:user_context AS JSONB),
    :sdk_name, :sdk_version, :client_event_id, :occurred_at, :release, :environment, :dist,
    :platform, :server_name, :logger, :transaction, :handled,
    cast(:exceptions AS JSONB), cast(:data AS JSONB)
);

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
