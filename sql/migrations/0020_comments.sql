-- Why each table exists, and what its less obvious columns mean, as COMMENT
-- ON: in the catalog they reach psql's \d+ and sql/schema.sql. The comments
-- of functions live in their files under sql/functions/. A later change to a
-- table updates its comment in the migration that makes the change.

-- Tenancy ---------------------------------------------------------------------

COMMENT ON TABLE organizations IS
'Tenants: a project belongs to one organization; users join it through org_memberships.';

COMMENT ON TABLE users IS
'People who log in. Emails are unique regardless of case (users_email_lower_key): '
'authenticate_user matches on lower(email).';
COMMENT ON COLUMN users.password_hash IS
'bcrypt (cost 12) from pgcrypto''s crypt(); never selected by the helpers.';

COMMENT ON TABLE org_memberships IS
'A user''s role in an organization.';

COMMENT ON TABLE sessions IS
'Login sessions. Only a digest of each token is stored: the raw token is handed out '
'once by create_session, so a dump of this table opens nothing.';
COMMENT ON COLUMN sessions.token_hash IS
'SHA-256 of the session token.';

COMMENT ON TABLE projects IS
'What SDKs send events to. Every table of a project''s rows starts its keys with '
'project_id: on Citus they are distributed by it and co-located with issues.';
COMMENT ON COLUMN projects.dsn_id IS
'The integer that names the project in a Sentry DSN (https://<key>@<host>/<dsn_id>): '
'the SDKs refuse anything else there.';

COMMENT ON TABLE api_keys IS
'The keys SDKs authenticate with, several per project: ''mshr_'' and 48 hex characters. '
'idx_api_keys_value serves ingestion, on live keys only.';
COMMENT ON COLUMN api_keys.revoked_at IS
'Set when the key was revoked; a revoked key authenticates nothing.';

-- Issues and events -----------------------------------------------------------

COMMENT ON TABLE issues IS
'Events grouped by (project, fingerprint), with running counts kept by the write path.';
COMMENT ON COLUMN issues.level IS
'The most severe level of its events (severity_rank).';
COMMENT ON COLUMN issues.event_count IS
'Events received, ever: it keeps counting the events of dropped partitions.';
COMMENT ON COLUMN issues.first_release IS
'The first release the issue was seen in (Sentry path), so that "resolved in the '
'next release" can be built on top; last_release the latest.';

COMMENT ON TABLE events IS
'One row per received event, partitioned by UTC day of received_at: maintenance makes '
'and drops the daily partitions events_YYYYMMDD. The primary key holds received_at, '
'as a partitioned table''s must.';
COMMENT ON COLUMN events.received_at IS
'When Mesher stored the event: the partition key.';
COMMENT ON COLUMN events.client_event_id IS
'The SDK''s event_id. This column and the ones after it are NULL for events from '
'the native path (mesher.ingest): they come from the Sentry path (mesher.sentry).';
COMMENT ON COLUMN events.occurred_at IS
'When the SDK says the event happened.';
COMMENT ON COLUMN events.handled IS
'False when any exception''s mechanism says it was not handled (a crash).';
COMMENT ON COLUMN events.exceptions IS
'The whole exception chain, in Sentry''s order (the main exception last), each with '
'its frames; exception and stacktrace keep the main one.';
COMMENT ON COLUMN events.data IS
'The rest of a Sentry event: threads, contexts, request, modules, sdk, logentry, '
'_meta (what trimming cut) and any field Mesher does not know.';

COMMENT ON TABLE events_default IS
'Events whose day has no partition yet land here instead of being refused; '
'maintenance moves them into their day''s partition.';

-- Alerting --------------------------------------------------------------------

COMMENT ON TABLE alert_rules IS
'Per-project conditions evaluated against incoming events (fire_threshold_rules).';
COMMENT ON COLUMN alert_rules.cooldown_minutes IS
'A rule fires at most once per cooldown, counted from last_fired_at.';

COMMENT ON TABLE alerts IS
'The history of fired alerts.';
COMMENT ON COLUMN alerts.condition_snapshot IS
'The rule''s condition when it fired: the rule may change or go later.';

-- Safe retries of the write path ----------------------------------------------

COMMENT ON TABLE ingest_batches IS
'One row per ingest call made with an idempotency key: a retried call (same project '
'and key) gets the recorded result instead of writing again. maintain deletes the '
'rows past the idempotency window.';
COMMENT ON COLUMN ingest_batches.request_digest IS
'SHA-256 of the payloads: catches a key reused for other events.';

COMMENT ON TABLE sentry_event_ids IS
'SDKs retry, so an event may arrive twice: one row per (project, SDK event_id) stored, '
'with what the write path did with it, so that a second arrival stores and counts '
'nothing and gets the first result. maintain deletes the rows past the window.';

-- The tag store and the rollups: running counts kept by the write path --------

COMMENT ON TABLE issue_tag_values IS
'Tag store, per issue: how many of its events carried each tag value, first and last '
'seen (the facets). Running counts, like issues.event_count; deleted with their issue '
'by a trigger on issues (by a foreign key on Citus). fillfactor 80: every batch '
'updates rows in place, and the room keeps those updates on their page (HOT).';
COMMENT ON COLUMN issue_tag_values.tag_key IS
'An event''s tag, or its environment or release column (the column wins over a tag '
'of the same name). Keys and values are COLLATE "C": a prefix is a range of the '
'primary key, and sorting needs no locale.';

COMMENT ON TABLE project_tag_values IS
'Tag store, per project: the counts of issue_tag_values over all its issues, for '
'autocompletion (the list of keys, and a key''s values by prefix).';

COMMENT ON TABLE project_hourly_counts IS
'A project''s events per UTC hour and level (event_volume, level_breakdown). Running '
'counts; maintain deletes the hours past the rollup retention.';
COMMENT ON COLUMN project_hourly_counts.hour_start IS
'The start of the UTC hour (received_at truncated).';

COMMENT ON TABLE issue_hourly_counts IS
'An issue''s events per UTC hour (issue_sparklines). Running counts, deleted with '
'their issue as issue_tag_values; maintain deletes the hours past the rollup retention.';

COMMENT ON TABLE project_issue_counts IS
'A project''s issues per status, kept by the write path and set_issue_status, so that '
'count_issues_by_status reads three rows instead of counting issues.';

COMMENT ON TABLE event_tags IS
'A project''s events by tag pair, newest first: what filter_events_by_tags walks, so '
'that its cost follows the page asked for, not the number of matches. One row per '
'batch, pair and UTC day, partitioned like events and dropped with them. No foreign '
'key: its check per row doubled the cost of writing these rows.';
COMMENT ON COLUMN event_tags.event_ids IS
'The batch''s events of this pair that day, newest first; the first is the key''s '
'event_id, and received_ats holds their times in the same order.';

COMMENT ON TABLE event_tags_default IS
'Rows whose day has no partition yet, as events_default for events.';

-- The migration history -------------------------------------------------------

COMMENT ON TABLE schema_migrations IS
'The numbered files of sql/migrations applied, with a SHA-256 of each: an applied file '
'is immutable. Made by before_migrate.sql.';
