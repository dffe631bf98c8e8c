-- The per-issue rows of the tag store and the hourly rollups
-- (issue_tag_values and issue_hourly_counts, migration 0012) lose their
-- foreign keys to issues; a trigger on issues deletes them with their issue
-- instead of the keys' ON DELETE CASCADE.
--
-- Why: a foreign key checks every row inserted with a query of its own on
-- issues (a row lock included). The write path inserts these rows in bulk,
-- one per (issue, tag key, value) and per (issue, hour) of a batch, so a
-- batch of new issues ran about five checks per event: about a quarter of
-- the cost of its last statement (upsert_tags_and_counts), measured on
-- bench/NOTES.md's scenario 11 shape. The checks prove nothing the write
-- path does not already guarantee: it is the only writer of these rows,
-- and writes them only for the issues of its batch, which the same
-- transaction has just upserted and holds locked (FOR UPDATE) until it
-- commits, so that a concurrent delete of such an issue waits for the
-- batch and then deletes its rows too. event_tags (migration 0015) has no
-- foreign key either.
--
-- What the keys did on delete, the trigger does, once per statement: a
-- DELETE of issues (a project or organization deleted, whose cascade
-- deletes its issues, or issues deleted by hand) deletes their rows, in the
-- same transaction. TRUNCATE of issues truncates both tables.
--
-- On Citus the keys stay and the trigger is not made: a trigger on a
-- distributed table would run on the shards, and Citus refuses one unless
-- told to run it unsafely. The migration below leaves a database with the
-- citus extension as it is, and after_migrate.sql puts the keys back (and
-- drops the triggers) when a database migrated without Citus is distributed
-- later.

CREATE FUNCTION delete_issue_tags_and_hours() RETURNS TRIGGER
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    IF tg_op = 'TRUNCATE' THEN
        TRUNCATE issue_tag_values, issue_hourly_counts;
        RETURN NULL;
    END IF;
    -- deleted_issues: the statement's deleted rows (its transition table).
    -- Served by both tables' primary keys (project_id, issue_id, ...).
    DELETE FROM issue_tag_values AS v
    USING deleted_issues AS d
    WHERE v.project_id = d.project_id AND v.issue_id = d.id;
    DELETE FROM issue_hourly_counts AS c
    USING deleted_issues AS d
    WHERE c.project_id = d.project_id AND c.issue_id = d.id;
    RETURN NULL;
END
$$;

DO $keys$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    ALTER TABLE issue_tag_values DROP CONSTRAINT issue_tag_values_issue_fkey;
    ALTER TABLE issue_hourly_counts DROP CONSTRAINT issue_hourly_counts_issue_fkey;
    CREATE TRIGGER issues_delete_tags_and_hours
    AFTER DELETE ON issues
    REFERENCING OLD TABLE AS deleted_issues
    FOR EACH STATEMENT EXECUTE FUNCTION delete_issue_tags_and_hours();
    CREATE TRIGGER issues_truncate_tags_and_hours
    AFTER TRUNCATE ON issues
    FOR EACH STATEMENT EXECUTE FUNCTION delete_issue_tags_and_hours();
END
$keys$;
