# Generated from mesher/aio/queries/__init__.py by tools/gen_sync.py: edit that file.
"""Query helpers, one module per entity, each over its ``sql/queries/<entity>.sql``.

Every helper takes a psycopg connection first and never commits: the caller
owns the transaction (``with conn.transaction(): ...``, or ``conn.commit()``).
Names say what comes back: ``get_*`` one model or ``NotFound``; ``list_*``,
``get_members`` and ``get_user_orgs`` a list; ``count_*`` counts;
``insert_*``/``create_*``/``add_*`` what they made. Only ``mesher.errors``
exceptions escape.

``from mesher import queries; queries.get_org(conn, org_id)`` reaches every
helper; the entity modules hold them. ``mesher.aio.queries`` has the same
helpers for an ``AsyncConnection``, to be awaited (the sync package is
generated from it, docstrings included).
"""

from .alert_rules import (
    create_alert_rule,
    delete_alert_rule,
    list_alert_rules,
    set_alert_rule_enabled,
)
from .alerts import (
    acknowledge_alert,
    fire_issue_rules,
    fire_threshold_rules,
    get_alert,
    list_alerts,
    resolve_alert,
)
from .api_keys import (
    create_api_key,
    get_project_by_api_key,
    get_project_by_dsn,
    list_api_keys,
    revoke_api_key,
)
from .deletions import delete_issue, delete_organization, delete_project
from .events import (
    event_volume,
    filter_events_by_tags,
    get_event,
    level_breakdown,
    list_events_for_issue,
)
from .fingerprints import list_issue_fingerprints, merge_issues, resume_unmerges, unmerge_issue
from .issues import (
    archive_issue,
    assign_issue,
    count_issues_by_status,
    get_issue,
    issue_sparklines,
    list_issues,
    resolve_issue,
    top_issues,
    unresolve_issue,
)
from .memberships import add_member, get_members, get_user_orgs
from .organizations import get_org, insert_org, list_orgs
from .outcomes import expire_outcomes, project_outcomes, record_outcomes
from .projects import get_project, insert_project, list_projects_by_org, set_project_retention
from .rate_limits import list_project_rate_limits, set_project_rate_limit
from .releases import issue_releases, list_releases
from .search import search_issues
from .sessions import create_session, delete_session, validate_session
from .tags import issue_tag_facets, project_tag_key_bounds, project_tag_keys, project_tag_values
from .users import authenticate_user, create_user, get_user

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
    "delete_issue",
    "delete_organization",
    "delete_project",
    "delete_session",
    "event_volume",
    "expire_outcomes",
    "filter_events_by_tags",
    "fire_issue_rules",
    "fire_threshold_rules",
    "get_alert",
    "get_event",
    "get_issue",
    "get_members",
    "get_org",
    "get_project",
    "get_project_by_api_key",
    "get_project_by_dsn",
    "get_user",
    "get_user_orgs",
    "insert_org",
    "insert_project",
    "issue_releases",
    "issue_sparklines",
    "issue_tag_facets",
    "level_breakdown",
    "list_alert_rules",
    "list_alerts",
    "list_api_keys",
    "list_events_for_issue",
    "list_issue_fingerprints",
    "list_issues",
    "list_orgs",
    "list_project_rate_limits",
    "list_projects_by_org",
    "list_releases",
    "merge_issues",
    "project_outcomes",
    "project_tag_key_bounds",
    "project_tag_keys",
    "project_tag_values",
    "record_outcomes",
    "resolve_alert",
    "resolve_issue",
    "resume_unmerges",
    "revoke_api_key",
    "search_issues",
    "set_alert_rule_enabled",
    "set_project_rate_limit",
    "set_project_retention",
    "top_issues",
    "unmerge_issue",
    "unresolve_issue",
    "validate_session",
]
