-- One chunk of a project's events (and event_tags rows) received before
-- p_before, for the project's own retention (projects.retention_days,
-- shorter than the global one, which drops whole partitions): deletes at
-- most max_rows rows from the oldest partition that still has some, and
-- returns its name and the rows deleted; no row when none is left.
-- idx_events_project_received and event_tags_pkey find them. On Citus
-- every statement names the project and is routed to its shard.
CREATE OR REPLACE FUNCTION delete_expired_project_events(
    p_project_id UUID, p_before TIMESTAMPTZ, max_rows INTEGER
) RETURNS TABLE (table_name TEXT, deleted_rows BIGINT)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    chunk_table text;
    deleted bigint;
BEGIN
    FOR chunk_table IN
        SELECT c.relname::text
        FROM pg_inherits AS i
        INNER JOIN pg_class AS c ON i.inhrelid = c.oid
        INNER JOIN pg_class AS p ON i.inhparent = p.oid
        WHERE i.inhparent IN ('events'::regclass, 'event_tags'::regclass)
        ORDER BY p.relname <> 'events', c.relname
    LOOP
        EXECUTE format(
            'DELETE FROM %1$I WHERE project_id = $1 AND received_at < $2 AND ctid = ANY(ARRAY('
            'SELECT ctid FROM %1$I WHERE project_id = $1 AND received_at < $2 LIMIT $3))',
            chunk_table
        ) USING p_project_id, p_before, max_rows;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        IF deleted > 0 THEN
            RETURN QUERY SELECT chunk_table, deleted;
            RETURN;
        END IF;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION delete_expired_project_events(UUID, TIMESTAMPTZ, INTEGER) IS
'One chunk (at most max_rows rows, one partition, oldest first) of a project''s events '
'and event_tags rows older than p_before: its own retention. run_deletions''s.';
