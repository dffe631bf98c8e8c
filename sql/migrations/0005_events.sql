-- Events: one row per received error event, partitioned by day of
-- received_at (UTC). The partition key must be part of the primary key.

CREATE TABLE events (
    id UUID NOT NULL DEFAULT uuidv7(),
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    issue_id UUID NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    level TEXT NOT NULL
    CONSTRAINT events_level_check
    CHECK (level IN ('fatal', 'error', 'warning', 'info', 'debug')),
    message TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    exception JSONB,
    stacktrace JSONB,
    breadcrumbs JSONB,
    tags JSONB NOT NULL DEFAULT '{}',
    extra JSONB NOT NULL DEFAULT '{}',
    user_context JSONB,
    sdk_name TEXT,
    sdk_version TEXT,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);

CREATE INDEX idx_events_project_received ON events (project_id, received_at DESC);
CREATE INDEX idx_events_issue_received ON events (issue_id, received_at DESC);
CREATE INDEX idx_events_level ON events (level, received_at DESC);
CREATE INDEX idx_events_fingerprint ON events (fingerprint);
CREATE INDEX idx_events_tags ON events USING gin (tags jsonb_path_ops);

-- Creates the daily partition events_YYYYMMDD covering
-- [day 00:00 UTC, day + 1 00:00 UTC). Returns true if it was created,
-- false if it already existed. DDL cannot take bind parameters, so the
-- name and bounds are built here from a value that is already a date.
-- The advisory lock serializes concurrent callers until they commit.
CREATE FUNCTION create_events_partition(day DATE) RETURNS BOOLEAN
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    partition_name text := 'events_' || to_char(day, 'YYYYMMDD');
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('mesher.events_partitions'));
    IF to_regclass(quote_ident(partition_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format(
        'CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
        partition_name,
        day::timestamp AT TIME ZONE 'UTC',
        (day + 1)::timestamp AT TIME ZONE 'UTC'
    );
    RETURN true;
END
$fn$;
