"""Where the SQL lives, and the aiosql loaders for it.

The source of truth is the repository's top-level ``sql/`` folder; a built
wheel carries a copy as ``mesher/sql``. Rows come back as dicts (column name
to value) so that the helpers can validate them straight into models.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Generator
from functools import cache
from pathlib import Path
from typing import Any

import aiosql
import psycopg
import pydantic_core
from aiosql.adapters.apyformat import AsyncPyFormatAdapter
from aiosql.adapters.pyformat import PyFormatAdapter
from aiosql.queries import Queries
from psycopg.rows import tuple_row
from psycopg.types.array import ListBinaryDumper
from psycopg.types.json import JsonbLoader, JsonLoader, JsonLoadsFunction


def sql_dir() -> Path:
    """The folder holding ``migrations/`` and ``queries/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "sql", here.parent / "sql"):
        if (candidate / "queries").is_dir():
            return candidate
    raise FileNotFoundError(f"mesher's SQL files are missing: looked in {here / 'sql'}")


class BinaryArray(list[Any]):
    """A list that psycopg sends as a binary array. psycopg sends a plain list
    as text, quoting each item and writing each timestamp out: for the
    thousands of items of the write path's tag store statement, that cost
    about eight times what the binary form does (60 ms against 8 ms for six
    arrays of 2,500). Registered on psycopg's global adapters, for this class
    only; a connection made before this module was imported sends it as text."""


psycopg.adapters.register_dumper(BinaryArray, ListBinaryDumper)


# Column names per query, read once from the first result's description:
# rows come back as tuples (psycopg's cheapest row factory), and the helpers
# get dicts built from these names, whatever row factory the caller's
# connection uses.
_COLUMNS: dict[str, list[str]] = {}


def _columns(query_name: str, cursor: Any) -> list[str]:
    names = _COLUMNS.get(query_name)
    if names is None:
        names = _COLUMNS[query_name] = [column.name for column in cursor.description]
    return names


def _decode_json(data: str | bytes) -> Any:
    """JSON text to Python values, as ``json.loads`` gives them, in a third of
    its time: pydantic-core's parser (Rust), which stops at 200 levels of
    nesting, where ``json.loads`` takes over."""
    try:
        return pydantic_core.from_json(data)
    except ValueError:
        return json.loads(data)


class _JsonLoader(JsonLoader):
    _loads: JsonLoadsFunction = _decode_json


class _JsonbLoader(JsonbLoader):
    _loads: JsonLoadsFunction = _decode_json


_JSON_OIDS = (114, 3802)  # json, jsonb
#: Per query, whether its rows carry json or jsonb columns (see _cursor):
#: learned from its first result.
_RETURNS_JSON: dict[str, bool] = {}


def _cursor(conn: Any, query_name: str) -> Any:
    """A cursor for a query's rows, as tuples. Their JSON is decoded by
    ``_decode_json``, on this cursor only: the caller's connection keeps its own
    loaders, and the layer decodes the same way whatever they are. Fetching
    events, ``json.loads`` took about 60 % of the time; registering costs a few
    microseconds per call, so it is skipped for a query whose first result had
    no JSON column."""
    cur = conn.cursor(row_factory=tuple_row)
    if _RETURNS_JSON.get(query_name, True):
        cur.adapters.register_loader(_JSON_OIDS[0], _JsonLoader)
        cur.adapters.register_loader(_JSON_OIDS[1], _JsonbLoader)
    return cur


def _learn(query_name: str, cur: Any) -> None:
    """Notes whether a query's rows carry JSON (see _cursor), once."""
    if query_name not in _RETURNS_JSON and cur.description is not None:
        _RETURNS_JSON[query_name] = any(c.type_code in _JSON_OIDS for c in cur.description)


class _Adapter(PyFormatAdapter):
    """aiosql's psycopg adapter, with rows as dicts for every select."""

    def select(
        self,
        conn: Any,
        query_name: str,
        sql: str,
        parameters: Any,
        record_class: Callable[..., Any] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        with _cursor(conn, query_name) as cur:
            cur.execute(sql, parameters)
            _learn(query_name, cur)
            rows = cur.fetchall()
            names = _columns(query_name, cur) if rows else []
        for row in rows:
            yield dict(zip(names, row, strict=True))

    def select_one(  # type: ignore[override]  # a dict row, not aiosql's tuple
        self, conn: Any, query_name: str, sql: str, parameters: Any, record_class: Any = None
    ) -> dict[str, Any] | None:
        with _cursor(conn, query_name) as cur:
            cur.execute(sql, parameters)
            _learn(query_name, cur)
            row = cur.fetchone()
            return None if row is None else dict(zip(_columns(query_name, cur), row, strict=True))

    def select_value(self, conn: Any, query_name: str, sql: str, parameters: Any) -> Any:
        with _cursor(conn, query_name) as cur:
            cur.execute(sql, parameters)
            _learn(query_name, cur)
            row = cur.fetchone()
            return row[0] if row else None


class _AsyncAdapter(AsyncPyFormatAdapter):
    """The async twin of _Adapter."""

    async def select(
        self,
        conn: Any,
        query_name: str,
        sql: str,
        parameters: Any,
        record_class: Callable[..., Any] | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        async with _cursor(conn, query_name) as cur:
            await cur.execute(sql, parameters)
            _learn(query_name, cur)
            rows = await cur.fetchall()
            names = _columns(query_name, cur) if rows else []
        for row in rows:
            yield dict(zip(names, row, strict=True))

    async def select_one(
        self, conn: Any, query_name: str, sql: str, parameters: Any, record_class: Any = None
    ) -> dict[str, Any] | None:
        async with _cursor(conn, query_name) as cur:
            await cur.execute(sql, parameters)
            _learn(query_name, cur)
            row = await cur.fetchone()
            return None if row is None else dict(zip(_columns(query_name, cur), row, strict=True))

    async def select_value(self, conn: Any, query_name: str, sql: str, parameters: Any) -> Any:
        async with _cursor(conn, query_name) as cur:
            await cur.execute(sql, parameters)
            _learn(query_name, cur)
            row = await cur.fetchone()
            return row[0] if row else None


def load_queries(
    adapter: type[PyFormatAdapter] | type[AsyncPyFormatAdapter], folder: Path | None = None
) -> Any:
    """The queries of ``sql/queries/<entity>.sql``, one namespace per file, as
    aiosql names a folder's subfolders: ``q.events.get_event``. The package's
    own code calls them so, which says where each query lives.

    Each query also answers by its bare name (``q.get_event``, the same
    callable), and ``available_queries`` lists both forms: names are unique
    across the files (a second one fails the load), so a query can be looked
    up by its name alone, as tests and benchmarks do.

    ``folder`` defaults to ``sql_dir() / "queries"``."""
    loaded = Queries(adapter())
    for path in sorted((folder or sql_dir() / "queries").glob("*.sql")):
        entity = aiosql.from_path(path, adapter)
        loaded.add_child_queries(path.stem, entity)
        for name in entity.available_queries:
            # add_query refuses a name already taken, by a query or a namespace
            loaded.add_query(name, getattr(entity, name))
    return loaded


@cache
def sync_queries() -> Any:
    return load_queries(_Adapter)


@cache
def async_queries() -> Any:
    return load_queries(_AsyncAdapter)
