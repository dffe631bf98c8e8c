-- Drops the daily partitions of events and event_tags whose whole UTC day
-- is older than the retention (their upper bound is at or before today -
-- retention_days); returns the names of the events partitions dropped.
-- Issues are untouched: their counts keep the dropped events. Only
-- maintenance calls it (mesher.maintenance.maintain), never migrate; only
-- the schema's owner may run it (migration 0008 revokes EXECUTE from PUBLIC).
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

COMMENT ON FUNCTION drop_expired_events_partitions(INTEGER) IS
'Drops the daily partitions of events and event_tags past the retention; returns '
'the events partitions dropped. Maintenance''s alone, never migrate''s; for the '
'schema''s owner.';
