# Generated from mesher/aio/queries.py by tools/gen_sync.py: edit that file.
"""Query helpers: one function per named query in ``sql/queries``.

Every helper takes a psycopg connection first and never commits: the
caller owns the transaction (``with conn.transaction(): ...``, or
``conn.commit()``). ``get_*`` returns one model or raises
``NotFound``; ``list_*``/``get_members``/``get_user_orgs`` return lists;
``insert_*``/``create_*``/``add_*`` return what they made. Only
``mesher.errors`` exceptions escape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar
from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb

from ._args import (
    api_key_arg,
    aware_datetime_arg,
    count_arg,
    cursor_arg,
    email_arg,
    encode_cursor,
    model_arg,
    optional_enum_arg,
    optional_text_arg,
    optional_uuid_arg,
    password_arg,
    role_arg,
    session_token_arg,
    tags_arg,
    text_arg,
    uuid_arg,
)
from ._sql import sync_queries
from ._uuid7 import uuid7_time
from .errors import Conflict, InvalidCredentials, InvalidInput, NotFound, translate_errors
from .models import (
    Alert,
    AlertCondition,
    AlertRule,
    AlertStatus,
    Event,
    EventPage,
    IngestedEvent,
    Issue,
    IssuePage,
    IssueStatus,
    Organization,
    OrgMembership,
    Project,
    Role,
    Session,
    Severity,
    User,
)

_q = sync_queries()
Conn = Connection[Any]

__all__ = [
    "acknowledge_alert",
    "add_member",
    "archive_issue",
    "assign_issue",
    "authenticate_user",
    "count_issues_by_status",
    "create_alert_rule",
    "create_api_key",
    "create_session",
    "create_user",
    "delete_alert_rule",
    "delete_session",
    "evaluate_alert_rules",
    "event_volume",
    "filter_events_by_tags",
    "fire_issue_alerts",
    "get_alert",
    "get_event",
    "get_issue",
    "get_members",
    "get_org",
    "get_project",
    "get_project_by_api_key",
    "get_user",
    "get_user_orgs",
    "insert_org",
    "insert_project",
    "level_breakdown",
    "list_alert_rules",
    "list_alerts",
    "list_events_for_issue",
    "list_issues",
    "list_orgs",
    "list_projects_by_org",
    "resolve_alert",
    "resolve_issue",
    "revoke_api_key",
    "set_alert_rule_enabled",
    "top_issues",
    "unresolve_issue",
    "validate_session",
]

R = TypeVar("R", Issue, Event)

#: Largest page a list helper returns.
MAX_PAGE = 1000
#: Longest alert rule cooldown: one year.
MAX_COOLDOWN_MINUTES = 525_600


def _found(row: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if row is None:
        raise NotFound(f"{what} not found")
    return row


# --- organizations -----------------------------------------------------------


@translate_errors
def insert_org(conn: Conn, name: str, slug: str) -> UUID:
    """Create an organization; ``Conflict`` if the slug is taken."""
    org_id: UUID = _q.insert_org(
        conn, name=text_arg(name, "name"), slug=text_arg(slug, "slug", max_length=100)
    )
    return org_id


@translate_errors
def get_org(conn: Conn, org_id: UUID | str) -> Organization:
    row = _q.get_org(conn, id=uuid_arg(org_id, "org_id"))
    return Organization.model_validate(_found(row, f"organization {org_id}"))


@translate_errors
def list_orgs(conn: Conn) -> list[Organization]:
    return [Organization.model_validate(row) for row in _q.list_orgs(conn)]


# --- projects ----------------------------------------------------------------


@translate_errors
def insert_project(conn: Conn, org_id: UUID | str, name: str, platform: str | None = None) -> UUID:
    """Create a project; ``NotFound`` if the organization does not exist."""
    project_id: UUID = _q.insert_project(
        conn,
        org_id=uuid_arg(org_id, "org_id"),
        name=text_arg(name, "name"),
        platform=optional_text_arg(platform, "platform", max_length=64),
    )
    return project_id


@translate_errors
def get_project(conn: Conn, project_id: UUID | str) -> Project:
    row = _q.get_project(conn, id=uuid_arg(project_id, "project_id"))
    return Project.model_validate(_found(row, f"project {project_id}"))


@translate_errors
def list_projects_by_org(conn: Conn, org_id: UUID | str) -> list[Project]:
    rows = _q.list_projects_by_org(conn, org_id=uuid_arg(org_id, "org_id"))
    return [Project.model_validate(row) for row in rows]


# --- api keys ----------------------------------------------------------------


@translate_errors
def create_api_key(conn: Conn, project_id: UUID | str, label: str = "default") -> str:
    """Issue a new ``mshr_`` key for a project and return it."""
    key: str = _q.create_api_key(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        label=text_arg(label, "label", max_length=256),
    )
    return key


@translate_errors
def get_project_by_api_key(conn: Conn, key: str) -> Project:
    """The project of a live key; ``NotFound`` for an unknown or revoked key."""
    row = _q.get_project_by_api_key(conn, key_value=api_key_arg(key))
    return Project.model_validate(_found(row, "api key (unknown or revoked)"))


@translate_errors
def revoke_api_key(conn: Conn, key_id: UUID | str) -> int:
    """Revoke a key by id; returns 1, or 0 if it was missing or already revoked."""
    count: int = _q.revoke_api_key(conn, id=uuid_arg(key_id, "key_id"))
    return count


# --- users -------------------------------------------------------------------


@translate_errors
def create_user(conn: Conn, email: str, password: str, display_name: str) -> UUID:
    """Create a user (bcrypt cost 12); ``Conflict`` if the email is taken in any case."""
    user_id: UUID = _q.create_user(
        conn,
        email=email_arg(email),
        password=password_arg(password),
        display_name=text_arg(display_name, "display_name", max_length=256),
    )
    return user_id


@translate_errors
def authenticate_user(conn: Conn, email: str, password: str) -> User:
    """The user with this email and password, else ``InvalidCredentials``.

    An unknown email costs the same bcrypt comparison as a wrong password.
    """
    row = _q.authenticate_user(conn, email=email_arg(email), password=password_arg(password))
    if row is None:
        raise InvalidCredentials("invalid email or password")
    return User.model_validate(row)


@translate_errors
def get_user(conn: Conn, user_id: UUID | str) -> User:
    row = _q.get_user(conn, id=uuid_arg(user_id, "user_id"))
    return User.model_validate(_found(row, f"user {user_id}"))


# --- sessions ----------------------------------------------------------------


@translate_errors
def create_session(conn: Conn, user_id: UUID | str) -> str:
    """Start a 7-day session and return its token; only its digest is stored."""
    token: str = _q.create_session(conn, user_id=uuid_arg(user_id, "user_id"))
    return token


@translate_errors
def validate_session(conn: Conn, token: str) -> Session:
    """The session a token opens; ``NotFound`` if unknown or expired."""
    row = _q.validate_session(conn, token=session_token_arg(token))
    return Session.model_validate(_found(row, "session (unknown or expired)"))


@translate_errors
def delete_session(conn: Conn, token: str) -> int:
    """End a session; returns 1, or 0 if there was none."""
    count: int = _q.delete_session(conn, token=session_token_arg(token))
    return count


# --- memberships -------------------------------------------------------------


@translate_errors
def add_member(
    conn: Conn, user_id: UUID | str, org_id: UUID | str, role: Role | str = Role.MEMBER
) -> UUID:
    """Add a user to an organization; ``Conflict`` if already a member."""
    membership_id: UUID = _q.add_member(
        conn,
        user_id=uuid_arg(user_id, "user_id"),
        org_id=uuid_arg(org_id, "org_id"),
        role=role_arg(role).value,
    )
    return membership_id


@translate_errors
def get_members(conn: Conn, org_id: UUID | str) -> list[OrgMembership]:
    rows = _q.get_members(conn, org_id=uuid_arg(org_id, "org_id"))
    return [OrgMembership.model_validate(row) for row in rows]


@translate_errors
def get_user_orgs(conn: Conn, user_id: UUID | str) -> list[OrgMembership]:
    rows = _q.get_user_orgs(conn, user_id=uuid_arg(user_id, "user_id"))
    return [OrgMembership.model_validate(row) for row in rows]


# --- issues ------------------------------------------------------------------


def _page(rows: list[R], size: int) -> tuple[list[R], str | None]:
    """Keyset pages fetch size + 1 rows: the extra one says a next page exists,
    and the cursor is the (time, id) of the page's last row."""
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    at = last.last_seen if isinstance(last, Issue) else last.received_at
    return rows[:size], encode_cursor(at, last.id)


