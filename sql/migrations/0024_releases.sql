-- Releases, and issues resolved in a release.
--
-- releases: each release a project has seen, with its first and last event
-- and its event count, kept by the write path. Releases are ordered by the
-- time they were first seen in the project (first_seen): that order decides
-- which releases are "after" another when an issue was resolved in one.
--
-- issue_releases: per issue, release and environment ('' for none), its
-- events' first and last time and count, kept by the write path and moved
-- with the events by merge and unmerge, like issue_tag_values.
--
-- issues.resolved_after and issues.resolved_in_release: how an issue was
-- resolved (resolve_issue's in_release). resolved_after ("next"): an event of
-- a release first seen after that time reopens it; resolved_in_release (a
-- version): an event of that release, or of one first seen after it, does.
-- Events of other releases, and events without a release, do not. Both NULL
-- on a resolved issue: any event reopens it. Cleared by any status change.
--
-- Upgrading: both tables are filled below from the events stored (a scan of
-- events); stop the write path for the upgrade.

ALTER TABLE issues
ADD COLUMN resolved_after TIMESTAMPTZ,
ADD COLUMN resolved_in_release TEXT;

COMMENT ON COLUMN issues.resolved_after IS
'Resolved "in the next release": an event of a release first seen after this '
'time reopens the issue; no other event does.';
COMMENT ON COLUMN issues.resolved_in_release IS
'Resolved in this release: an event of it, or of a release first seen after '
'it, reopens the issue; no other event does.';

-- The issues first seen in a release (list_releases counts them).
CREATE INDEX idx_issues_project_first_release ON issues (project_id, first_release)
WHERE first_release IS NOT NULL;

CREATE TABLE releases (
    project_id UUID NOT NULL,
    release TEXT NOT NULL,  -- noqa: RF04
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    event_count BIGINT NOT NULL,
    PRIMARY KEY (project_id, release)
) WITH (fillfactor = 80);

-- See migration 0012: placed before its foreign key, on a Citus database
-- distributed already.
SELECT place_on_citus('releases', 'project', new_table => TRUE);

COMMENT ON TABLE releases IS
'The releases a project has seen, in the order they were first seen '
'(first_seen), with their events'' count and last time: kept by the write path.';

CREATE INDEX idx_releases_project_first_seen
ON releases (project_id, first_seen DESC, release DESC);

ALTER TABLE releases
ADD CONSTRAINT releases_project_id_fkey FOREIGN KEY (project_id)
REFERENCES projects (id) ON DELETE CASCADE;

CREATE TABLE issue_releases (
    project_id UUID NOT NULL,
    issue_id UUID NOT NULL,
    release TEXT NOT NULL,  -- noqa: RF04
    environment TEXT NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    event_count BIGINT NOT NULL,
    PRIMARY KEY (project_id, issue_id, release, environment)
) WITH (fillfactor = 80);

SELECT place_on_citus('issue_releases', 'project', new_table => TRUE);

COMMENT ON TABLE issue_releases IS
'Per issue, release and environment ('''' when the events had none): first and '
'last seen and the events'' count. Kept by the write path; merge and unmerge '
'move the rows with the events.';

ALTER TABLE issue_releases
ADD CONSTRAINT issue_releases_issue_fkey FOREIGN KEY (project_id, issue_id)
REFERENCES issues (project_id, id) ON DELETE CASCADE;

INSERT INTO releases (project_id, release, first_seen, last_seen, event_count)
SELECT
    project_id,
    release,
    min(received_at) AS first_seen,
    max(received_at) AS last_seen,
    count(*) AS event_count
FROM events
WHERE release IS NOT NULL
GROUP BY project_id, release;

INSERT INTO issue_releases (
    project_id, issue_id, release, environment, first_seen, last_seen, event_count
)
SELECT
    e.project_id,
    coalesce(i.merged_into, e.issue_id) AS issue_id,
    e.release,
    coalesce(e.environment, '') AS environment,
    min(e.received_at) AS first_seen,
    max(e.received_at) AS last_seen,
    count(*) AS event_count
FROM events AS e
INNER JOIN issues AS i ON e.project_id = i.project_id AND e.issue_id = i.id
WHERE e.release IS NOT NULL
GROUP BY e.project_id, coalesce(i.merged_into, e.issue_id), e.release, coalesce(e.environment, '');
