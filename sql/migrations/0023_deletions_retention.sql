-- Deleting projects, organizations and issues in small steps, and a
-- retention per project.
--
-- A delete only marks the row (deleted_at): from then on the reads, the key
-- lookups and the write path leave it out, and maintenance
-- (mesher.maintenance.run_deletions) removes its rows in small transactions,
-- partition by partition, then the row itself. The marks are the queue: a
-- run that was killed resumes from what is left.

ALTER TABLE organizations
ADD COLUMN deleted_at TIMESTAMPTZ;

ALTER TABLE projects
ADD COLUMN deleted_at TIMESTAMPTZ,
ADD COLUMN retention_days INTEGER
CONSTRAINT projects_retention_days_check CHECK (retention_days >= 1);

-- Migration 0021 adds it too; here so that this file does not depend on it.
ALTER TABLE issues
ADD COLUMN IF NOT EXISTS deleted_at TIMESTAMPTZ;

-- The queue of run_deletions: few rows at any time, so partial indexes.
CREATE INDEX idx_projects_deleted ON projects (deleted_at)
WHERE deleted_at IS NOT NULL;

CREATE INDEX idx_issues_deleted ON issues (project_id, deleted_at)
WHERE deleted_at IS NOT NULL;

COMMENT ON COLUMN organizations.deleted_at IS
'Set by delete_organization: hidden at once, its projects deleted with it; the '
'row goes when its last project''s rows are gone.';
COMMENT ON COLUMN projects.deleted_at IS
'Set by delete_project: hidden from every read and its keys refused at once; '
'maintenance removes its rows in chunks, then the row.';
COMMENT ON COLUMN projects.retention_days IS
'The project''s own retention of events (days), shorter than the global one; NULL: '
'the global retention. Maintenance deletes its older events in chunks.';
