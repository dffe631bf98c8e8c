# Generated from mesher/aio/queries/alert_rules.py by tools/gen_sync.py: edit that file.
"""Alert rules: per-project conditions (sql/queries/alert_rules.sql)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from .._args import count_arg, model_arg, text_arg, uuid_arg
from .._results import found
from ..errors import InvalidInput, translate_errors
from ..limits import MAX_COOLDOWN_MINUTES
from ..models import AlertCondition, AlertRule
from ._common import Conn, in_project, q

__all__ = ["create_alert_rule", "delete_alert_rule", "list_alert_rules", "set_alert_rule_enabled"]


@translate_errors
def create_alert_rule(
    conn: Conn,
    project_id: UUID | str,
    name: str,
    condition: AlertCondition | Mapping[str, Any],
    action: Mapping[str, Any],
    cooldown_minutes: int = 60,
) -> AlertRule:
    """Create an enabled rule. ``condition`` is validated by ``AlertCondition``."""
    if not isinstance(action, Mapping):
        raise InvalidInput("action must be a mapping")
    row = q.alert_rules.create_alert_rule(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        name=text_arg(name, "name", max_length=256),
        condition=Jsonb(model_arg(condition, AlertCondition, "condition").model_dump()),
        action=Jsonb(dict(action)),
        cooldown_minutes=count_arg(
            cooldown_minutes, "cooldown_minutes", minimum=1, maximum=MAX_COOLDOWN_MINUTES
        ),
    )
    return AlertRule.model_validate(row)


@translate_errors
def list_alert_rules(conn: Conn, project_id: UUID | str) -> list[AlertRule]:
    rows = q.alert_rules.list_alert_rules(conn, project_id=uuid_arg(project_id, "project_id"))
    return [AlertRule.model_validate(row) for row in rows]


@translate_errors
def set_alert_rule_enabled(
    conn: Conn, rule_id: UUID | str, enabled: bool, *, project_id: UUID | str | None = None
) -> AlertRule:
    """Enable or disable a rule; with ``project_id``, only a rule of that project."""
    if not isinstance(enabled, bool):
        raise InvalidInput("enabled must be True or False")
    rid = uuid_arg(rule_id, "rule_id")
    update = in_project(
        q.alert_rules.set_alert_rule_enabled,
        q.alert_rules.set_alert_rule_enabled_in_project,
        project_id,
    )
    row = update(conn, id=rid, enabled=enabled)
    return AlertRule.model_validate(found(row, f"alert rule {rule_id}"))


@translate_errors
def delete_alert_rule(
    conn: Conn, rule_id: UUID | str, *, project_id: UUID | str | None = None
) -> int:
    """Delete a rule and its alerts; returns 1, or 0 if there was none (with
    ``project_id``: none in that project)."""
    rid = uuid_arg(rule_id, "rule_id")
    delete = in_project(
        q.alert_rules.delete_alert_rule, q.alert_rules.delete_alert_rule_in_project, project_id
    )
    count: int = delete(conn, id=rid)
    return count
