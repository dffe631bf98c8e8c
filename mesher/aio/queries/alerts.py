"""Alerts: firing the rules, and each firing's life (sql/queries/alerts.sql)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from ..._args import count_arg, optional_enum_arg, uuid_arg
from ..._results import found
from ...errors import Conflict, InvalidInput, NotFound, translate_errors
from ...limits import MAX_PAGE
from ...models import Alert, AlertStatus, IngestedEvent
from ._common import Conn, in_project, q

__all__ = [
    "acknowledge_alert",
    "fire_issue_rules",
    "fire_threshold_rules",
    "get_alert",
    "list_alerts",
    "resolve_alert",
]


@translate_errors
async def fire_threshold_rules(conn: Conn, project_id: UUID | str) -> list[Alert]:
    """Fire the project's enabled threshold rules whose event count in their
    window reaches the threshold and whose cooldown has passed. Each firing is
    recorded, and the rule's last_fired_at set, in one statement: concurrent
    callers never fire a rule twice."""
    rows = q.alerts.fire_threshold_rules(conn, project_id=uuid_arg(project_id, "project_id"))
    return [Alert.model_validate(row) async for row in rows]


@translate_errors
async def fire_issue_rules(
    conn: Conn, project_id: UUID | str, ingested: Iterable[IngestedEvent]
) -> list[Alert]:
    """Fire the project's new_issue and regression rules for what the write
    path reported (``ingest_event``/``ingest_events``/``ingest_envelope``
    results); each rule at most once per call, and not within its cooldown.
    Retries (``duplicate``) fire nothing: their first arrival did."""
    pid = uuid_arg(project_id, "project_id")
    outcome = list(ingested) if isinstance(ingested, (list, tuple)) else None
    if outcome is None or not all(isinstance(e, IngestedEvent) for e in outcome):
        raise InvalidInput("ingested must be a list of the results of ingest_event(s)")
    alerts: list[Alert] = []
    for condition_type, issue_ids in (
        ("new_issue", sorted({e.issue_id for e in outcome if e.new_issue and not e.duplicate})),
        ("regression", sorted({e.issue_id for e in outcome if e.regressed and not e.duplicate})),
    ):
        if issue_ids:
            rows = q.alerts.fire_issue_rules(
                conn, project_id=pid, condition_type=condition_type, issue_ids=issue_ids
            )
            alerts += [Alert.model_validate(row) async for row in rows]
    return alerts


async def _move(
    conn: Conn, move: Any, alert_id: UUID | str, target: AlertStatus, project_id: UUID | str | None
) -> Alert:
    """Run one of the forward moves (picked by ``in_project``); ``NotFound``
    for a missing alert (with ``project_id``: or one of another project, the
    re-read scoped too), ``Conflict`` for one whose status forbids the move."""
    aid = uuid_arg(alert_id, "alert_id")
    row = await move(conn, id=aid)
    if row is not None:
        return Alert.model_validate(row)
    current = await in_project(q.alerts.get_alert, q.alerts.get_alert_in_project, project_id)(
        conn, id=aid
    )
    if current is None:
        raise NotFound(f"alert {alert_id} not found")
    raise Conflict(f"alert {alert_id} is {current['status']}; it cannot become {target.value}")


@translate_errors
async def acknowledge_alert(
    conn: Conn, alert_id: UUID | str, *, project_id: UUID | str | None = None
) -> Alert:
    """active -> acknowledged; ``Conflict`` from any other status."""
    move = in_project(q.alerts.acknowledge_alert, q.alerts.acknowledge_alert_in_project, project_id)
    return await _move(conn, move, alert_id, AlertStatus.ACKNOWLEDGED, project_id)


@translate_errors
async def resolve_alert(
    conn: Conn, alert_id: UUID | str, *, project_id: UUID | str | None = None
) -> Alert:
    """active or acknowledged -> resolved; ``Conflict`` if already resolved."""
    move = in_project(q.alerts.resolve_alert, q.alerts.resolve_alert_in_project, project_id)
    return await _move(conn, move, alert_id, AlertStatus.RESOLVED, project_id)


@translate_errors
async def get_alert(
    conn: Conn, alert_id: UUID | str, *, project_id: UUID | str | None = None
) -> Alert:
    """One alert; with ``project_id``, only if it belongs to that project."""
    aid = uuid_arg(alert_id, "alert_id")
    row = await in_project(q.alerts.get_alert, q.alerts.get_alert_in_project, project_id)(
        conn, id=aid
    )
    return Alert.model_validate(found(row, f"alert {alert_id}"))


@translate_errors
async def list_alerts(
    conn: Conn,
    project_id: UUID | str,
    status: AlertStatus | str | None = None,
    limit: int = 50,
) -> list[Alert]:
    """A project's alerts, newest first, optionally of one status."""
    status_value = optional_enum_arg(status, AlertStatus, "status")
    rows = q.alerts.list_alerts(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        status=None if status_value is None else status_value.value,
        page_size=count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE),
    )
    return [Alert.model_validate(row) async for row in rows]
