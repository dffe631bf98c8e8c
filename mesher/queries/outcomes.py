# Generated from mesher/aio/queries/outcomes.py by tools/gen_sync.py: edit that file.
"""What happened to what SDKs sent (sql/queries/outcomes.sql)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from uuid import UUID

from .._args import aware_datetime_arg, uuid_arg
from .._sql import BinaryArray
from ..errors import InvalidInput, translate_errors
from ..models import Outcome
from ._common import Conn, q

__all__ = ["project_outcomes", "record_outcomes"]

#: An outcome's key: (UTC hour's start, category, outcome, reason).
OutcomeKey = tuple[dt.datetime, str, str, str]


@translate_errors
def record_outcomes(conn: Conn, project_id: UUID | str, counts: Mapping[OutcomeKey, int]) -> None:
    """Add ``counts`` to a project's outcomes in one statement: keys are
    (start of a UTC hour, category, outcome, reason), values how many.
    ``InvalidInput`` for an unknown outcome or an over-long category or
    reason; ``NotFound`` for an unknown project."""
    pid = uuid_arg(project_id, "project_id")
    if not isinstance(counts, Mapping):
        raise InvalidInput("counts must be a mapping of (hour, category, outcome, reason) to int")
    keys = sorted(counts)
    for hour, *_ in keys:
        aware_datetime_arg(hour, "an outcome's hour")
    if not keys:
        return
    q.outcomes.record_outcomes(
        conn,
        project_id=pid,
        hour_starts=BinaryArray(k[0] for k in keys),
        categories=BinaryArray(k[1] for k in keys),
        outcomes=BinaryArray(k[2] for k in keys),
        reasons=BinaryArray(k[3] for k in keys),
        quantities=BinaryArray(counts[k] for k in keys),
    )


@translate_errors
def project_outcomes(conn: Conn, project_id: UUID | str, since: dt.datetime) -> list[Outcome]:
    """A project's outcomes from the UTC hour that holds ``since`` on, oldest
    hour first, then by category, outcome and reason."""
    pid = uuid_arg(project_id, "project_id")
    rows = q.outcomes.project_outcomes(
        conn, project_id=pid, since=aware_datetime_arg(since, "since")
    )
    return [Outcome.model_validate(row) for row in rows]
