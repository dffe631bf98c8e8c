-- The trigger function of issues_delete_tags_and_hours (AFTER DELETE, per
-- statement) and issues_truncate_tags_and_hours (AFTER TRUNCATE) on issues:
-- it deletes the per-issue rows of the tag store and the hourly rollups
-- (issue_tag_values and issue_hourly_counts) with their issue, in the same
-- transaction, where foreign keys with ON DELETE CASCADE would check every
-- row the write path inserts (migration 0018 has the measurements). A
-- DELETE of issues (a project or organization deleted, whose cascade
-- deletes its issues, or issues deleted by hand) deletes their rows; a
-- TRUNCATE of issues truncates both tables.
--
-- On Citus the triggers do not exist (Citus refuses a trigger on a
-- distributed table unless told to run it unsafely): the foreign keys do
-- this work there, and after_migrate.sql puts them back when a database
-- migrated without Citus is distributed later. The function stays, unused.
CREATE OR REPLACE FUNCTION delete_issue_tags_and_hours() RETURNS TRIGGER
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

COMMENT ON FUNCTION delete_issue_tags_and_hours() IS
'Trigger function on issues: deletes their rows of issue_tag_values and '
'issue_hourly_counts, where foreign keys would check every row the write path '
'inserts. Unused on Citus, where the foreign keys do it.';
