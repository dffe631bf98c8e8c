# Generated from mesher/aio/queries/_common.py by tools/gen_sync.py: edit that file.
"""What every query module shares: the loaded SQL and the connection type."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from .._sql import sync_queries

#: The named queries of sql/queries/*.sql, as aiosql callables.
q = sync_queries()
Conn = Connection[Any]
