-- A project's issues per status, kept by every statement that adds an issue
-- or changes its status: count_issues_by_status reads three rows instead of
-- counting the project's issues (2.3 ms at 10,000 issues, and ten times that
-- at 100,000).
--
-- Who keeps it (queries/ingest.sql and queries/issues.sql):
-- - the write path: its new issues, and the resolved issues a batch reopens,
--   in upsert_tags_and_counts, from what lock_issues and upsert_issues
--   returned (a row is touched only when its count changes);
-- - set_issue_status: an issue's move from its old status to the new one,
--   read under the issue's row lock in the same statement.
-- Issues are deleted only with their project, and these rows with them.
--
-- Both lock a project's rows in status order, after the issue rows, so
-- neither a batch and a status change nor two status changes deadlock on
-- them, each in its own transaction. A transaction that goes on after a
-- status change holds the project's rows until it commits: one that then
-- waits for an issue a batch holds can deadlock with that batch (PostgreSQL
-- cancels one of them). A status change waits for the batches of its
-- project that opened or reopened issues to commit, as batches already wait
-- for each other on the project's hourly rollup.
--
-- Upgrading: the rows are filled below from the issues stored. Issues that
-- older code adds or changes between this migration and the new code's
-- start are not counted: stop the write path and the status changes for the
-- upgrade. A row edited by hand in issues is not counted either; the
-- README ("Issue counts per status") has the statement that recounts a
-- project.

CREATE TABLE project_issue_counts (
    project_id UUID NOT NULL,
    status TEXT NOT NULL
    CONSTRAINT project_issue_counts_status_check
    CHECK (status IN ('unresolved', 'resolved', 'archived')),
    issue_count BIGINT NOT NULL,
    PRIMARY KEY (project_id, status)
) WITH (fillfactor = 80);

-- See migration 0012: placed before its foreign key, on a Citus database
-- distributed already.
SELECT place_on_citus('project_issue_counts', 'project', new_table => TRUE);

ALTER TABLE project_issue_counts
ADD CONSTRAINT project_issue_counts_project_id_fkey FOREIGN KEY (project_id)
REFERENCES projects (id) ON DELETE CASCADE;

INSERT INTO project_issue_counts (project_id, status, issue_count)
SELECT
    project_id,
    status,
    count(*) AS issue_count
FROM issues
GROUP BY project_id, status;
