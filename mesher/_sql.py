"""Where the SQL lives, and the aiosql loaders for it.

The source of truth is the repository's top-level ``sql/`` folder; a built
wheel carries a copy as ``mesher/sql``. Rows come back as dicts (column name
to value) so that the helpers can validate them straight into models,
whatever row factory the caller's connection uses.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from functools import cache
from pathlib import Path
from typing import Any

import aiosql
from aiosql.adapters.apyformat import AsyncPyFormatAdapter
from aiosql.adapters.pyformat import PyFormatAdapter
from psycopg.rows import dict_row, tuple_row


def sql_dir() -> Path:
    """The folder holding ``schema/`` and ``queries/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "sql", here.parent / "sql"):
        if (candidate / "queries").is_dir():
            return candidate
    raise FileNotFoundError(f"mesher's SQL files are missing: looked in {here / 'sql'}")


class _DictRowAdapter(PyFormatAdapter):
    """aiosql's psycopg adapter, with dict rows for every select."""

    def __init__(self) -> None:
        super().__init__(row_factory=dict_row)  # type: ignore[no-untyped-call]


class _AsyncDictRowAdapter(AsyncPyFormatAdapter):
    """aiosql's async psycopg adapter, with dict rows (it otherwise uses the
    connection's row factory)."""

    async def select(
        self,
        conn: Any,
        query_name: str,
        sql: str,
        parameters: dict[str, Any] | list[Any] | None,
        record_class: Callable[..., Any] | None = None,
    ) -> AsyncGenerator[Any, None]:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, parameters)
            for row in await cur.fetchall():
                yield row

    async def select_one(
        self, conn: Any, query_name: str, sql: str, parameters: Any, record_class: Any = None
    ) -> dict[str, Any] | None:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, parameters)
            row: dict[str, Any] | None = await cur.fetchone()
            return row

    async def select_value(self, conn: Any, query_name: str, sql: str, parameters: Any) -> Any:
        async with conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(sql, parameters)
            row = await cur.fetchone()
            return row[0] if row else None


@cache
def sync_queries() -> Any:
    return aiosql.from_path(sql_dir() / "queries", _DictRowAdapter)


@cache
def async_queries() -> Any:
    return aiosql.from_path(sql_dir() / "queries", _AsyncDictRowAdapter)
