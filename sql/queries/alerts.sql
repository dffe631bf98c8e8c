-- name: fire_threshold_rules(project_id)
-- Fires every enabled threshold rule of a project whose event count in its
-- window reaches its threshold and whose cooldown has passed: records the
-- alert and sets last_fired_at in this one statement. The rule rows are
-- locked (SKIP LOCKED), so two evaluators never fire the same rule twice:
-- the second skips a rule being fired, or sees its new last_fired_at.
-- Rules: idx_alert_rules_project; counts: idx_events_project_received.
-- Every table is filtered by the project_id parameter itself (not through a
-- join), which is what lets Citus route the whole statement to one shard.
WITH due AS (
    SELECT
        r.id,
        r.project_id,
        r.condition_json,
        (r.condition_json ->> 'threshold')::INTEGER AS threshold,
        (r.condition_json ->> 'window_minutes')::INTEGER AS window_minutes
    FROM alert_rules AS r
    WHERE
        r.project_id = :project_id
        AND r.enabled
        AND r.condition_json ->> 'condition_type' = 'threshold'
        AND (
            r.last_fired_at IS NULL
            OR r.last_fired_at <= now() - make_interval(mins => r.cooldown_minutes)
        )
    FOR UPDATE OF r SKIP LOCKED
),

counted AS (
    SELECT
        due.*,
        (
            SELECT count(*)
            FROM events AS e
            WHERE
                e.project_id = :project_id
                AND e.received_at >= now() - make_interval(mins => due.window_minutes)
        ) AS event_count
    FROM due
),

fired AS (
    UPDATE alert_rules AS r
    SET last_fired_at = now()
    FROM counted
    WHERE
        r.project_id = :project_id
        AND r.id = counted.id
        AND counted.event_count >= counted.threshold
    RETURNING
        r.id, r.project_id, counted.condition_json, counted.event_count, counted.window_minutes
)

INSERT INTO alerts (rule_id, project_id, message, condition_snapshot)
SELECT
    id AS rule_id,
    project_id,
    event_count || ' events in the last ' || window_minutes || ' minutes' AS message,
    condition_json AS condition_snapshot
FROM fired
RETURNING
    id,
    rule_id,
    project_id,
    status,
    message,
    condition_snapshot,
    triggered_at,
    acknowledged_at,
    resolved_at;

-- name: fire_issue_rules(project_id, condition_type, issue_ids)
-- Fires each enabled new_issue or regression rule of a project whose cooldown
-- has passed, once for the given issues (those the write path reported new,
-- or regressed); same single-statement locking as fire_threshold_rules.
-- As there, every table is filtered by the project_id parameter itself, so
-- that Citus routes the statement to one shard.
WITH due AS (
    SELECT
        r.id,
        r.project_id,
        r.condition_json
    FROM alert_rules AS r
    WHERE
        r.project_id = :project_id
        AND r.enabled
        AND r.condition_json ->> 'condition_type' = :condition_type
        AND cardinality(cast(:issue_ids AS UUID[])) > 0
        AND (
            r.last_fired_at IS NULL
            OR r.last_fired_at <= now() - make_interval(mins => r.cooldown_minutes)
        )
    FOR UPDATE OF r SKIP LOCKED
),

fired AS (
    UPDATE alert_rules AS r
    SET last_fired_at = now()
    FROM due
    WHERE r.project_id = :project_id AND r.id = due.id
    RETURNING r.id, r.project_id, due.condition_json
)

INSERT INTO alerts (rule_id, project_id, message, condition_snapshot)
SELECT
    fired.id AS rule_id,
    fired.project_id,
    (
        SELECT
            CASE :condition_type WHEN 'new_issue' THEN 'new issue: ' ELSE 'regression: ' END
            || string_agg(i.title, '; ' ORDER BY i.title)
        FROM issues AS i
        WHERE i.project_id = :project_id AND i.id = any(cast(:issue_ids AS UUID[]))
    ) AS message,
    fired.condition_json AS condition_snapshot
FROM fired
RETURNING
    id,
    rule_id,
    project_id,
    status,
    message,
    condition_snapshot,
    triggered_at,
    acknowledged_at,
    resolved_at;

-- name: acknowledge_alert(id)^
-- Moves an active alert to acknowledged (primary key); none if the alert is
-- missing or not active.
UPDATE alerts
SET status = 'acknowledged', acknowledged_at = now()
WHERE id = :id AND status = 'active'
RETURNING
    id,
    rule_id,
    project_id,
    status,
    message,
    condition_snapshot,
    triggered_at,
    acknowledged_at,
    resolved_at;

-- name: acknowledge_alert_in_project(project_id, id)^
-- acknowledge_alert, project-scoped (single-shard on Citus): none if the
-- alert is missing, of another project, or not active. Primary key
-- (alerts_pkey).
UPDATE alerts
SET status = 'acknowledged', acknowledged_at = now()
WHERE project_id = :project_id AND id = :id AND status = 'active'
RETURNING
    id,
    rule_id,
    project_id,
    status,
    message,
    condition_snapshot,
    triggered_at,
    acknowledged_at,
    resolved_at;

-- name: resolve_alert(id)^
-- Moves an active or acknowledged alert to resolved; none if the alert is
-- missing or already resolved.
UPDATE alerts
SET status = 'resolved', resolved_at = now()
WHERE id = :id AND status IN ('active', 'acknowledged')
RETURNING
    id,
    rule_id,
    project_id,
    status,
    message,
    condition_snapshot,
    triggered_at,
    acknowledged_at,
    resolved_at;

-- name: resolve_alert_in_project(project_id, id)^
-- resolve_alert, project-scoped (single-shard on Citus): none if the alert
-- is missing, of another project, or already resolved. Primary key
-- (alerts_pkey).
UPDATE alerts
SET status = 'resolved', resolved_at = now()
WHERE project_id = :project_id AND id = :id AND status IN ('active', 'acknowledged')
RETURNING
    id,
    rule_id,
    project_id,
    status,
    message,
    condition_snapshot,
    triggered_at,
    acknowledged_at,
    resolved_at;

-- name: get_alert(id)^
-- One alert by id (primary key).
SELECT
    id,
    rule_id,
    project_id,
    status,
    message,
    condition_snapshot,
    triggered_at,
    acknowledged_at,
    resolved_at
FROM alerts
WHERE id = :id;

-- name: get_alert_in_project(project_id, id)^
-- One alert by id, only if it belongs to the project: the project-scoped
-- (single-shard on Citus) variant of get_alert. Primary key (alerts_pkey).
SELECT
    id,
    rule_id,
    project_id,
    status,
    message,
    condition_snapshot,
    triggered_at,
    acknowledged_at,
    resolved_at
FROM alerts
WHERE project_id = :project_id AND id = :id;

-- name: list_alerts(project_id, status, page_size)
-- A project's alerts, newest first, optionally of one status
-- (idx_alerts_project_triggered).
SELECT
    id,
    rule_id,
    project_id,
    status,
    message,
    condition_snapshot,
    triggered_at,
    acknowledged_at,
    resolved_at
FROM alerts
WHERE project_id = :project_id AND (cast(:status AS TEXT) IS NULL OR status = :status)
ORDER BY triggered_at DESC, id DESC
LIMIT :page_size;
