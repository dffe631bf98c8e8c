-- One chunk of a deleted project's rows (projects.deleted_at set): deletes
-- at most max_rows rows from the first of the project's tables that still
-- has some, and returns that table's name and the rows deleted. The events
-- and event_tags go first, one daily partition at a time, oldest first
-- (then the default partition); then the per-issue rows, the issues, and
-- the per-project rows, children before the rows they reference, so that
-- no cascade adds rows to the chunk. When nothing is left, it deletes the
-- project's row and returns ('projects', 1); for a project that is not
-- marked deleted (or is gone), no row. mesher.maintenance.run_deletions
-- calls it, one chunk per transaction.
--
-- Each chunk is found by the table's index on project_id and deleted by
-- ctid, with project_id in both statements: on Citus every statement is
-- routed to the project's shard. Tables a database does not have yet are
-- passed over.
CREATE OR REPLACE FUNCTION delete_project_rows(
    p_project_id UUID, max_rows INTEGER
) RETURNS TABLE (table_name TEXT, deleted_rows BIGINT)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    chunk_table text;
    deleted bigint;
BEGIN
    IF NOT EXISTS (
        SELECT FROM projects WHERE id = p_project_id AND deleted_at IS NOT NULL
    ) THEN
        RETURN;
    END IF;
    FOR chunk_table IN
        SELECT c.relname::text
        FROM pg_inherits AS i
        INNER JOIN pg_class AS c ON i.inhrelid = c.oid
        INNER JOIN pg_class AS p ON i.inhparent = p.oid
        WHERE i.inhparent IN ('events'::regclass, 'event_tags'::regclass)
        -- events_YYYYMMDD by day, then events_default ('d' sorts after digits)
        ORDER BY p.relname <> 'events', c.relname
    LOOP
        EXECUTE format(
            'DELETE FROM %1$I WHERE project_id = $1 AND ctid = ANY(ARRAY('
            'SELECT ctid FROM %1$I WHERE project_id = $1 LIMIT $2))',
            chunk_table
        ) USING p_project_id, max_rows;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        IF deleted > 0 THEN
            RETURN QUERY SELECT chunk_table, deleted;
            RETURN;
        END IF;
    END LOOP;
    FOREACH chunk_table IN ARRAY ARRAY[
        'issue_tag_values', 'issue_hourly_counts', 'issue_releases', 'issue_users',
        'issue_fingerprints', 'issue_unmerges', 'alerts', 'issues', 'alert_rules',
        'project_tag_values', 'project_tag_keys', 'project_hourly_counts',
        'project_issue_counts', 'releases', 'ingest_batches',
        'sentry_event_ids', 'project_outcomes', 'project_rate_limits', 'api_keys'
    ] LOOP
        CONTINUE WHEN to_regclass(chunk_table) IS NULL;
        -- A deleted issue or rule makes its foreign keys look for rows that
        -- reference it (events: one probe per partition): fewer per chunk
        -- (500 issues took 0.86 s in benchmark 15, with 9 partitions).
        EXECUTE format(
            'DELETE FROM %1$I WHERE project_id = $1 AND ctid = ANY(ARRAY('
            'SELECT ctid FROM %1$I WHERE project_id = $1 LIMIT $2))',
            chunk_table
        ) USING p_project_id, CASE
            WHEN chunk_table IN ('issues', 'alert_rules') THEN least(max_rows, 200)
            ELSE max_rows
        END;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        IF deleted > 0 THEN
            RETURN QUERY SELECT chunk_table, deleted;
            RETURN;
        END IF;
    END LOOP;
    DELETE FROM projects WHERE id = p_project_id;
    RETURN QUERY SELECT 'projects'::text, 1::bigint;
END
$fn$;

COMMENT ON FUNCTION delete_project_rows(UUID, INTEGER) IS
'One chunk (at most max_rows rows, one table, partitions oldest first) of a deleted '
'project''s rows; the project''s row when nothing else is left. run_deletions''s.';
