"""What every query module shares: the loaded SQL, the connection type, and
the choice between a query and its project-scoped variant."""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from ..._args import uuid_arg
from ..._sql import async_queries

#: The named queries of sql/queries/*.sql, as aiosql callables.
q = async_queries()
Conn = AsyncConnection[Any]


def in_project(unscoped: Any, scoped: Any, project_id: UUID | str | None) -> Any:
    """The query a helper runs for its ``project_id=``: without one,
    ``unscoped`` (the lookup by id alone, across projects); with one, its
    ``<name>_in_project`` variant ``scoped`` with the (validated) project_id
    bound, whose ``WHERE project_id = :project_id AND ...`` routes to one shard
    on Citus and finds nothing for a row of another project."""
    if project_id is None:
        return unscoped
    return partial(scoped, project_id=uuid_arg(project_id, "project_id"))
