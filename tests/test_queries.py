"""What holds for every query helper: names that mirror the SQL, no commits,
a failed call leaves the database as it was, cascades, malformed ids refused
before any SQL. Each entity's own tests are in tests/test_<entity>.py."""

from __future__ import annotations

import ast
import inspect
import re
import uuid
from pathlib import Path
from typing import Any

import aiosql
import psycopg
import pytest

import mesher.queries
from mesher import queries as q
from mesher._sql import sql_dir, sync_queries
from mesher.aio import queries as aq
from mesher.errors import Conflict, InvalidInput
from mesher.ingest import ingest_event

from .helpers import MISSING, Conn

pytest_plugins = ["tests.entities"]

#: The helper names the specification gives; every other helper is named
#: after its SQL query.
SPECIFIED = {
    "insert_org", "get_org", "list_orgs", "insert_project", "get_project",
    "list_projects_by_org", "create_api_key", "get_project_by_api_key", "revoke_api_key",
    "create_user", "authenticate_user", "get_user", "create_session", "validate_session",
    "delete_session", "add_member", "get_members", "get_user_orgs",
}  # fmt: skip
#: Helpers that run a query of another name: the three status changes are
#: one statement, which also moves the issue between the counts per status.
RUNS = dict.fromkeys(("resolve_issue", "archive_issue", "unresolve_issue"), "set_issue_status")
#: Queries that helpers of other files run too, rather than a copy of each:
#: the write path's fingerprint locks (merge and unmerge take them) and an
#: issue read (unmerge answers the new issue).
SHARED = {"lock_fingerprints", "get_issue_in_project"}
ENTITY_MODULES = sorted(
    p.stem for p in Path(mesher.queries.__file__).parent.glob("*.py") if not p.stem.startswith("_")
)


# --- names mirror the SQL ------------------------------------------------------------


def _query_names(sql_file: Path) -> set[str]:
    names = set(aiosql.from_path(sql_file, "psycopg").available_queries)
    return {n for n in names if "." not in n and not n.endswith("_cursor")}


def test_every_helper_is_specified_or_named_after_its_query() -> None:
    queries = set(sync_queries().available_queries)
    assert len(q.__all__) == len(set(q.__all__))
    unexplained = [
        n
        for n in q.__all__
        if n not in SPECIFIED and n not in queries and RUNS.get(n) not in queries
    ]
    assert unexplained == []
    assert set(q.__all__) >= SPECIFIED  # none of the specification's names went missing
    assert q.__all__ == aq.__all__


def test_entity_modules_mirror_sql_files() -> None:
    sql_files = {p.stem for p in (sql_dir() / "queries").glob("*.sql")}
    assert set(ENTITY_MODULES) <= sql_files
    assert {
        "organizations", "projects", "api_keys", "users", "sessions", "memberships",
        "issues", "events", "alert_rules", "alerts",
    } <= set(ENTITY_MODULES)  # fmt: skip
    aio_modules = {
        p.stem for p in Path(aq.__file__).parent.glob("*.py") if not p.stem.startswith("_")
    }
    assert aio_modules == set(ENTITY_MODULES)


NAMESPACES = {p.stem for p in (sql_dir() / "queries").glob("*.sql")}


def _reads_q(node: ast.expr) -> bool:
    """Whether node is ``q`` or one of its namespaces, ``q.<entity>``."""
    if isinstance(node, ast.Attribute) and node.attr in NAMESPACES:
        node = node.value
    return isinstance(node, ast.Name) and node.id == "q"


def _queries_called(module: Any) -> dict[str, set[str]]:
    """For each function of a module, the names it reads off ``q`` (the
    loaded queries, ``q.<entity>.<name>``), itself or through the module's
    private functions it calls (one level down)."""
    tree = ast.parse(inspect.getsource(module))
    called: dict[str, set[str]] = {}
    helpers: dict[str, set[str]] = {}
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            called[fn.name] = {
                node.attr
                for node in ast.walk(fn)
                if isinstance(node, ast.Attribute)
                and _reads_q(node.value)
                and not (isinstance(node.value, ast.Name) and node.attr in NAMESPACES)
            }
            helpers[fn.name] = {
                node.id
                for node in ast.walk(fn)
                if isinstance(node, ast.Name) and node.id.startswith("_")
            }
    for name, private in helpers.items():
        for other in private & called.keys():
            called[name] |= called[other]
    return called


