-- Creates the daily partitions events_YYYYMMDD and event_tags_YYYYMMDD
-- covering [day 00:00 UTC, day + 1 00:00 UTC), first moving into each the
-- rows of that day that landed in its table's default partition. Returns the
-- number of events moved, or NULL if the events partition already existed
-- (a day whose events partition exists still gets its event_tags partition).
-- Each new table is filled and then attached, so neither parent is ever
-- locked exclusively: ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on the
-- parent (inserts go on) and briefly locks the default partition to check
-- it. The advisory lock serializes concurrent callers until they commit.
-- Only the schema's owner may run it (migration 0008 revokes EXECUTE from
-- PUBLIC). On Citus, after_migrate.sql sets its
-- citus.multi_shard_modify_mode to sequential.
CREATE OR REPLACE FUNCTION create_events_partition(day DATE) RETURNS BIGINT
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    lower_bound timestamptz := day::timestamp AT TIME ZONE 'UTC';
    upper_bound timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
    parent text;
    partition_name text;
    moved bigint;
    events_moved bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('mesher.events_partitions'));
    -- events first, then event_tags: the order in which the write path
    -- locks them (its COPY, then its last statement), so that a writer and
    -- this function never wait for each other in a cycle.
    FOREACH parent IN ARRAY ARRAY['events', 'event_tags'] LOOP
        partition_name := parent || '_' || to_char(day, 'YYYYMMDD');
        IF to_regclass(quote_ident(partition_name)) IS NOT NULL THEN
            CONTINUE;
        END IF;
        EXECUTE format(
            'CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
            partition_name, parent
        );
        -- The range as a CHECK constraint lets ATTACH skip scanning the new table.
        EXECUTE format(
            'ALTER TABLE %I ADD CONSTRAINT %I CHECK (received_at >= %L AND received_at < %L)',
            partition_name, partition_name || '_bounds', lower_bound, upper_bound
        );
        -- ATTACH gives the partition events' foreign keys, which locks issues
        -- and projects in SHARE ROW EXCLUSIVE: take those first, in the write
        -- path's order (issues, then events), never while holding
        -- events_default. Otherwise a writer that updated its issues waits for
        -- events_default, this waits for issues, and a resolve_issue waiting
        -- for that writer closes the cycle (a deadlock). Held, they also keep
        -- out the writers routed by a Citus coordinator, whose default-shard
        -- rows the lock below does not reach.
        IF parent = 'events' THEN
            LOCK TABLE issues, projects IN SHARE ROW EXCLUSIVE MODE;
        END IF;
        -- Block new rows for this day from reaching the default partition meanwhile.
        EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', parent || '_default');
        EXECUTE format(
            'WITH moved AS (DELETE FROM %I WHERE received_at >= %L'
            ' AND received_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
            parent || '_default', lower_bound, upper_bound, partition_name
        );
        GET DIAGNOSTICS moved = ROW_COUNT;
        EXECUTE format(
            'ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
            parent, partition_name, lower_bound, upper_bound
        );
        EXECUTE format(
            'ALTER TABLE %I DROP CONSTRAINT %I', partition_name, partition_name || '_bounds'
        );
        IF parent = 'events' THEN
            events_moved := moved;
        END IF;
    END LOOP;
    RETURN events_moved;
END
$fn$;

COMMENT ON FUNCTION create_events_partition(DATE) IS
'A day''s partitions of events and event_tags, with that day''s rows moved out of the '
'default partitions; filled, then attached, so neither parent is locked exclusively. '
'Returns the events moved, NULL if the partition existed. For the schema''s owner.';
