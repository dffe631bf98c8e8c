"""Turning query results into what the helpers return."""

from __future__ import annotations

from typing import Any, TypeVar

from ._args import encode_cursor
from .errors import NotFound
from .models import Event, Issue

R = TypeVar("R", Issue, Event)


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