@pytest.mark.parametrize("entity", ENTITY_MODULES)
def test_helpers_use_the_queries_of_their_own_sql_file(entity: str) -> None:
    module = getattr(mesher.queries, entity)
    own = _query_names(sql_dir() / "queries" / f"{entity}.sql")
    called = _queries_called(module)
    assert set(module.__all__) <= set(called) | {"EVENT_TIME_SLACK"}
    for name in module.__all__:
        if name not in called:
            continue
        fn = getattr(module, name)
        assert getattr(mesher.queries, name, fn) is fn  # the package re-exports this one
        assert called[name], f"{entity}.{name} runs no named query"
        assert called[name] - SHARED <= own, f"{entity}.{name} runs SQL from another file"
        if name not in SPECIFIED:
            named = RUNS.get(name, name)
            assert named in called[name], f"{entity}.{name} is not named after its query"
    # and every query of the file serves some helper of the module
    assert own <= set().union(*called.values())


def test_each_exported_helper_lives_in_its_entity_module() -> None:
    for name in q.__all__:
        module = getattr(q, name).__module__
        entity = module.rsplit(".", 1)[1]
        assert module == f"mesher.queries.{entity}" and entity in ENTITY_MODULES, name
        assert name in getattr(mesher.queries, entity).__all__


# --- project-scoped helpers ---------------------------------------------------------

#: The helpers that take the id of one of a project's rows and, keyword-only,
#: ``project_id=``: with it they run their query's ``_in_project`` variant.
SCOPED = {
    "get_issue", "resolve_issue", "archive_issue", "unresolve_issue", "assign_issue",
    "list_events_for_issue", "set_alert_rule_enabled", "delete_alert_rule",
    "acknowledge_alert", "resolve_alert", "get_alert", "revoke_api_key", "issue_tag_facets",
}  # fmt: skip
ROW_IDS = {"issue_id", "event_id", "rule_id", "alert_id", "key_id"}


def test_every_helper_given_a_projects_row_id_takes_its_project() -> None:
    for name in q.__all__:
        for module in (q, aq):
            params = inspect.signature(getattr(module, name)).parameters
            if not ROW_IDS & set(params):
                assert name not in SCOPED
                continue
            assert "project_id" in params, name  # get_event: positional, required
            scoped = params["project_id"]
            if name in SCOPED:
                assert scoped.kind is inspect.Parameter.KEYWORD_ONLY, name
                assert scoped.default is None, name
            else:
                assert scoped.default is inspect.Parameter.empty, name


def test_helpers_given_a_page_of_issue_ids_require_their_project() -> None:
    """A page of issues belongs to one project: issue_sparklines takes it,
    keyword-only and required, and has no unscoped query."""
    for module in (q, aq):
        scoped = inspect.signature(module.issue_sparklines).parameters["project_id"]
        assert scoped.kind is inspect.Parameter.KEYWORD_ONLY
        assert scoped.default is inspect.Parameter.empty
    assert "project_id = :project_id" in sync_queries().issue_sparklines.sql.replace(
        "%(project_id)s", ":project_id"
    )


