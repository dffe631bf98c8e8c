"""The event row and the issue row are defined once: by their tables.

Every event read returns the whole events row (``SELECT *``), every issue read
and update the whole issues row, and ``mesher._results`` builds ``Event`` and
``Issue`` from those rows without validating them again, which needs the
model's fields to be the table's columns in the table's order. The write
path's COPY and INSERT, and the rows they take, come from
``mesher._rows.EventRow``. These tests fail when the models, the tables, the
queries and ``EventRow`` disagree."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from psycopg import pq
from pydantic import BaseModel

from mesher._rows import COPY_EVENTS, INSERT_EVENT, EventRow
from mesher._sql import sync_queries
from mesher.ingest import ingest_event, ingest_events
from mesher.models import Event, Issue

Conn = psycopg.Connection[Any]

#: The queries whose rows become ``Event``s (event_from_row) and ``Issue``s
#: (issue_from_row).
EVENT_READS = (
    "get_event",
    "list_events_for_issue",
    "list_events_for_issue_in_project",
    "list_events_for_issue_after",
    "list_events_for_issue_after_in_project",
    "filter_events_by_tags",
)
ISSUE_READS = (
    "get_issue",
    "get_issue_in_project",
    "list_issues",
    "list_issues_after",
    "top_issues",
    "set_issue_status",
    "assign_issue",
    "assign_issue_in_project",
    "search_issues",
    "search_issues_new",
    "search_issues_freq",
)


def table_columns(conn: Conn, table: str) -> list[str]:
    """A table's columns, in its order."""
    rows = conn.execute(
        "SELECT attname FROM pg_attribute"
        " WHERE attrelid = cast(%s AS REGCLASS) AND attnum > 0 AND NOT attisdropped"
        " ORDER BY attnum",
        [table],
    ).fetchall()
    return [name for (name,) in rows]


def result_columns(conn: Conn, query_name: str) -> list[str]:
    """The columns a query returns, as the server describes its statement
    (prepared, not run: an update changes nothing)."""
    numbers: dict[str, int] = {}
    sql = re.sub(
        r"%\((\w+)\)s",
        lambda m: f"${numbers.setdefault(m[1], len(numbers) + 1)}",
        getattr(sync_queries(), query_name).sql,
    )
    prepared = conn.pgconn.prepare(b"", sql.encode())
    assert prepared.status == pq.ExecStatus.COMMAND_OK, prepared.error_message
    described = conn.pgconn.describe_prepared(b"")
    assert described.status == pq.ExecStatus.COMMAND_OK, described.error_message
    return [(described.fname(i) or b"").decode() for i in range(described.nfields)]


def fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


@pytest.mark.parametrize(("table", "model"), [("events", Event), ("issues", Issue)])
def test_model_fields_are_the_tables_columns_in_order(
    conn: Conn, table: str, model: type[BaseModel]
) -> None:
    assert fields(model) == table_columns(conn, table)


@pytest.mark.parametrize("name", EVENT_READS)
def test_event_reads_return_the_events_row(conn: Conn, name: str) -> None:
    assert result_columns(conn, name) == fields(Event)


@pytest.mark.parametrize("name", ISSUE_READS)
def test_issue_reads_return_the_issues_row(conn: Conn, name: str) -> None:
    assert result_columns(conn, name) == fields(Issue)


def test_event_row_is_the_events_row(conn: Conn) -> None:
    assert list(EventRow._fields) == table_columns(conn, "events") == fields(Event)


def test_copy_and_insert_name_the_event_rows_columns(conn: Conn) -> None:
    columns = ", ".join(EventRow._fields)
    assert f"COPY events ({columns}) FROM STDIN" == COPY_EVENTS
    assert INSERT_EVENT.startswith(f"INSERT INTO events ({columns}) VALUES (")
    values = INSERT_EVENT.split(" VALUES (", 1)[1].removesuffix(")").split(", ")
    jsonb = {
        name
        for (name,) in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = cast('events' AS REGCLASS)"
            " AND atttypid = cast('jsonb' AS REGTYPE) AND NOT attisdropped"
        )
    }
    assert len(jsonb) == 8
    assert dict(zip(EventRow._fields, values, strict=True)) == {
        name: "cast(%s AS JSONB)" if name in jsonb else "%s" for name in EventRow._fields
    }


def test_events_are_written_whatever_the_connections_str_dumper(
    conn: Conn, project_id: Any
) -> None:
    """The INSERT of a single event casts its JSON text to JSONB, so a
    connection that sends ``str`` as text (not psycopg's default, unknown)
    writes events too; the COPY's text format needs no cast."""
    from psycopg.types.string import StrDumper

    conn.adapters.register_dumper(str, StrDumper)
    conn.execute("CREATE TEMPORARY TABLE j (v JSONB)")
    with pytest.raises(psycopg.errors.DatatypeMismatch):  # what the casts prevent
        conn.execute("INSERT INTO j VALUES (%s)", ["{}"])
    conn.rollback()
    one = ingest_event(conn, project_id, {"message": "one", "tags": {"k": "v"}})
    two = ingest_events(conn, project_id, [{"message": "a"}, {"message": "b", "extra": {"x": 1}}])
    stored = conn.execute(
        "SELECT message, tags, extra FROM events WHERE id = any(%s) ORDER BY id",
        [[one.event_id, *(e.event_id for e in two)]],
    ).fetchall()
    assert stored == [("one", {"k": "v"}, {}), ("a", {}, {}), ("b", {}, {"x": 1})]


def test_a_column_the_models_lack_fails_the_checks(owner_conn: Conn) -> None:
    """A migration that adds a column to events or issues changes every read
    of them: the checks above fail until the model (and, for events,
    ``EventRow``) has the field."""
    for table in ("events", "issues"):
        owner_conn.execute(f"ALTER TABLE {table} ADD COLUMN note TEXT")
    assert table_columns(owner_conn, "events") == [*EventRow._fields, "note"]
    assert table_columns(owner_conn, "events") == [*fields(Event), "note"]
    assert table_columns(owner_conn, "issues") == [*fields(Issue), "note"]
    assert result_columns(owner_conn, "get_event") == [*fields(Event), "note"]
    assert result_columns(owner_conn, "set_issue_status") == [*fields(Issue), "note"]
    assert result_columns(owner_conn, "search_issues_freq") == [*fields(Issue), "note"]
