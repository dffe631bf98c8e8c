"""What every query module shares: the loaded SQL and the connection type."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..._sql import async_queries

#: The named queries of sql/queries/*.sql, as aiosql callables.
q = async_queries()
Conn = AsyncConnection[Any]