@translate_errors
def get_issue(conn: Conn, issue_id: UUID | str) -> Issue:
    row = _q.get_issue(conn, id=uuid_arg(issue_id, "issue_id"))
    return Issue.model_validate(_found(row, f"issue {issue_id}"))


@translate_errors
def list_issues(
    conn: Conn,
    project_id: UUID | str,
    status: IssueStatus | str | None = None,
    level: Severity | str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> IssuePage:
    """A page of a project's issues, most recently seen first. Pass the page's
    ``next_cursor`` back for the next page; it is None on the last one."""
    size = count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE)
    after_last_seen, after_id = cursor_arg(cursor)
    status_value = optional_enum_arg(status, IssueStatus, "status")
    level_value = optional_enum_arg(level, Severity, "level")
    common = {
        "project_id": uuid_arg(project_id, "project_id"),
        "status": None if status_value is None else status_value.value,
        "level": None if level_value is None else level_value.value,
        "page_size": size + 1,  # one more tells whether a next page exists
    }
    if after_id is None:
        rows = _q.list_issues(conn, **common)
    else:
        rows = _q.list_issues_after(
            conn, **common, after_last_seen=after_last_seen, after_id=after_id
        )
    items, next_cursor = _page([Issue.model_validate(row) for row in rows], size)
    return IssuePage(items=items, next_cursor=next_cursor)


