-- Unmerges in progress, so that one cut short (its process killed, its
-- connection lost) is finished later instead of left half done.
--
-- unmerge_issue repoints the fingerprints to a new issue in one short
-- transaction, which also writes a row here; then it moves the past events
-- of those fingerprints, with their share of the counts and rollups, in
-- chunks of one short transaction each; the last one deletes the row. Every
-- chunk moves events, event counts, tag values, hourly counts, releases and
-- users together, so at every commit the two issues' reads agree with the
-- events they hold. A row still here is an unmerge to finish: the next
-- unmerge_issue of the project, or resume_unmerges, does it.
--
-- No foreign key to issues: a chunk locks this row before the issues' rows,
-- and a cascade from issues would lock them the other way round. A row whose
-- issues were deleted is dropped by the next chunk that finds them gone.

CREATE TABLE issue_unmerges (
    project_id UUID NOT NULL,
    new_issue_id UUID NOT NULL,
    old_issue_id UUID NOT NULL,
    from_issue_ids UUID[] NOT NULL,
    fingerprints TEXT[] NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, new_issue_id)
);

-- See migration 0012: placed before its foreign key, on a Citus database
-- distributed already.
SELECT place_on_citus('issue_unmerges', 'project', new_table => TRUE);

COMMENT ON TABLE issue_unmerges IS
'Unmerges whose past events are still being moved, one row each until the '
'last chunk: the fingerprints moved to new_issue_id, and the issue ids their '
'events carried (old_issue_id and the issues merged into it then).';

ALTER TABLE issue_unmerges
ADD CONSTRAINT issue_unmerges_project_id_fkey FOREIGN KEY (project_id)
REFERENCES projects (id) ON DELETE CASCADE;
