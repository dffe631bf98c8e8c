-- The tag store and the hourly rollups, kept by the write path (mesher.ingest):
-- what the facets, the tag autocompletion, the sparklines and the dashboards
-- read instead of counting events.
--
-- Every row is a running count. The write path coalesces a batch in Python
-- (one row per key below, with the batch's count, first and last time) and
-- upserts all four tables in one statement after the batch's COPY, each
-- table's rows in key order, so that concurrent batches lock shared rows in
-- the same order and never deadlock (queries/ingest.sql,
-- upsert_tags_and_counts). Counts are history, like issues.event_count: they
-- do not change when maintain moves rows out of events_default or drops
-- expired partitions. The hourly rollups have a retention of their own
-- (maintain's rollup_retention_days, default 400 days); the tag store keeps
-- its rows as long as their issue or project exists.
--
-- Tags are an event's tags, plus, for the Sentry path's events that have
-- them, its environment and release as the tags "environment" and "release"
-- (as in Sentry; the column wins over a tag of the same name).
--
-- Keys and values are COLLATE "C" (byte order): a prefix search is then a
-- range of the primary key, and sorting them needs no locale.
--
-- fillfactor 80: every batch updates rows in place (a count, last_seen), and
-- the room left in each page lets those updates stay on their page without
-- a new index entry (HOT updates).
--
-- Upgrading: the rows are filled below from the events still stored (a full
-- scan of events: on a large table, run it in a quiet hour). Events written
-- by older code between this migration and the new code's start are in
-- events and issues, not here: stop the write path for the upgrade, or accept
-- that gap.

-- Per issue: how many of its events carried each tag value, first and last
-- seen. The primary key serves the facets (an issue's rows, in key order).
CREATE TABLE issue_tag_values (
    project_id UUID NOT NULL,
    issue_id UUID NOT NULL,
    tag_key TEXT COLLATE "C" NOT NULL,
    tag_value TEXT COLLATE "C" NOT NULL,
    times_seen BIGINT NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project_id, issue_id, tag_key, tag_value)
) WITH (fillfactor = 80);

-- Per project: the same counts over all its issues, for autocompletion. The
-- primary key serves both the list of keys (skipping from key to key) and a
-- key's values with a prefix (a range of tag_value).
CREATE TABLE project_tag_values (
    project_id UUID NOT NULL,
    tag_key TEXT COLLATE "C" NOT NULL,
    tag_value TEXT COLLATE "C" NOT NULL,
    times_seen BIGINT NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project_id, tag_key, tag_value)
) WITH (fillfactor = 80);

-- A project's events per UTC hour and level: event_volume and
-- level_breakdown (primary key: a project's hours in a window).
CREATE TABLE project_hourly_counts (
    project_id UUID NOT NULL,
    -- The start of the UTC hour (received_at truncated).
    hour_start TIMESTAMPTZ NOT NULL,
    level TEXT NOT NULL
    CONSTRAINT project_hourly_counts_level_check
    CHECK (level IN ('fatal', 'error', 'warning', 'info', 'debug')),
    event_count INTEGER NOT NULL,
    PRIMARY KEY (project_id, hour_start, level)
) WITH (fillfactor = 80);

-- An issue's events per UTC hour: issue_sparklines (primary key: an issue's
-- hours in a window).
CREATE TABLE issue_hourly_counts (
    project_id UUID NOT NULL,
    issue_id UUID NOT NULL,
    hour_start TIMESTAMPTZ NOT NULL,
    event_count INTEGER NOT NULL,
    PRIMARY KEY (project_id, issue_id, hour_start)
) WITH (fillfactor = 80);

-- On a Citus database distributed already, the new tables are placed before
-- their foreign keys to placed tables exist: Citus allows those only between
-- placed tables. Elsewhere these do nothing (migration 0011), and on a Citus
-- database migrated from scratch after_migrate.sql places them.
SELECT place_on_citus('issue_tag_values', 'project', new_table => TRUE);
SELECT place_on_citus('project_tag_values', 'project', new_table => TRUE);
SELECT place_on_citus('project_hourly_counts', 'project', new_table => TRUE);
SELECT place_on_citus('issue_hourly_counts', 'project', new_table => TRUE);

-- Their rows go with their issue or project.
ALTER TABLE issue_tag_values
ADD CONSTRAINT issue_tag_values_issue_fkey FOREIGN KEY (project_id, issue_id)
REFERENCES issues (project_id, id) ON DELETE CASCADE;
ALTER TABLE project_tag_values
ADD CONSTRAINT project_tag_values_project_id_fkey FOREIGN KEY (project_id)
REFERENCES projects (id) ON DELETE CASCADE;
ALTER TABLE project_hourly_counts
ADD CONSTRAINT project_hourly_counts_project_id_fkey FOREIGN KEY (project_id)
REFERENCES projects (id) ON DELETE CASCADE;
ALTER TABLE issue_hourly_counts
ADD CONSTRAINT issue_hourly_counts_issue_fkey FOREIGN KEY (project_id, issue_id)
REFERENCES issues (project_id, id) ON DELETE CASCADE;

-- maintain: delete the hours past the rollups' retention. A new index entry
-- only when a batch opens a new hour for a project or an issue.
CREATE INDEX idx_project_hourly_counts_hour ON project_hourly_counts (hour_start);
CREATE INDEX idx_issue_hourly_counts_hour ON issue_hourly_counts (hour_start);

-- Fill them from the events already stored (see "Upgrading" above).
INSERT INTO issue_tag_values (
    project_id, issue_id, tag_key, tag_value, times_seen, first_seen, last_seen
)
SELECT
    e.project_id,
    e.issue_id,
    t.tag_key,
    t.tag_value,
    count(*) AS times_seen,
    min(e.received_at) AS first_seen,
    max(e.received_at) AS last_seen
FROM events AS e
-- The tags, with environment and release as tags (the columns win over tags
-- of the same name: the right side of || wins).
CROSS JOIN
    LATERAL jsonb_each_text(
        e.tags || jsonb_strip_nulls(
            jsonb_build_object('environment', e.environment, 'release', e.release)
        )
    ) AS t (tag_key, tag_value)
GROUP BY e.project_id, e.issue_id, t.tag_key, t.tag_value;

INSERT INTO project_tag_values (
    project_id, tag_key, tag_value, times_seen, first_seen, last_seen
)
SELECT
    project_id,
    tag_key,
    tag_value,
    sum(times_seen) AS times_seen,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen
FROM issue_tag_values
GROUP BY project_id, tag_key, tag_value;

INSERT INTO project_hourly_counts (project_id, hour_start, level, event_count)
SELECT
    project_id,
    date_trunc('hour', received_at, 'UTC') AS hour_start,
    level,
    count(*) AS event_count
FROM events
GROUP BY project_id, hour_start, level;

INSERT INTO issue_hourly_counts (project_id, issue_id, hour_start, event_count)
SELECT
    project_id,
    issue_id,
    date_trunc('hour', received_at, 'UTC') AS hour_start,
    count(*) AS event_count
FROM events
GROUP BY project_id, issue_id, hour_start;