def _set_status(conn: Conn, issue_id: UUID | str, status: IssueStatus) -> Issue:
    row = _q.set_issue_status(conn, id=uuid_arg(issue_id, "issue_id"), status=status.value)
    return Issue.model_validate(_found(row, f"issue {issue_id}"))


@translate_errors
def resolve_issue(conn: Conn, issue_id: UUID | str) -> Issue:
    """Mark an issue resolved; a new event regresses it to unresolved."""
    return _set_status(conn, issue_id, IssueStatus.RESOLVED)


@translate_errors
def archive_issue(conn: Conn, issue_id: UUID | str) -> Issue:
    """Archive an issue; new events keep counting but do not reopen it."""
    return _set_status(conn, issue_id, IssueStatus.ARCHIVED)


@translate_errors
def unresolve_issue(conn: Conn, issue_id: UUID | str) -> Issue:
    return _set_status(conn, issue_id, IssueStatus.UNRESOLVED)


@translate_errors
def assign_issue(conn: Conn, issue_id: UUID | str, user_id: UUID | str | None) -> Issue:
    """Assign an issue to a user, or unassign it with None."""
    row = _q.assign_issue(
        conn, id=uuid_arg(issue_id, "issue_id"), user_id=optional_uuid_arg(user_id, "user_id")
    )
    return Issue.model_validate(_found(row, f"issue {issue_id}"))


@translate_errors
def count_issues_by_status(conn: Conn, project_id: UUID | str) -> dict[IssueStatus, int]:
    """Issues per status, every status present (0 when none)."""
    counts = dict.fromkeys(IssueStatus, 0)
    for row in _q.count_issues_by_status(conn, project_id=uuid_arg(project_id, "project_id")):
        counts[IssueStatus(row["status"])] = row["issue_count"]
    return counts


@translate_errors
def top_issues(conn: Conn, project_id: UUID | str, limit: int = 10) -> list[Issue]:
    """A project's issues with the most events, most first."""
    rows = _q.top_issues(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        page_size=count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE),
    )
    return [Issue.model_validate(row) for row in rows]


# --- events ------------------------------------------------------------------

#: get_event looks this far around the time in the event's UUIDv7 id.
EVENT_TIME_SLACK = dt.timedelta(hours=1)


