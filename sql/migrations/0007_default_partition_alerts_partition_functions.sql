-- Ingestion, dashboards and alerting.

-- Events whose day has no partition yet land here instead of being refused;
-- mesher.partitions.maintain moves them into their daily partitions.
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- top_issues: a project's issues by event count.
CREATE INDEX idx_issues_project_event_count ON issues (project_id, event_count DESC);

-- Alert rules fire at most once per cooldown.
ALTER TABLE alert_rules
ADD COLUMN cooldown_minutes INTEGER NOT NULL DEFAULT 60
CONSTRAINT alert_rules_cooldown_minutes_check CHECK (cooldown_minutes > 0),
ADD COLUMN last_fired_at TIMESTAMPTZ;

-- The history of fired alerts.
CREATE TABLE alerts (
    id UUID PRIMARY KEY DEFAULT uuidv7(),
    rule_id UUID NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'active'
    CONSTRAINT alerts_status_check
    CHECK (status IN ('active', 'acknowledged', 'resolved')),
    message TEXT NOT NULL,
    condition_snapshot JSONB NOT NULL,
    triggered_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    acknowledged_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ
);

-- list_alerts: a project's alerts, newest first.
CREATE INDEX idx_alerts_project_triggered ON alerts (project_id, triggered_at DESC);
-- The rule's history, and the ON DELETE CASCADE from alert_rules.
CREATE INDEX idx_alerts_rule ON alerts (rule_id);

-- Creates the daily partition events_YYYYMMDD covering
-- [day 00:00 UTC, day + 1 00:00 UTC), first moving into it any rows of that
-- day that landed in events_default. Returns the number of rows moved, or
-- NULL if the partition already existed. The new table is filled and then
-- attached, so the parent is never locked exclusively: ATTACH PARTITION takes
-- SHARE UPDATE EXCLUSIVE on events (inserts go on) and briefly locks
-- events_default to check it. The advisory lock serializes concurrent callers
-- until they commit. Replaces 0005's create_events_partition(date).
DROP FUNCTION create_events_partition(DATE);

CREATE FUNCTION create_events_partition(day DATE) RETURNS BIGINT
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    partition_name text := 'events_' || to_char(day, 'YYYYMMDD');
    lower_bound timestamptz := day::timestamp AT TIME ZONE 'UTC';
    upper_bound timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
    moved bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('mesher.events_partitions'));
    IF to_regclass(quote_ident(partition_name)) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format(
        'CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
        partition_name
    );
    -- The range as a CHECK constraint lets ATTACH skip scanning the new table.
    EXECUTE format(
        'ALTER TABLE %I ADD CONSTRAINT %I CHECK (received_at >= %L AND received_at < %L)',
        partition_name, partition_name || '_bounds', lower_bound, upper_bound
    );
    -- Block new rows for this day from reaching the default partition meanwhile.
    LOCK TABLE events_default IN SHARE ROW EXCLUSIVE MODE;
    EXECUTE format(
        'WITH moved AS (DELETE FROM events_default WHERE received_at >= %L'
        ' AND received_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
        lower_bound, upper_bound, partition_name
    );
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format(
        'ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
        partition_name, lower_bound, upper_bound
    );
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', partition_name, partition_name || '_bounds');
    RETURN moved;
END
$fn$;

-- Drops the daily partitions whose whole UTC day is older than the retention
-- (their upper bound is at or before today - retention_days); returns their
-- names. Issues are untouched: their counts keep the dropped events.
CREATE FUNCTION drop_expired_events_partitions(retention_days INTEGER) RETURNS SETOF TEXT
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    expired text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('mesher.events_partitions'));
    FOR expired IN
        SELECT c.relname
        FROM pg_inherits AS i
        INNER JOIN pg_class AS c ON i.inhrelid = c.oid
        WHERE
            i.inhparent = 'events'::regclass
            AND c.relname ~ '^events_[0-9]{8}$'
            AND to_date(substr(c.relname, 8), 'YYYYMMDD') + 1
            <= (now() AT TIME ZONE 'UTC')::date - retention_days
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I', expired);
        RETURN NEXT expired;
    END LOOP;
END
$fn$;
