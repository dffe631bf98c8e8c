"""Where the SQL lives, and the aiosql loaders for it.

The source of truth is the repository's top-level ``sql/`` folder; a built
wheel carries a copy as ``mesher/sql``. Rows come back as dicts (column name
to value) so that the helpers can validate them straight into models.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import aiosql
import psycopg
import pydantic_core
from aiosql.adapters.apyformat import AsyncPyFormatAdapter
from aiosql.adapters.pyformat import PyFormatAdapter
from aiosql.queries import Queries
from psycopg.abc import Loader
from psycopg.rows import tuple_row
from psycopg.types.array import ListBinaryDumper
from psycopg.types.json import (
    JsonbBinaryLoader,
    JsonBinaryLoader,
    JsonbLoader,
    JsonLoader,
    JsonLoadsFunction,
)

T = TypeVar("T")


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


class _JsonBinaryLoader(JsonBinaryLoader):
    _loads: JsonLoadsFunction = _decode_json


class _JsonbBinaryLoader(JsonbBinaryLoader):
    _loads: JsonLoadsFunction = _decode_json


_ALL_JSON_LOADERS: tuple[tuple[int, type[Loader]], ...] = (
    (114, _JsonBinaryLoader),
    (3802, _JsonbBinaryLoader),
)


_JSON_OIDS = (114, 3802)  # json, jsonb
#: Per query, whether its rows carry json or jsonb columns (see _cursor):
#: learned from its first result.
_RETURNS_JSON: dict[str, bool] = {}
#: Per query, the JSON loaders (oid, loader) of rows_cursor its rows need:
#: learned from its first result; until then, all.
_JSON_LOADERS_NEEDED: dict[str, tuple[tuple[int, type[Loader]], ...]] = {}


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


# --- rows made into what the helpers return -------------------------------------------

#: Given a result's column names, the function that makes one row (its values,
#: in column order) into what a helper returns: a model, a pair...
RowMaker = Callable[[list[str]], Callable[[Sequence[Any]], T]]
#: Per query and RowMaker, the row function made from the query's first
#: result, with that result's number of columns.
_MAKERS: dict[tuple[str, Any], tuple[int, Callable[[Sequence[Any]], Any]]] = {}


def rows_cursor(conn: Any, query: Any) -> Any:
    """``_cursor`` for an aiosql ``query`` (run its ``sql``), with its rows in
    binary: uuid, timestamptz and integer columns load in a third less time
    than from text, and the server skips writing them out as text."""
    cur = conn.cursor(row_factory=tuple_row, binary=True)
    for oid, loader in _JSON_LOADERS_NEEDED.get(query.__name__, _ALL_JSON_LOADERS):
        cur.adapters.register_loader(oid, loader)
    return cur


def row_maker(query: Any, rows: RowMaker[T], cur: Any) -> Callable[[Sequence[Any]], T]:
    """The function that makes each of ``query``'s rows, on ``cur`` after it
    ran: made by ``rows`` from the column names once per query (again if the
    number of columns changed). Mapping it over the fetched tuples costs less
    than psycopg's row factories, which call it row by row from C."""
    key = (query.__name__, rows)
    made = _MAKERS.get(key)
    width = cur.pgresult.nfields
    if made is None or made[0] != width:
        columns = cur.description
        _JSON_LOADERS_NEEDED[key[0]] = tuple(
            (oid, loader)
            for oid, loader in _ALL_JSON_LOADERS
            if any(column.type_code == oid for column in columns)
        )
        made = _MAKERS[key] = (width, rows([column.name for column in columns]))
    return made[1]


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