@translate_errors
def get_event(conn: Conn, project_id: UUID | str, event_id: UUID | str) -> Event:
    """One event. Its UUIDv7 id carries its time, which bounds ``received_at``
    to within ``EVENT_TIME_SLACK``: only those partitions are searched."""
    eid = uuid_arg(event_id, "event_id")
    if eid.version != 7:
        raise InvalidInput("event_id must be a UUIDv7 (event ids carry their time)")
    at = uuid7_time(eid)
    row = _q.get_event(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        id=eid,
        not_before=at - EVENT_TIME_SLACK,
        not_after=at + EVENT_TIME_SLACK,
    )
    return Event.model_validate(_found(row, f"event {event_id}"))


@translate_errors
def list_events_for_issue(
    conn: Conn, issue_id: UUID | str, limit: int = 50, cursor: str | None = None
) -> EventPage:
    """A page of an issue's events, newest first; see ``list_issues`` for cursors."""
    size = count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE)
    after_received_at, after_id = cursor_arg(cursor)
    iid = uuid_arg(issue_id, "issue_id")
    if after_id is None:
        rows = _q.list_events_for_issue(conn, issue_id=iid, page_size=size + 1)
    else:
        rows = _q.list_events_for_issue_after(
            conn,
            issue_id=iid,
            after_received_at=after_received_at,
            after_id=after_id,
            page_size=size + 1,
        )
    items, next_cursor = _page([Event.model_validate(row) for row in rows], size)
    return EventPage(items=items, next_cursor=next_cursor)


def _since(value: Any, default: dt.timedelta) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC) - default
    return aware_datetime_arg(value, "since")


@translate_errors
def filter_events_by_tags(
    conn: Conn,
    project_id: UUID | str,
    tags: Mapping[str, str],
    since: dt.datetime | None = None,
    limit: int = 100,
) -> list[Event]:
    """A project's events carrying all the given tags, newest first, since
    ``since`` (default: the last 24 hours)."""
    rows = _q.filter_events_by_tags(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        tags=Jsonb(tags_arg(tags)),
        since=_since(since, dt.timedelta(hours=24)),
        page_size=count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE),
    )
    return [Event.model_validate(row) for row in rows]


_BUCKETS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}
MAX_BUCKETS = 10_000


@translate_errors
def event_volume(
    conn: Conn,
    project_id: UUID | str,
    bucket: Literal["hour", "day"] = "hour",
    since: dt.datetime | None = None,
) -> list[tuple[dt.datetime, int]]:
    """Events per UTC hour or day since ``since`` (default: 24 buckets back),
    empty buckets included, oldest first."""
    if not isinstance(bucket, str) or bucket not in _BUCKETS:
        raise InvalidInput(f"bucket must be 'hour' or 'day', got {bucket!r}")
    start = _since(since, 24 * _BUCKETS[bucket])
    if (dt.datetime.now(dt.UTC) - start) / _BUCKETS[bucket] > MAX_BUCKETS:
        raise InvalidInput(f"since is too far back: at most {MAX_BUCKETS} buckets")
    rows = _q.event_volume(
        conn, project_id=uuid_arg(project_id, "project_id"), bucket=bucket, since=start
    )
    return [(row["bucket_start"], row["event_count"]) for row in rows]


@translate_errors
def level_breakdown(
    conn: Conn, project_id: UUID | str, since: dt.datetime | None = None
) -> dict[Severity, int]:
    """Events per level since ``since`` (default: the last 24 hours), every level present."""
    counts = dict.fromkeys(Severity, 0)
    rows = _q.level_breakdown(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        since=_since(since, dt.timedelta(hours=24)),
    )
    for row in rows:
        counts[Severity(row["level"])] = row["event_count"]
    return counts


# --- alerts ------------------------------------------------------------------


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
    row = _q.create_alert_rule(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        name=text_arg(name, "name", max_length=256),
        condition=Jsonb(model_arg(condition, AlertCondition, "condition").model_dump()),
        action=Jsonb(dict(action)),
        cooldown_minutes=count_arg(
            cooldown_minutes, "cooldown_minutes", minimum=1, maximum=525_600
        ),
    )
    return AlertRule.model_validate(row)


@translate_errors
def list_alert_rules(conn: Conn, project_id: UUID | str) -> list[AlertRule]:
    rows = _q.list_alert_rules(conn, project_id=uuid_arg(project_id, "project_id"))
    return [AlertRule.model_validate(row) for row in rows]


