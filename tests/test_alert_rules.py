"""Alert rules (sql/queries/alert_rules.sql): creating, listing, enabling,
deleting, and the conditions and cooldowns they accept."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mesher import queries as q
from mesher.errors import InvalidInput, NotFound
from mesher.limits import MAX_COOLDOWN_MINUTES
from mesher.models import AlertCondition

from .helpers import EMAIL, MISSING, Conn, not_found_message, threshold

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

pytest_plugins = ["tests.entities"]


def test_rule_management(conn: Conn, project_id: uuid.UUID) -> None:
    rule = q.create_alert_rule(conn, project_id, "Spike", threshold(10), EMAIL)
    assert (rule.enabled, rule.cooldown_minutes, rule.last_fired_at) == (True, 60, None)
    assert rule.condition == AlertCondition(
        condition_type="threshold", threshold=10, window_minutes=5
    )
    assert rule.action == EMAIL
    other = q.create_alert_rule(
        conn, project_id, "New", AlertCondition(condition_type="new_issue"), {}, cooldown_minutes=5
    )
    assert [r.id for r in q.list_alert_rules(conn, project_id)] == [rule.id, other.id]
    assert q.set_alert_rule_enabled(conn, rule.id, False).enabled is False
    assert q.delete_alert_rule(conn, other.id) == 1
    assert q.delete_alert_rule(conn, other.id) == 0
    assert [r.id for r in q.list_alert_rules(conn, project_id)] == [rule.id]
    with pytest.raises(NotFound):
        q.set_alert_rule_enabled(conn, MISSING, True)


def test_rule_helpers_scoped_to_a_project(
    conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID
) -> None:
    rule = q.create_alert_rule(conn, project_id, "Spike", threshold(10), EMAIL)
    theirs = q.create_alert_rule(conn, other_project_id, "Theirs", threshold(1), {})

    # another project's rule: NotFound worded as for a missing one; not disabled
    foreign = not_found_message(
        lambda: q.set_alert_rule_enabled(conn, rule.id, False, project_id=other_project_id)
    )
    missing = not_found_message(
        lambda: q.set_alert_rule_enabled(conn, MISSING, False, project_id=project_id)
    )
    assert foreign == missing.replace(str(MISSING), str(rule.id))
    assert foreign == f"alert rule {rule.id} not found"
    assert q.list_alert_rules(conn, project_id) == [rule]
    # ... and not deleted: 0, as for a rule that does not exist
    assert q.delete_alert_rule(conn, rule.id, project_id=other_project_id) == 0
    assert q.delete_alert_rule(conn, MISSING, project_id=project_id) == 0
    assert q.list_alert_rules(conn, project_id) == [rule]
    for call in (
        lambda: q.set_alert_rule_enabled(conn, rule.id, False, project_id="not-a-uuid"),
        lambda: q.delete_alert_rule(conn, rule.id, project_id=42),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidInput, match="project_id must be a UUID"):
            call()
    assert q.list_alert_rules(conn, project_id) == [rule]

    # its own project: what the unscoped call does
    with conn.transaction(force_rollback=True):
        scoped = q.set_alert_rule_enabled(conn, rule.id, False, project_id=str(project_id))
    assert scoped == q.set_alert_rule_enabled(conn, rule.id, False)
    assert scoped.enabled is False and scoped.model_copy(update={"enabled": True}) == rule
    assert q.delete_alert_rule(conn, rule.id, project_id=project_id) == 1
    assert q.delete_alert_rule(conn, rule.id, project_id=project_id) == 0
    assert q.list_alert_rules(conn, project_id) == []
    assert q.list_alert_rules(conn, other_project_id) == [theirs]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"condition_type": "sometimes"}, "condition: condition_type"),
        (threshold(0), "condition: threshold: Input should be greater than 0"),
        (threshold(5, window=-1), "condition: window_minutes"),
        ("threshold", "condition: must be a mapping"),
    ],
)
def test_bad_conditions(conn: Conn, project_id: uuid.UUID, condition: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        q.create_alert_rule(conn, project_id, "r", condition, {})
    assert q.list_alert_rules(conn, project_id) == []


def test_rule_for_missing_project(conn: Conn) -> None:
    with pytest.raises(NotFound, match="project not found"):
        q.create_alert_rule(conn, MISSING, "r", threshold(1), {})


def test_cooldown_limits(conn: Conn, project_id: uuid.UUID) -> None:
    longest = q.create_alert_rule(
        conn, project_id, "Yearly", threshold(1), {}, cooldown_minutes=MAX_COOLDOWN_MINUTES
    )
    assert longest.cooldown_minutes == MAX_COOLDOWN_MINUTES == 525_600
    assert q.create_alert_rule(conn, project_id, "Eager", threshold(1), {}, 1).cooldown_minutes == 1
    for bad in (0, -1, MAX_COOLDOWN_MINUTES + 1):
        with pytest.raises(InvalidInput, match="cooldown_minutes must be between 1 and 525600"):
            q.create_alert_rule(conn, project_id, "r", threshold(1), {}, cooldown_minutes=bad)
    for wrong_type in ("60", 60.0, True, None):
        with pytest.raises(InvalidInput, match="cooldown_minutes must be an integer"):
            q.create_alert_rule(conn, project_id, "r", threshold(1), {}, wrong_type)  # type: ignore[arg-type]
    assert [r.name for r in q.list_alert_rules(conn, project_id)] == ["Yearly", "Eager"]


@pytest.mark.parametrize("enabled", [1, 0, "true", None])
def test_enabled_must_be_a_bool(conn: Conn, project_id: uuid.UUID, enabled: object) -> None:
    rule = q.create_alert_rule(conn, project_id, "Spike", threshold(1), {})
    with pytest.raises(InvalidInput, match="enabled must be True or False"):
        q.set_alert_rule_enabled(conn, rule.id, enabled)  # type: ignore[arg-type]
    assert q.list_alert_rules(conn, project_id)[0].enabled is True
