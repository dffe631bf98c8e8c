"""Alerts (sql/queries/alerts.sql): firing rules, cooldowns, concurrent
evaluators, the alert lifecycle. Rule management is in test_alert_rules.py."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest

from mesher import queries as q
from mesher.errors import Conflict, InvalidInput, NotFound
from mesher.ingest import ingest_event, ingest_events
from mesher.models import AlertStatus

from .helpers import EMAIL, MISSING, Conn, not_found_message, run_concurrently, threshold

pytest_plugins = ["tests.entities"]

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)


def test_threshold_fires_once_per_cooldown(conn: Conn, project_id: uuid.UUID) -> None:
    rule = q.create_alert_rule(conn, project_id, "Spike", threshold(3), EMAIL, cooldown_minutes=30)
    q.create_alert_rule(conn, project_id, "New", {"condition_type": "new_issue"}, {})
    ingest_events(conn, project_id, [{"message": "a"}] * 2)
    assert q.fire_threshold_rules(conn, project_id) == []  # 2 < 3
    ingest_event(conn, project_id, {"message": "a"})
    (alert,) = q.fire_threshold_rules(conn, project_id)
    assert (alert.rule_id, alert.status, alert.project_id) == (
        rule.id,
        AlertStatus.ACTIVE,
        project_id,
    )
    assert alert.message == "3 events in the last 5 minutes"
    assert alert.condition_snapshot.threshold == 3
    fired_at = q.list_alert_rules(conn, project_id)[0].last_fired_at
    assert fired_at is not None
    ingest_events(conn, project_id, [{"message": "a"}] * 5)
    assert q.fire_threshold_rules(conn, project_id) == []  # cooling down
    conn.execute("UPDATE alert_rules SET last_fired_at = now() - interval '31 minutes'")
    assert len(q.fire_threshold_rules(conn, project_id)) == 1
    q.set_alert_rule_enabled(conn, rule.id, False)
    conn.execute("UPDATE alert_rules SET last_fired_at = NULL")
    assert q.fire_threshold_rules(conn, project_id) == []  # disabled


def test_window_excludes_older_events(conn: Conn, project_id: uuid.UUID) -> None:
    q.create_alert_rule(conn, project_id, "Spike", threshold(2, window=10), {})
    done = ingest_events(conn, project_id, [{"message": "a"}] * 2)
    (received_at,) = conn.execute(  # a value, not an expression: Citus refuses
        "SELECT received_at FROM events WHERE id = %s",
        (done[0].event_id,),  # that in UPDATEs
    ).fetchone()
    conn.execute(
        "UPDATE events SET received_at = %s WHERE id = %s",
        (received_at - dt.timedelta(minutes=11), done[0].event_id),
    )
    assert q.fire_threshold_rules(conn, project_id) == []


def test_two_evaluators_never_fire_a_rule_twice(app_url: str, project_id: uuid.UUID) -> None:
    with psycopg.connect(app_url) as conn:
        rules = [
            q.create_alert_rule(conn, project_id, f"r{i}", threshold(1), {}) for i in range(20)
        ]
        ingest_event(conn, project_id, {"message": "a"})
        conn.commit()

    def evaluate(_: int) -> list[uuid.UUID]:
        with psycopg.connect(app_url) as conn, conn.transaction():
            return [a.rule_id for a in q.fire_threshold_rules(conn, project_id)]

    fired = [rule_id for batch in run_concurrently(4, evaluate) for rule_id in batch]
    assert sorted(fired) == sorted(r.id for r in rules)  # each exactly once
    with psycopg.connect(app_url) as conn:
        assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (20,)


def test_new_issue_and_regression_rules(conn: Conn, project_id: uuid.UUID) -> None:
    new_rule = q.create_alert_rule(conn, project_id, "New", {"condition_type": "new_issue"}, {})
    reg_rule = q.create_alert_rule(conn, project_id, "Back", {"condition_type": "regression"}, {})
    first = ingest_events(conn, project_id, [{"message": "disk full"}, {"message": "oom"}])
    (alert,) = q.fire_issue_rules(conn, project_id, first)
    assert alert.rule_id == new_rule.id
    assert alert.message == "new issue: disk full; oom"
    assert q.fire_issue_rules(conn, project_id, []) == []
    q.resolve_issue(conn, first[0].issue_id)
    again = ingest_event(conn, project_id, {"message": "disk full"})
    (alert,) = q.fire_issue_rules(conn, project_id, [again])
    assert (alert.rule_id, alert.message) == (reg_rule.id, "regression: disk full")
    # cooldown: a second new issue within the hour does not fire the rule again
    assert (
        q.fire_issue_rules(conn, project_id, [ingest_event(conn, project_id, {"message": "x"})])
        == []
    )


def test_alert_lifecycle_moves_forward_only(conn: Conn, project_id: uuid.UUID) -> None:
    q.create_alert_rule(conn, project_id, "Spike", threshold(1), {})
    ingest_event(conn, project_id, {"message": "a"})
    (alert,) = q.fire_threshold_rules(conn, project_id)
    acked = q.acknowledge_alert(conn, alert.id)
    assert acked.status is AlertStatus.ACKNOWLEDGED and acked.acknowledged_at is not None
    with pytest.raises(Conflict, match="is acknowledged; it cannot become acknowledged"):
        q.acknowledge_alert(conn, alert.id)
    resolved = q.resolve_alert(conn, alert.id)
    assert resolved.status is AlertStatus.RESOLVED and resolved.resolved_at is not None
    with pytest.raises(Conflict, match="is resolved; it cannot become acknowledged"):
        q.acknowledge_alert(conn, alert.id)
    with pytest.raises(Conflict, match="is resolved"):
        q.resolve_alert(conn, alert.id)
    assert q.get_alert(conn, alert.id) == resolved
    with pytest.raises(NotFound):
        q.acknowledge_alert(conn, MISSING)
    with pytest.raises(NotFound):
        q.resolve_alert(conn, MISSING)


def test_active_alert_can_be_resolved_directly(conn: Conn, project_id: uuid.UUID) -> None:
    q.create_alert_rule(conn, project_id, "Spike", threshold(1), {}, cooldown_minutes=1)
    ingest_event(conn, project_id, {"message": "a"})
    (first,) = q.fire_threshold_rules(conn, project_id)
    conn.execute("UPDATE alert_rules SET last_fired_at = now() - interval '2 minutes'")
    (second,) = q.fire_threshold_rules(conn, project_id)
    assert q.resolve_alert(conn, first.id).acknowledged_at is None
    assert [a.id for a in q.list_alerts(conn, project_id)] == [second.id, first.id]
    assert [a.id for a in q.list_alerts(conn, project_id, status="active")] == [second.id]
    with pytest.raises(InvalidInput, match="status must be one of active"):
        q.list_alerts(conn, project_id, status="open")


@pytest.mark.parametrize("helper", ["get_alert", "acknowledge_alert", "resolve_alert"])
def test_alert_helpers_scoped_to_a_project(
    conn: Conn, project_id: uuid.UUID, other_project_id: uuid.UUID, helper: str
) -> None:
    fn = getattr(q, helper)
    q.create_alert_rule(conn, project_id, "Spike", threshold(1), {})
    ingest_event(conn, project_id, {"message": "a"})
    (alert,) = q.fire_threshold_rules(conn, project_id)

    # another project's alert: NotFound worded as for a missing one; unchanged
    foreign = not_found_message(lambda: fn(conn, alert.id, project_id=other_project_id))
    missing = not_found_message(lambda: fn(conn, MISSING, project_id=project_id))
    assert foreign == missing.replace(str(MISSING), str(alert.id)) == f"alert {alert.id} not found"
    assert q.get_alert(conn, alert.id) == alert
    with pytest.raises(InvalidInput, match="project_id must be a UUID"):
        fn(conn, alert.id, project_id="not-a-uuid")
    assert q.get_alert(conn, alert.id) == alert

    # its own project: what the unscoped call does
    with conn.transaction(force_rollback=True):
        scoped = fn(conn, alert.id, project_id=str(project_id))
    unscoped = fn(conn, alert.id)
    assert scoped == unscoped  # now() is the transaction's time: the same in both
    if helper != "get_alert":
        # a move the status forbids: Conflict in its own project, but in another
        # project still NotFound (the re-read is scoped too: nothing leaks)
        with pytest.raises(Conflict, match="it cannot become"):
            fn(conn, alert.id, project_id=project_id)
        moved = q.get_alert(conn, alert.id)
        assert not_found_message(lambda: fn(conn, alert.id, project_id=other_project_id)) == foreign
        assert q.get_alert(conn, alert.id) == moved
