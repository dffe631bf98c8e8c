"""Shared test helpers."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from mesher._sql import sync_queries
from mesher.errors import NotFound

T = TypeVar("T")


def run_concurrently(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0) .. work(count - 1)`` in threads released at the same
    moment; return their results in order, or raise the first error."""
    barrier = threading.Barrier(count)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [results[i] for i in range(count)]


# --- for the per-entity query tests ---------------------------------------------

Conn = psycopg.Connection[Any]
#: A well-formed UUIDv7 that no row has.
MISSING = uuid.UUID("00000000-0000-7000-8000-000000000000")


def not_found_message(call: Callable[[], Any]) -> str:
    """The message of the ``NotFound`` that ``call`` raises (it must raise one)."""
    try:
        call()
    except NotFound as exc:
        return str(exc)
    raise AssertionError("expected NotFound")


#: An alert rule action.
EMAIL = {"type": "email", "to": "oncall@example.com"}


def threshold(n: int, window: int = 5) -> dict[str, Any]:
    """A threshold alert condition: n events within window minutes."""
    return {"condition_type": "threshold", "threshold": n, "window_minutes": window}


def is_uuidv7(value: uuid.UUID) -> bool:
    return value.version == 7 and value.variant == uuid.RFC_4122


# --- reads: pages and query plans ----------------------------------------------


def walk(fetch: Callable[[str | None], Any]) -> list[Any]:
    """Every item of a keyset-paginated read, following next_cursor to the end."""
    items, cursor, pages = [], None, 0
    while True:
        page = fetch(cursor)
        items += page.items
        pages += 1
        if page.next_cursor is None:
            return items
        assert page.items, "a page with a cursor is never empty"
        cursor = page.next_cursor
        assert pages < 1000


def plan(conn: Conn, query: str, params: dict[str, Any]) -> dict[str, Any]:
    """The EXPLAIN (FORMAT JSON) plan of a named query of sql/queries."""
    (found,) = conn.execute(  # type: ignore[misc]
        "EXPLAIN (FORMAT JSON) " + getattr(sync_queries(), query).sql, params
    ).fetchone()
    return found[0]["Plan"]  # type: ignore[no-any-return]


def prepared_plan(conn: Conn, name: str, params: dict[str, Any], generic: bool) -> dict[str, Any]:
    """The plan PostgreSQL makes for the statement with these values, or
    (``generic``) the one it may switch to once psycopg prepares it, which
    must not depend on them. (EXPLAIN (GENERIC_PLAN) is PostgreSQL 16+.)"""
    return statement_plan(conn, getattr(sync_queries(), name).sql, params, generic)


def statement_plan(
    conn: Conn, statement: str, params: dict[str, Any], generic: bool
) -> dict[str, Any]:
    """``prepared_plan`` for a statement's text, its parameters written
    ``%(name)s``."""
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
    sql = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)
    mode = "force_generic_plan" if generic else "force_custom_plan"
    with conn.transaction(force_rollback=True), psycopg.ClientCursor(conn) as cur:
        cur.execute(f"SET LOCAL plan_cache_mode = {mode}")
        cur.execute(f"PREPARE planned AS {sql}")
        args = ", ".join(["%s"] * len(names))
        cur.execute(f"EXPLAIN (FORMAT JSON) EXECUTE planned({args})", [params[n] for n in names])
        ((found,),) = cur.fetchall()
        cur.execute("DEALLOCATE planned")  # a rollback keeps prepared statements
    return found[0]["Plan"]  # type: ignore[no-any-return]


def nodes(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """A plan's nodes, the root first. On the Citus tier, the workers' plans
    (under the coordinator's "Distributed Query") come after the node that
    runs them."""
    tasks = tree.get("Distributed Query", {}).get("Job", {}).get("Tasks", [])
    remote = [
        node
        for task in tasks
        for explained in task.get("Remote Plan", [])
        for output in explained
        for node in nodes(output["Plan"])
    ]
    return [tree, *remote, *(n for child in tree.get("Plans", []) for n in nodes(child))]


# --- the Citus tier ------------------------------------------------------------


def on_citus(conn: Conn) -> bool:
    """Whether ``conn`` is a database of the Citus tier (tests/citus_cluster.py)."""
    row = conn.execute("SELECT to_regclass('pg_catalog.pg_dist_shard') IS NOT NULL").fetchone()
    return bool(row and row[0])


def logical_name(conn: Conn, name: str) -> str:
    """The schema's name of a table or index that a worker reports (in a plan,
    or as ``tableoid::regclass``): on the Citus tier, a shard is named
    ``<name>_<shard id>``, and the suffix is dropped when it is the id of a
    shard of that table (or of the table that has that index). Elsewhere, and
    for any other name, ``name`` itself."""
    match = re.fullmatch(r"(.+)_([0-9]+)", name)
    if match is None or not on_citus(conn):
        return name
    row = conn.execute(
        """SELECT EXISTS (
            SELECT FROM pg_dist_shard s
            JOIN pg_class c ON c.oid = s.logicalrelid
                OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = s.logicalrelid)
            WHERE s.shardid = %s AND c.relname = %s)""",
        (int(match[2]), match[1]),
    ).fetchone()
    return match[1] if row and row[0] else name


def rebuild_event_tags(
    conn: psycopg.Connection[Any], project_id: uuid.UUID, *, batches: int | None = None
) -> None:
    """Makes a project's rows of event_tags again from its stored events
    (their times as they are now), in the shape of migration 0019's: its
    events in time order cut into batches of 500, a row per batch, pair and
    UTC day, newest first. ``batches``: instead, each event in one of that
    many batches by a hash of its id, so that the rows' times overlap as
    those of batches written at the same time do."""
    batch = (
        "(row_number() OVER (ORDER BY e.received_at, e.id) - 1) / 500"
        if batches is None
        else "abs(hashtext(e.id::text)) %% %(batches)s"
    )
    conn.execute("DELETE FROM event_tags WHERE project_id = %s", (project_id,))
    conn.execute(
        f"""INSERT INTO event_tags (project_id, tag_key, tag_value, received_at, event_id,
            received_ats, event_ids)
        SELECT %(p)s, r.tag_key, r.tag_value, r.received_ats[1], r.event_ids[1],
            r.received_ats, r.event_ids
        FROM (
            SELECT t.tag_key, t.tag_value,
                array_agg(b.received_at ORDER BY b.received_at DESC, b.id DESC) AS received_ats,
                array_agg(b.id ORDER BY b.received_at DESC, b.id DESC) AS event_ids
            FROM (SELECT e.id, e.received_at, e.tags, {batch} AS batch
                  FROM events AS e WHERE e.project_id = %(p)s) AS b
            CROSS JOIN LATERAL jsonb_each_text(b.tags) AS t (tag_key, tag_value)
            GROUP BY t.tag_key, t.tag_value, b.batch, date_trunc('day', b.received_at, 'UTC')
        ) AS r""",
        {"p": project_id, "batches": batches},
    )
