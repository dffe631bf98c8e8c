-- The events of a project by tag pair, newest first: what filter_events_by_tags
-- walks so that its cost follows the number of events asked for, not the
-- number of events that match (issue 11, part 4). One row per event and pair
-- of its tags (events.tags, as stored), written by the write path with the
-- events, in the same transaction (queries/ingest.sql,
-- upsert_tags_and_counts).
--
-- Why a table and not an index on events: the GIN index idx_events_tags
-- finds an event by its tags but knows nothing of time, so a value's newest
-- events come only after all its matches in the window are read and sorted,
-- and the time index finds them only by reading every event in between. The
-- primary key here is both at once: a pair's events in time order, from the
-- newest back, a page's worth and no more, with generic plans as well as
-- custom ones.
--
-- Partitioned by day like events, with the same bounds, so its rows go with
-- the events they index: create_events_partition creates both partitions
-- and moves both tables' stranded rows out of their default partitions, and
-- drop_expired_events_partitions drops both (both replaced below).
--
-- Keys and values are COLLATE "C", as in the tag store (migration 0012).
--
-- Upgrading: the rows are filled below from the events stored (a full scan
-- of events: on a large table, run it in a quiet hour). Events written by
-- older code between this migration and the new code's start have no rows
-- here, and filter_events_by_tags does not find them: stop the write path
-- for the upgrade, or re-run the fill for the events that lack rows.

CREATE TABLE event_tags (
    project_id UUID NOT NULL,
    tag_key TEXT COLLATE "C" NOT NULL,
    tag_value TEXT COLLATE "C" NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    event_id UUID NOT NULL,
    PRIMARY KEY (project_id, tag_key, tag_value, received_at, event_id)
) PARTITION BY RANGE (received_at);

-- Rows whose day has no partition yet, as events_default for events.
CREATE TABLE event_tags_default PARTITION OF event_tags DEFAULT;

-- A partition for every daily partition of events, with the same bounds.
DO $partitions$
DECLARE
    partition_day date;
BEGIN
    FOR partition_day IN
        SELECT to_date(substr(c.relname, 8), 'YYYYMMDD')
        FROM pg_inherits AS i
        INNER JOIN pg_class AS c ON i.inhrelid = c.oid
        WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_[0-9]{8}$'
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF event_tags FOR VALUES FROM (%L) TO (%L)',
            'event_tags_' || to_char(partition_day, 'YYYYMMDD'),
            partition_day::timestamp AT TIME ZONE 'UTC',
            (partition_day + 1)::timestamp AT TIME ZONE 'UTC'
        );
    END LOOP;
END
$partitions$;

-- On a Citus database distributed already (migration 0012).
SELECT place_on_citus('event_tags', 'project', new_table => TRUE);

-- No foreign key to projects: its check, per row, made the write path's
-- insert of these rows twice as slow (about 9 of 20 µs a row). Events are
-- deleted no other way than with their partition, and these rows go with
-- theirs; a deleted project's rows stay until then, read by nobody (every
-- read names its project). The README ("Filtering events by tags") has the
-- statement that deletes them at once.

-- Fill it from the events stored (see "Upgrading" above).
INSERT INTO event_tags (project_id, tag_key, tag_value, received_at, event_id)
SELECT
    e.project_id,
    t.tag_key,
    t.tag_value,
    e.received_at,
    e.id AS event_id
FROM events AS e
CROSS JOIN LATERAL jsonb_each_text(e.tags) AS t (tag_key, tag_value);

-- Creates the daily partitions events_YYYYMMDD and event_tags_YYYYMMDD
-- covering [day 00:00 UTC, day + 1 00:00 UTC), first moving into each the
-- rows of that day that landed in its table's default partition. Returns the
-- number of events moved, or NULL if the events partition already existed.
-- Each new table is filled and then attached, so neither parent is ever
-- locked exclusively: ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on the
-- parent (inserts go on) and briefly locks the default partition to check
-- it. The advisory lock serializes concurrent callers until they commit.
-- Replaces 0007's, which created the events partition only; a day whose
-- events partition exists gets its event_tags partition here too.
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

-- Drops the daily partitions of events and event_tags whose whole UTC day
-- is older than the retention (their upper bound is at or before today -
-- retention_days); returns the names of the events partitions dropped.
-- Issues are untouched: their counts keep the dropped events. Replaces
-- 0007's, which dropped the events partitions only.
CREATE OR REPLACE FUNCTION drop_expired_events_partitions(
    retention_days INTEGER
) RETURNS SETOF TEXT
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    expired record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('mesher.events_partitions'));
    FOR expired IN
        SELECT c.relname, p.relname AS parent
        FROM pg_inherits AS i
        INNER JOIN pg_class AS c ON i.inhrelid = c.oid
        INNER JOIN pg_class AS p ON i.inhparent = p.oid
        -- The day of a daily partition; NULL for the default partitions.
        CROSS JOIN LATERAL
            substring(c.relname FROM '^' || p.relname || '_([0-9]{8})$') AS d (day_text)
        WHERE
            i.inhparent IN ('events'::regclass, 'event_tags'::regclass)
            AND to_date(d.day_text, 'YYYYMMDD') + 1
            <= (now() AT TIME ZONE 'UTC')::date - retention_days
        -- A day's events partition before its event_tags one: dropping a
        -- partition locks its parent, and the write path locks events
        -- before event_tags (see create_events_partition).
        ORDER BY d.day_text, p.relname = 'event_tags'
    LOOP
        EXECUTE format('DROP TABLE %I', expired.relname);
        IF expired.parent = 'events' THEN
            RETURN NEXT expired.relname;
        END IF;
    END LOOP;
END
$fn$;