@translate_errors
def set_alert_rule_enabled(conn: Conn, rule_id: UUID | str, enabled: bool) -> AlertRule:
    if not isinstance(enabled, bool):
        raise InvalidInput("enabled must be True or False")
    row = _q.set_alert_rule_enabled(conn, id=uuid_arg(rule_id, "rule_id"), enabled=enabled)
    return AlertRule.model_validate(_found(row, f"alert rule {rule_id}"))


@translate_errors
def delete_alert_rule(conn: Conn, rule_id: UUID | str) -> int:
    """Delete a rule and its alerts; returns 1, or 0 if there was none."""
    count: int = _q.delete_alert_rule(conn, id=uuid_arg(rule_id, "rule_id"))
    return count


@translate_errors
def evaluate_alert_rules(conn: Conn, project_id: UUID | str) -> list[Alert]:
    """Fire the project's enabled threshold rules whose event count in their
    window reaches the threshold and whose cooldown has passed. Each firing is
    recorded, and the rule's last_fired_at set, in one statement: concurrent
    evaluators never fire a rule twice."""
    rows = _q.fire_threshold_rules(conn, project_id=uuid_arg(project_id, "project_id"))
    return [Alert.model_validate(row) for row in rows]


@translate_errors
def fire_issue_alerts(
    conn: Conn, project_id: UUID | str, ingested: Iterable[IngestedEvent]
) -> list[Alert]:
    """Fire the project's new_issue and regression rules for what the write
    path reported (``ingest_event``/``ingest_events`` results); each rule at
    most once per call, and not within its cooldown."""
    pid = uuid_arg(project_id, "project_id")
    outcome = list(ingested) if isinstance(ingested, (list, tuple)) else None
    if outcome is None or not all(isinstance(e, IngestedEvent) for e in outcome):
        raise InvalidInput("ingested must be a list of the results of ingest_event(s)")
    alerts: list[Alert] = []
    for condition_type, issue_ids in (
        ("new_issue", sorted({e.issue_id for e in outcome if e.new_issue})),
        ("regression", sorted({e.issue_id for e in outcome if e.regressed})),
    ):
        if issue_ids:
            rows = _q.fire_issue_rules(
                conn, project_id=pid, condition_type=condition_type, issue_ids=issue_ids
            )
            alerts += [Alert.model_validate(row) for row in rows]
    return alerts


def _move_alert(conn: Conn, alert_id: UUID | str, target: AlertStatus) -> Alert:
    aid = uuid_arg(alert_id, "alert_id")
    move = _q.acknowledge_alert if target is AlertStatus.ACKNOWLEDGED else _q.resolve_alert
    row = move(conn, id=aid)
    if row is not None:
        return Alert.model_validate(row)
    current = _q.get_alert(conn, id=aid)
    if current is None:
        raise NotFound(f"alert {alert_id} not found")
    raise Conflict(f"alert {alert_id} is {current['status']}; it cannot become {target.value}")


@translate_errors
def acknowledge_alert(conn: Conn, alert_id: UUID | str) -> Alert:
    """active -> acknowledged; ``Conflict`` from any other status."""
    return _move_alert(conn, alert_id, AlertStatus.ACKNOWLEDGED)


@translate_errors
def resolve_alert(conn: Conn, alert_id: UUID | str) -> Alert:
    """active or acknowledged -> resolved; ``Conflict`` if already resolved."""
    return _move_alert(conn, alert_id, AlertStatus.RESOLVED)


@translate_errors
def get_alert(conn: Conn, alert_id: UUID | str) -> Alert:
    row = _q.get_alert(conn, id=uuid_arg(alert_id, "alert_id"))
    return Alert.model_validate(_found(row, f"alert {alert_id}"))


@translate_errors
def list_alerts(
    conn: Conn,
    project_id: UUID | str,
    status: AlertStatus | str | None = None,
    limit: int = 50,
) -> list[Alert]:
    """A project's alerts, newest first, optionally of one status."""
    status_value = optional_enum_arg(status, AlertStatus, "status")
    rows = _q.list_alerts(
        conn,
        project_id=uuid_arg(project_id, "project_id"),
        status=None if status_value is None else status_value.value,
        page_size=count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE),
    )
    return [Alert.model_validate(row) for row in rows]
