"""Turning query results into what the helpers return."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from ._args import encode_cursor
from .errors import NotFound
from .models import (
    Breadcrumb,
    Event,
    ExceptionInfo,
    Issue,
    IssueStatus,
    Project,
    Severity,
    TagValueCount,
)

R = TypeVar("R", Issue, Event)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def found(row: T | None, what: str, key: object = None) -> T:
    """The row (or what was made of it), or ``NotFound`` naming what was
    looked up: ``what``, followed by ``key`` if given (formatted only then:
    a hot read's id is not written out on every call)."""
    if row is None:
        raise NotFound(f"{what} not found" if key is None else f"{what} {key} not found")
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


_new = object.__new__
# BaseModel's slots, set through their own descriptors: what object.__setattr__
# does for them (a frozen model refuses its own __setattr__), without looking
# the name up each time.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def trusted(model: type[M], values: dict[str, Any]) -> M:
    """``model`` holding ``values`` as they are: ``model_construct`` without
    its per-field loop (``values`` must name every field, in field order: the
    event and issue reads return whole table rows, and tests/test_rows.py
    checks that ``Event`` and ``Issue`` have the tables' columns, in order)."""
    instance = _new(model)
    _set_dict(instance, values)
    _set_fields_set(instance, set(values))
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


def _whole_rows(model: type[BaseModel], names: list[str]) -> None:
    """Refuses a query whose columns are not ``model``'s fields in order
    (what ``trusted`` needs), when a row maker is made for it."""
    if names != list(model.model_fields):
        raise TypeError(f"a {model.__name__} row must have its fields as columns: {names}")


def project_from_row(row: dict[str, Any]) -> Project:
    return trusted(Project, row)


def project_rows(names: list[str]) -> Callable[[Sequence[Any]], Project]:
    """``project_from_row`` as a RowMaker (see ``issue_rows``)."""
    _whole_rows(Project, names)
    return lambda values: trusted(Project, dict(zip(names, values, strict=True)))


# The enums by value: a dict lookup costs a tenth of calling the enum class
# (the CHECK constraints keep the columns to these values).
_SEVERITIES = {s.value: s for s in Severity}
_STATUSES = {s.value: s for s in IssueStatus}


def issue_rows(names: list[str]) -> Callable[[Sequence[Any]], Issue]:
    """Makes each issues row into an ``Issue`` as psycopg loads it (a RowMaker,
    see mesher._sql.rows_cursor): ``issue_from_row`` in one pass, inlined (a
    page of the issue stream is 50 rows, and search's pages are its). The
    issues of a query share one set of field names (every field is set):
    pydantic adds to that set only when a field is assigned, which a frozen
    model refuses, and ``model_copy`` gives the copy its own."""
    _whole_rows(Issue, names)
    every_field = set(names)
    severities, statuses = _SEVERITIES, _STATUSES

    def make(values: Sequence[Any]) -> Issue:
        # as many values as names: mesher._sql.row_maker makes a new function
        # for a result of another width (and strict=True costs 0.2 µs a row)
        row = dict(zip(names, values, strict=False))
        row["level"] = severities[row["level"]]
        row["status"] = statuses[row["status"]]
        issue = _new(Issue)
        _set_dict(issue, row)
        _set_fields_set(issue, every_field)
        _set_extra(issue, None)
        _set_private(issue, None)
        return issue

    return make


def event_rows(names: list[str]) -> Callable[[Sequence[Any]], Event]:
    """``event_from_row`` as a RowMaker (see ``issue_rows``)."""
    _whole_rows(Event, names)
    return lambda values: event_from_row(dict(zip(names, values, strict=True)))


def tag_value_counts(names: list[str]) -> Callable[[Sequence[Any]], TagValueCount]:
    """A RowMaker of ``TagValueCount``: rows of a value, its events, first
    and last seen (the model's fields in order, under the table's names)."""
    if names != ["tag_value", "times_seen", "first_seen", "last_seen"]:
        raise TypeError(f"a TagValueCount row must be value, count, first and last seen: {names}")
    fields = list(TagValueCount.model_fields)
    return lambda values: trusted(TagValueCount, dict(zip(fields, values, strict=True)))


def dicts(names: list[str]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """A RowMaker of a dict per row, by column name."""
    return lambda values: dict(zip(names, values, strict=True))


def tuples(names: list[str]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A RowMaker that keeps rows as they come: tuples, in column order."""
    return tuple


def _two_columns(names: list[str]) -> None:
    if len(names) != 2:
        raise TypeError(f"(key, count) rows have two columns: {names}")


def level_pairs(names: list[str]) -> Callable[[Sequence[Any]], tuple[Severity, Any]]:
    """A RowMaker for ``(level, count)`` rows: the level as a ``Severity``."""
    _two_columns(names)
    severities = _SEVERITIES
    return lambda values: (severities[values[0]], values[1])


def status_pairs(names: list[str]) -> Callable[[Sequence[Any]], tuple[IssueStatus, Any]]:
    """A RowMaker for ``(status, count)`` rows: the status as an ``IssueStatus``."""
    _two_columns(names)
    statuses = _STATUSES
    return lambda values: (statuses[values[0]], values[1])


def issue_from_row(row: dict[str, Any]) -> Issue:
    """An issues row (``SELECT *``: every field of ``Issue``, in order) as an
    ``Issue``: a page of the issue stream is 50 of them."""
    row["level"] = _SEVERITIES[row["level"]]
    row["status"] = _STATUSES[row["status"]]
    return trusted(Issue, row)


_BREADCRUMBS: TypeAdapter[list[Breadcrumb]] = TypeAdapter(list[Breadcrumb])


_EXCEPTION_FIELDS = list(ExceptionInfo.model_fields)


def _exception(stored: Any) -> ExceptionInfo:
    """An event's stored exception as an ``ExceptionInfo``. Both write paths
    store all its fields, in order, as text (or a null module), which needs no
    validation: only what is stored otherwise (a row written by hand) is
    validated."""
    if (
        type(stored) is dict
        and list(stored) == _EXCEPTION_FIELDS
        and type(stored["type_name"]) is str
        and type(stored["value"]) is str
        and (stored["module"] is None or type(stored["module"]) is str)
    ):
        return trusted(ExceptionInfo, stored)
    return ExceptionInfo.model_validate(stored)


def event_from_row(row: dict[str, Any]) -> Event:
    """An events row (``SELECT *``: every field of ``Event``, in order) as an
    ``Event``; NULL JSON columns read as empty."""
    row["level"] = _SEVERITIES[row["level"]]
    if row["exception"] is not None:
        row["exception"] = _exception(row["exception"])
    row["stacktrace"] = row["stacktrace"] or []
    row["breadcrumbs"] = _BREADCRUMBS.validate_python(row["breadcrumbs"] or [])
    row["user_context"] = row["user_context"] or {}
    row["exceptions"] = row["exceptions"] or []
    row["data"] = row["data"] or {}
    return trusted(Event, row)