def _normalized(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def test_scoped_queries_add_only_the_routing_equality() -> None:
    loaded = sync_queries()
    scoped = {n for n in loaded.available_queries if "." not in n and n.endswith("_in_project")}
    assert scoped
    routing = "project_id = %(project_id)s AND "
    for name in sorted(scoped):
        query = getattr(loaded, name)
        unscoped = getattr(loaded, name.removesuffix("_in_project"))
        sql = _normalized(query.sql)
        if re.search(r"\bFROM \w+\(%\(project_id\)s, ", sql):
            # a SQL function given the project where the unscoped query gives
            # NULL: its statements take the project_id = equality (Citus routes)
            assert sql.replace("%(project_id)s", "NULL", 1) == _normalized(unscoped.sql), name
        else:
            # a plain equality on project_id first, so that Citus routes it to one shard
            assert re.search(r"\bWHERE (\w+\.)?" + re.escape(routing), sql), name
            # (also inside a CTE that reads another table of the project)
            without = re.sub(r"\b(\w+\.)?" + re.escape(routing), "", sql)
            assert without == _normalized(unscoped.sql), name
        assert "%(project_id)s IS NULL" not in sql, name  # would not route on Citus
        doc = _normalized(query.__doc__)
        assert "project-scoped" in doc and "single-shard on Citus" in doc, name
        assert re.search(r"\b(idx_\w+|\w+_pkey)\b", doc), f"{name}: which index serves it?"
    # each scoped helper runs the scoped variant of each query it runs; one
    # that runs a query of another name (RUNS) runs a project-scoped one, and
    # without project_id finds the project first (get_issue, unscoped)
    for entity in ENTITY_MODULES:
        for name, called in _queries_called(getattr(mesher.queries, entity)).items():
            if name in RUNS:
                assert "project_id" in getattr(loaded, RUNS[name]).parameters, name
                assert called == {RUNS[name], "get_issue"}, name
            elif name in SCOPED:
                plain = {c for c in called if not c.endswith("_in_project")}
                assert {f"{c}_in_project" for c in plain} <= called, name


# --- transactions ------------------------------------------------------------


def test_helpers_never_commit(db_url: str) -> None:
    with psycopg.connect(db_url) as first:
        q.insert_org(first, "Uncommitted", "uncommitted")
        with psycopg.connect(db_url) as second:
            assert q.list_orgs(second) == []
        first.rollback()
        assert q.list_orgs(first) == []


def test_failed_call_leaves_database_as_it_was(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        q.insert_org(conn, "Acme", "acme")
        conn.commit()
        with pytest.raises(Conflict), conn.transaction():
            q.insert_org(conn, "Acme again", "acme")
        assert [o.name for o in q.list_orgs(conn)] == ["Acme"]


def test_cascade_from_organization(conn: Conn, project_id: uuid.UUID) -> None:
    org_id = q.get_project(conn, project_id).org_id
    q.create_api_key(conn, project_id, "k")
    conn.execute("DELETE FROM organizations WHERE id = %s", (org_id,))
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM api_keys)"
    ).fetchone()
    assert counts == (0, 0)


# --- malformed ids -------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["not-a-uuid", "", 42, None, b"\x00" * 16])
def test_malformed_id_is_invalid_input(conn: Conn, bad: object) -> None:
    with pytest.raises(InvalidInput, match="org_id must be a UUID"):
        q.get_org(conn, bad)  # type: ignore[arg-type]


#: Well-formed values for the other arguments, so that the id is what fails.
VALID: dict[str, Any] = {
    "name": "n", "slug": "s", "platform": None, "label": "l", "email": "a@example.com",
    "password": "pw", "display_name": "d", "role": "member", "key": "mshr_" + "0" * 48,
    "public_key": "mshr_" + "0" * 48, "token": "0" * 64, "status": None, "level": None,
    "limit": 10, "cursor": None, "enabled": True, "condition": {"condition_type": "new_issue"},
    "action": {}, "cooldown_minutes": 60, "tags": {"k": "v"}, "since": None, "bucket": "hour",
    "ingested": [], "dsn_id": 1, "issue_ids": [], "top": 10, "prefix": "", "query": "",
    "sort": "date", "now": None,
}  # fmt: skip
ID_ARGS = [
    (name, param)
    for name in q.__all__
    for param in inspect.signature(getattr(q, name)).parameters
    if param.endswith("_id") and param != "dsn_id"
]


@pytest.mark.parametrize(("helper", "param"), ID_ARGS, ids=[f"{h}.{p}" for h, p in ID_ARGS])
def test_every_helper_refuses_malformed_ids_before_sql(conn: Conn, helper: str, param: str) -> None:
    fn = getattr(q, helper)
    signature = inspect.signature(fn)
    args = {p: VALID.get(p, MISSING) for p in signature.parameters if p != "conn"}
    optional = "None" in str(signature.parameters[param].annotation)
    for bad in ("not-a-uuid", "", 42, b"\x00" * 16, "00000000-0000-7000-8000-00000000000g"):
        with pytest.raises(InvalidInput, match=f"{param} must be a UUID"):
            fn(conn, **{**args, param: bad})
        # refused before any SQL: the connection did not even open a transaction
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if not optional:
        with pytest.raises(InvalidInput, match=f"{param} must be a UUID"):
            fn(conn, **{**args, param: None})


def test_id_args_cover_every_kind_of_id() -> None:
    kinds = {param for _, param in ID_ARGS}
    assert kinds == {
        "org_id", "project_id", "user_id", "issue_id", "event_id", "rule_id", "alert_id",
        "key_id", "target_id",
    }  # fmt: skip


def test_ids_work_as_strings(conn: Conn, project_id: uuid.UUID) -> None:
    done = ingest_event(conn, project_id, {"message": "x"})
    assert q.get_event(conn, str(project_id), str(done.event_id)).id == done.event_id
    assert q.get_issue(conn, str(done.issue_id)).id == done.issue_id
