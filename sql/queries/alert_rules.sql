-- name: create_alert_rule(project_id, name, condition, action, cooldown_minutes)^
-- Creates an enabled rule; returns it. An unknown project violates
-- alert_rules_project_id_fkey.
INSERT INTO alert_rules (project_id, name, condition_json, action_json, cooldown_minutes)
VALUES (:project_id, :name, :condition, :action, :cooldown_minutes)
RETURNING
    id,
    project_id,
    name,
    condition_json AS condition,
    action_json AS action,
    enabled,
    cooldown_minutes,
    last_fired_at,
    created_at;

-- name: list_alert_rules(project_id)
-- A project's rules, enabled or not, oldest first (the project_id foreign
-- key has no full index; idx_alert_rules_project covers the enabled ones).
SELECT
    id,
    project_id,
    name,
    condition_json AS condition,
    action_json AS action,
    enabled,
    cooldown_minutes,
    last_fired_at,
    created_at
FROM alert_rules
WHERE project_id = :project_id
ORDER BY created_at, id;

-- name: set_alert_rule_enabled(id, enabled)^
-- Enables or disables a rule (primary key); returns it, none if missing.
UPDATE alert_rules
SET enabled = :enabled
WHERE id = :id
RETURNING
    id,
    project_id,
    name,
    condition_json AS condition,
    action_json AS action,
    enabled,
    cooldown_minutes,
    last_fired_at,
    created_at;

-- name: set_alert_rule_enabled_in_project(project_id, id, enabled)^
-- set_alert_rule_enabled, project-scoped (single-shard on Citus): none if the
-- rule does not exist or belongs to another project. Primary key
-- (alert_rules_pkey).
UPDATE alert_rules
SET enabled = :enabled
WHERE project_id = :project_id AND id = :id
RETURNING
    id,
    project_id,
    name,
    condition_json AS condition,
    action_json AS action,
    enabled,
    cooldown_minutes,
    last_fired_at,
    created_at;

-- name: delete_alert_rule(id)!
-- Deletes a rule and, by cascade, its alerts; returns the rows deleted.
DELETE FROM alert_rules
WHERE id = :id;

-- name: delete_alert_rule_in_project(project_id, id)!
-- delete_alert_rule, project-scoped (single-shard on Citus): deletes nothing
-- for a rule of another project. Primary key (alert_rules_pkey).
DELETE FROM alert_rules
WHERE project_id = :project_id AND id = :id;
