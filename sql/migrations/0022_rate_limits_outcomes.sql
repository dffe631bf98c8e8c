-- What an ingest server (mesher.server) needs besides the write path: each
-- project's rate limit, and the outcomes of what SDKs sent, counted as
-- Sentry counts them.
--
-- project_rate_limits: one row per limited project; no row, no limit. The
-- server reads them all at most every 10 s (list_project_rate_limits), never
-- per request.
--
-- project_outcomes: per project, UTC hour, data category, outcome and
-- reason, how many items. The server counts in memory and adds its counts
-- every few seconds in one statement per project (record_outcomes), never a
-- write per event; counts not yet added when the server is killed are lost
-- (the events are not: they are committed before they are acknowledged).

CREATE TABLE project_rate_limits (
    project_id UUID NOT NULL PRIMARY KEY,
    events_per_minute INTEGER NOT NULL
    CONSTRAINT project_rate_limits_events_per_minute_check
    CHECK (events_per_minute >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- See migration 0012: placed before its foreign key, on a Citus database
-- distributed already.
SELECT place_on_citus('project_rate_limits', 'project', new_table => TRUE);

ALTER TABLE project_rate_limits
ADD CONSTRAINT project_rate_limits_project_id_fkey FOREIGN KEY (project_id)
REFERENCES projects (id) ON DELETE CASCADE;

COMMENT ON TABLE project_rate_limits IS
'A project''s limit on stored events per minute (no row: unlimited); '
'mesher.server caches them and refreshes them at least every 10 s.';

CREATE TABLE project_outcomes (
    project_id UUID NOT NULL,
    hour_start TIMESTAMPTZ NOT NULL,
    category TEXT NOT NULL
    CONSTRAINT project_outcomes_category_check
    CHECK (char_length(category) BETWEEN 1 AND 64),
    outcome TEXT NOT NULL
    CONSTRAINT project_outcomes_outcome_check
    CHECK (outcome IN ('accepted', 'filtered', 'rate_limited', 'invalid', 'client_discard')),
    reason TEXT NOT NULL DEFAULT ''
    CONSTRAINT project_outcomes_reason_check
    CHECK (char_length(reason) <= 200),
    quantity BIGINT NOT NULL
    CONSTRAINT project_outcomes_quantity_check
    CHECK (quantity >= 0),
    PRIMARY KEY (project_id, hour_start, category, outcome, reason)
);

SELECT place_on_citus('project_outcomes', 'project', new_table => TRUE);

ALTER TABLE project_outcomes
ADD CONSTRAINT project_outcomes_project_id_fkey FOREIGN KEY (project_id)
REFERENCES projects (id) ON DELETE CASCADE;

COMMENT ON TABLE project_outcomes IS
'What happened to what SDKs sent, per project, UTC hour, data category '
'(error, transaction, session, attachment, ...), outcome and reason: '
'accepted, filtered (not stored: a SkipReason code), rate_limited, invalid '
'(refused: a reason code) and client_discard (the SDKs'' client reports).';
