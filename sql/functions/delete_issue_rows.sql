-- One chunk of a deleted issue's rows (issues.deleted_at set, by
-- delete_issue or by a project's retention): deletes at most max_rows rows
-- from the first of its tables that still has some, and returns that
-- table's name and the rows deleted: its events one daily partition at a
-- time, oldest first (then the default partition; idx_events_issue_received),
-- then its tag store, hourly rollup, release and user rows (so that no
-- cascade adds rows to the chunk); when nothing is left, the
-- issue's row, returned as ('issues', 1). No row for an issue that is not
-- marked deleted (or is gone). Its rows of event_tags (which name events,
-- not issues) go with their day's partition; the reads join events, which
-- no longer have them. mesher.maintenance.run_deletions calls it, one
-- chunk per transaction; on Citus every statement names the project and is
-- routed to its shard.
CREATE OR REPLACE FUNCTION delete_issue_rows(
    p_project_id UUID, p_issue_id UUID, max_rows INTEGER
) RETURNS TABLE (table_name TEXT, deleted_rows BIGINT)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    chunk_table text;
    deleted bigint;
BEGIN
    IF NOT EXISTS (
        SELECT FROM issues
        WHERE project_id = p_project_id AND id = p_issue_id AND deleted_at IS NOT NULL
    ) THEN
        RETURN;
    END IF;
    FOR chunk_table IN
        SELECT c.relname::text
        FROM pg_inherits AS i
        INNER JOIN pg_class AS c ON i.inhrelid = c.oid
        WHERE i.inhparent = 'events'::regclass
        ORDER BY c.relname
    LOOP
        EXECUTE format(
            'DELETE FROM %1$I WHERE project_id = $1 AND issue_id = $2 AND ctid = ANY(ARRAY('
            'SELECT ctid FROM %1$I WHERE project_id = $1 AND issue_id = $2 LIMIT $3))',
            chunk_table
        ) USING p_project_id, p_issue_id, max_rows;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        IF deleted > 0 THEN
            RETURN QUERY SELECT chunk_table, deleted;
            RETURN;
        END IF;
    END LOOP;
    FOREACH chunk_table IN ARRAY ARRAY[
        'issue_tag_values', 'issue_hourly_counts', 'issue_releases', 'issue_users'
    ] LOOP
        CONTINUE WHEN to_regclass(chunk_table) IS NULL;
        EXECUTE format(
            'DELETE FROM %1$I WHERE project_id = $1 AND issue_id = $2 AND ctid = ANY(ARRAY('
            'SELECT ctid FROM %1$I WHERE project_id = $1 AND issue_id = $2 LIMIT $3))',
            chunk_table
        ) USING p_project_id, p_issue_id, max_rows;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        IF deleted > 0 THEN
            RETURN QUERY SELECT chunk_table, deleted;
            RETURN;
        END IF;
    END LOOP;
    DELETE FROM issues WHERE project_id = p_project_id AND id = p_issue_id;
    RETURN QUERY SELECT 'issues'::text, 1::bigint;
END
$fn$;

COMMENT ON FUNCTION delete_issue_rows(UUID, UUID, INTEGER) IS
'One chunk (at most max_rows rows, one table, partitions oldest first) of a deleted '
'issue''s rows; the issue''s row when nothing else is left. run_deletions''s.';
