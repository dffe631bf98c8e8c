"""Turning query results into what the helpers return."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from ._args import encode_cursor
from .errors import NotFound
from .models import Breadcrumb, Event, ExceptionInfo, Issue, IssueStatus, Project, Severity

R = TypeVar("R", Issue, Event)
M = TypeVar("M", bound=BaseModel)


def found(row: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """The row, or ``NotFound`` naming what was looked up."""
    if row is None:
        raise NotFound(f"{what} not found")
    return row


def keyset_page(rows: list[R], size: int) -> tuple[list[R], str | None]:
    """Keyset pages fetch size + 1 rows: the extra one says a next page exists,
    and the cursor is the (time, id) of the page's last row."""
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    at = last.last_seen if isinstance(last, Issue) else last.received_at
    return rows[:size], encode_cursor(at, last.id)


# --- rows the database already checked ------------------------------------------------
#
# A hot read's row needs no second validation: its columns' types (uuid,
# timestamptz, text, integer, and JSONB that the write path validated on the
# way in) are already the fields' types. Validating anyway cost 5 µs of a
# 130 µs API-key lookup, 48 µs of a 290 µs get_event (24 µs of it the
# stack frames alone), and about 0.2 ms of a 1.2 ms page of 50 issues. Only
# what the database returns in another form is converted: a level's or a
# status's text to its enum, and the JSON of the exception and of
# breadcrumbs (timestamps as text) into their types.


def trusted(model: type[M], values: dict[str, Any]) -> M:
    """``model`` holding ``values`` as they are: ``model_construct`` without
    its per-field loop (``values`` must name every field, in field order: the
    event and issue reads return whole table rows, and tests/test_rows.py
    checks that ``Event`` and ``Issue`` have the tables' columns, in order)."""
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


def project_from_row(row: dict[str, Any]) -> Project:
    return trusted(Project, row)


# The enums by value: a dict lookup costs a tenth of calling the enum class
# (the CHECK constraints keep the columns to these values).
_SEVERITIES = {s.value: s for s in Severity}
_STATUSES = {s.value: s for s in IssueStatus}


def issue_from_row(row: dict[str, Any]) -> Issue:
    """An issues row (``SELECT *``: every field of ``Issue``, in order) as an
    ``Issue``: a page of the issue stream is 50 of them."""
    row["level"] = _SEVERITIES[row["level"]]
    row["status"] = _STATUSES[row["status"]]
    return trusted(Issue, row)


_BREADCRUMBS: TypeAdapter[list[Breadcrumb]] = TypeAdapter(list[Breadcrumb])


def event_from_row(row: dict[str, Any]) -> Event:
    """An events row (``SELECT *``: every field of ``Event``, in order) as an
    ``Event``; NULL JSON columns read as empty."""
    row["level"] = _SEVERITIES[row["level"]]
    if row["exception"] is not None:
        row["exception"] = ExceptionInfo.model_validate(row["exception"])
    row["stacktrace"] = row["stacktrace"] or []
    row["breadcrumbs"] = _BREADCRUMBS.validate_python(row["breadcrumbs"] or [])
    row["user_context"] = row["user_context"] or {}
    row["exceptions"] = row["exceptions"] or []
    row["data"] = row["data"] or {}
    return trusted(Event, row)
