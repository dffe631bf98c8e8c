-- Issues with many fingerprints (merge and unmerge), and issues that are
-- gone while their rows remain.
--
-- issue_fingerprints maps each fingerprint of a project to its issue, with
-- the fingerprint's own running counts: the write path routes a batch's
-- events by it (sql/queries/ingest.sql), a merge repoints the sources' rows
-- to the target and an unmerge some of an issue's rows to a new issue
-- (sql/queries/issues.sql). issues.fingerprint stays, as the issue's first
-- fingerprint, and is no longer unique.
--
-- issues.merged_into: a merged source, which keeps its row so that its id
-- still answers (get_issue gives the target) and its events keep their
-- issue_id (a merge rewrites no event: the reads of the target's events
-- take its sources' too). issues.deleted_at: a deleted issue whose rows are
-- being removed in chunks (issue 25, migration 0023). Every issue read,
-- list, search and count hides an issue with either set.
--
-- Upgrading: the rows are filled below from the issues stored, one per
-- issue. Stop the write path for the upgrade, as for 0014.

ALTER TABLE issues
ADD COLUMN merged_into UUID,
ADD COLUMN deleted_at TIMESTAMPTZ;

COMMENT ON COLUMN issues.merged_into IS
'Set on an issue merged into another (merge_issues): the target''s id. The '
'row stays, hidden from every list, so that the id still answers and its '
'events keep their issue_id; the target''s reads include them.';
COMMENT ON COLUMN issues.deleted_at IS
'Set when the issue was deleted: hidden at once, its rows removed in chunks.';

-- The issues merged into one (the target's events are theirs too), and
-- unmerge's lookup of them; few rows, so a partial index.
CREATE INDEX idx_issues_merged_into ON issues (merged_into)
WHERE merged_into IS NOT NULL;

ALTER TABLE issues DROP CONSTRAINT issues_project_id_fingerprint_key;

CREATE TABLE issue_fingerprints (
    project_id UUID NOT NULL,
    fingerprint TEXT NOT NULL,
    issue_id UUID NOT NULL,
    title TEXT NOT NULL,
    level TEXT NOT NULL
    CONSTRAINT issue_fingerprints_level_check
    CHECK (level IN ('fatal', 'error', 'warning', 'info', 'debug')),
    event_count INTEGER NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project_id, fingerprint)
) WITH (fillfactor = 80);

-- See migration 0012: placed before its foreign key, on a Citus database
-- distributed already.
SELECT place_on_citus('issue_fingerprints', 'project', new_table => TRUE);

COMMENT ON TABLE issue_fingerprints IS
'Which issue each fingerprint of a project belongs to (the write path routes '
'events by it; merge and unmerge repoint rows), with the fingerprint''s own '
'running counts: its events, most severe level, first and last seen, and the '
'title of its first event. fillfactor 80: every batch updates its rows.';

CREATE INDEX idx_issue_fingerprints_issue ON issue_fingerprints (project_id, issue_id);

ALTER TABLE issue_fingerprints
ADD CONSTRAINT issue_fingerprints_issue_fkey FOREIGN KEY (project_id, issue_id)
REFERENCES issues (project_id, id) ON DELETE CASCADE;

INSERT INTO issue_fingerprints (
    project_id, fingerprint, issue_id, title, level, event_count, first_seen, last_seen
)
SELECT
    project_id,
    fingerprint,
    id,
    title,
    level,
    event_count,
    first_seen,
    last_seen
FROM issues;
