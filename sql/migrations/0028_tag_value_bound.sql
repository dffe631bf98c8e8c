-- High-cardinality tags (issue 26): a bound per project and tag key on the
-- values that get rows of their own in the tag store.
--
-- Why: the tag store kept a row per value at three levels (event_tags,
-- issue_tag_values, project_tag_values), so a tag whose values never repeat
-- (a request id, a URL with ids in it) cost rows, bytes and write time per
-- event: at 200,000 such events, 247 MB of tag store for 99 MB of events.
--
-- The rule: a value is *tracked* when it has its row in project_tag_values.
-- A new value gets that row (and its rows in issue_tag_values and
-- event_tags) only while its key has fewer than value_bound tracked values
-- in the project; once it has that many, the key's new values get no row of
-- their own anywhere. A tracked value keeps exact rows at every level, as
-- before. What the untracked values' events add is counted per key: per
-- project in project_tag_keys.untracked_events, per issue in one row of
-- issue_tag_values whose tag_value is repeat('~', 201) (longer than any
-- value: MAX_TAG_VALUE is 200), so that merge and deletion move and delete it
-- with the issue's other rows. Reads that need an untracked value's events
-- (filter_events_by_tags, search) find them through the events' GIN index
-- (idx_events_tags), within the retention.
--
-- The write path locks its batch's keys' rows here (queries/ingest.sql,
-- lock_tag_keys) before its last statement, so that statement sees every
-- row a concurrent batch added: a value has a project row exactly when every
-- one of its events has its rows.
--
-- value_bound: 1,000 by default; an operator may change it per key
-- (UPDATE project_tag_keys SET value_bound = ... WHERE ...): it applies to
-- values first seen from then on. A key that has refused a value
-- (untracked_events > 0) admits no new value whatever its bound: a refused
-- value that came back must not get rows its earlier events lack.

CREATE TABLE project_tag_keys (
    project_id UUID NOT NULL,
    tag_key TEXT COLLATE "C" NOT NULL,
    value_bound INTEGER NOT NULL DEFAULT 1000
    CONSTRAINT project_tag_keys_value_bound_check CHECK (value_bound >= 0),
    tracked_values INTEGER NOT NULL DEFAULT 0,
    untracked_events BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, tag_key)
) WITH (fillfactor = 80);

SELECT place_on_citus('project_tag_keys', 'project', new_table => TRUE);

ALTER TABLE project_tag_keys
ADD CONSTRAINT project_tag_keys_project_id_fkey FOREIGN KEY (project_id)
REFERENCES projects (id) ON DELETE CASCADE;

COMMENT ON TABLE project_tag_keys IS
'Per project and tag key: how many values have rows of their own in the tag '
'store (tracked_values, at most value_bound, then no new value gets one), and '
'how many events carried a value without (untracked_events).';

-- Issue search by tag value, starting from the tag (issue 27): a value's
-- issues as a range of this index.
CREATE INDEX idx_issue_tag_values_tag
ON issue_tag_values (project_id, tag_key, tag_value, issue_id);

-- Every key stored so far, with its values, all tracked.
INSERT INTO project_tag_keys (project_id, tag_key, tracked_values)
SELECT
    project_id,
    tag_key,
    count(*) AS tracked_values
FROM project_tag_values
GROUP BY project_id, tag_key;
