-- Users affected: per issue, the distinct users of its events, exactly.
--
-- A user is the event's user id, else its email, else its IP address, else
-- its username (the first of user_context's "id", "email", "ip_address",
-- "username" that is there and not empty), written as "<field>:<value>"
-- (so that an id and an email with the same text are two users).
-- issue_users holds one row per (issue, user) with how many of the issue's
-- events carried it; issues.user_count is the number of its rows, kept by
-- the write path (which adds the users it inserts), merge (the union of the
-- issues' users) and unmerge (counted again at its end). Exact rather than
-- a HyperLogLog estimate: it needs no extension (hll is not on every
-- PostgreSQL, nor on Citus's workers by default), a merge adds rows and an
-- unmerge subtracts them exactly (an HLL sketch cannot be split), and its
-- rows cost what the tag store's do: one per (issue, user) pair.
--
-- Upgrading: filled below from the stored events; stop the write path.

ALTER TABLE issues
ADD COLUMN user_count INTEGER NOT NULL DEFAULT 0;

COMMENT ON COLUMN issues.user_count IS
'Distinct users among the issue''s events (issue_users rows): the user id, '
'else the email, else the IP address, else the username.';

CREATE INDEX idx_issues_project_user_count ON issues (project_id, user_count DESC, id DESC);

CREATE TABLE issue_users (
    project_id UUID NOT NULL,
    issue_id UUID NOT NULL,
    user_key TEXT NOT NULL,
    times_seen INTEGER NOT NULL,
    PRIMARY KEY (project_id, issue_id, user_key)
) WITH (fillfactor = 80);

SELECT place_on_citus('issue_users', 'project', new_table => TRUE);

COMMENT ON TABLE issue_users IS
'Per issue, each user of its events ("id:", "email:", "ip_address:" or '
'"username:" and the value) and how many events carried it: '
'issues.user_count is its number of rows. Merge and unmerge move the rows.';

ALTER TABLE issue_users
ADD CONSTRAINT issue_users_issue_fkey FOREIGN KEY (project_id, issue_id)
REFERENCES issues (project_id, id) ON DELETE CASCADE;

WITH keyed AS (
    SELECT
        e.project_id,
        coalesce(i.merged_into, e.issue_id) AS issue_id,
        CASE
            WHEN coalesce(e.user_context ->> 'id', '') <> ''
                THEN 'id:' || (e.user_context ->> 'id')
            WHEN coalesce(e.user_context ->> 'email', '') <> ''
                THEN 'email:' || (e.user_context ->> 'email')
            WHEN coalesce(e.user_context ->> 'ip_address', '') <> ''
                THEN 'ip_address:' || (e.user_context ->> 'ip_address')
            WHEN coalesce(e.user_context ->> 'username', '') <> ''
                THEN 'username:' || (e.user_context ->> 'username')
        END AS user_key
    FROM events AS e
    INNER JOIN issues AS i ON e.project_id = i.project_id AND e.issue_id = i.id
    WHERE jsonb_typeof(e.user_context) = 'object'
)

INSERT INTO issue_users (project_id, issue_id, user_key, times_seen)
SELECT
    project_id,
    issue_id,
    user_key,
    count(*) AS times_seen
FROM keyed
WHERE user_key IS NOT NULL
GROUP BY project_id, issue_id, user_key;

UPDATE issues AS i
SET user_count = n.user_total
FROM (
    SELECT
        project_id,
        issue_id,
        count(*) AS user_total
    FROM issue_users
    GROUP BY project_id, issue_id
) AS n
WHERE i.project_id = n.project_id AND i.id = n.issue_id;
