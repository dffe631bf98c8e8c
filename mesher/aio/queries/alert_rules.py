"""Alert rules: per-project conditions (sql/queries/alert_rules.sql)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from ..._args import count_arg, model_arg, text_arg, uuid_arg
from ..._results import found
from ...errors import InvalidInput, translate_errors
from ...limits import MAX_COOLDOWN_MINUTES
from ...models import AlertCondition, AlertRule
from ._common import Conn, q

__all__ = ["create_alert_rule", "delete_alert_rule", "list_alert_rules", "set_alert_rule_enabled"]


@translate_errors
async def create_alert_rule(
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
    row = await q.create_alert_rule(
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
async def list_alert_rules(conn: Conn, project_id: UUID | str) -> list[AlertRule]:
    rows = q.list_alert_rules(conn, project_id=uuid_arg(project_id, "project_id"))
    return [AlertRule.model_validate(row) async for row in rows]


@translate_errors
async def set_alert_rule_enabled(conn: Conn, rule_id: UUID | str, enabled: bool) -> AlertRule:
    if not isinstance(enabled, bool):
        raise InvalidInput("enabled must be True or False")
    row = await q.set_alert_rule_enabled(conn, id=uuid_arg(rule_id, "rule_id"), enabled=enabled)
    return AlertRule.model_validate(found(row, f"alert rule {rule_id}"))


@translate_errors
async def delete_alert_rule(conn: Conn, rule_id: UUID | str) -> int:
    """Delete a rule and its alerts; returns 1, or 0 if there was none."""
    count: int = await q.delete_alert_rule(conn, id=uuid_arg(rule_id, "rule_id"))
    return count
