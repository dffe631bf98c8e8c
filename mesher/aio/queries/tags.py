"""The tag store: an issue's tag facets and a project's tags for
autocompletion (sql/queries/tags.sql).

The write path (``mesher.ingest``) keeps the counts: per issue and per
project, the events that carried each tag key and value, with their first
and last times. An event's tags count, and for Sentry events their
environment and release, as the tags ``environment`` and ``release``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ..._args import count_arg, uuid_arg
from ..._results import dicts, tag_value_counts, trusted
from ...errors import InvalidInput, NotFound, translate_errors
from ...limits import MAX_FACET_VALUES, MAX_PAGE
from ...models import (
    MAX_TAG_NAME,
    MAX_TAG_VALUE,
    FacetValue,
    TagFacet,
    TagKeyBound,
    TagValueCount,
)
from ._common import Conn, fetch_all, in_project_params, q

__all__ = ["issue_tag_facets", "project_tag_key_bounds", "project_tag_keys", "project_tag_values"]

#: After every stored tag value in code point order (tag_value is COLLATE
#: "C"): values are at most MAX_TAG_VALUE characters, so each is smaller
#: than this string of one more of the largest code point.
_AFTER_EVERY_VALUE = "\U0010ffff" * (MAX_TAG_VALUE + 1)


@translate_errors
async def issue_tag_facets(
    conn: Conn, issue_id: UUID | str, top: int = 10, *, project_id: UUID | str | None = None
) -> list[TagFacet]:
    """Every tag key of an issue, in key order: its ``top`` values (most seen
    first, ties by value), each with its count and its share of the issue's
    events, and the key's number of distinct values. A key past its
    project's value bound (``project_tag_keys.value_bound``) says how many
    of its events carried values without rows of their own
    (``untracked_events``; those values are never listed, and
    ``distinct_values`` then counts the others). ``NotFound`` if there is
    no such issue (or, with ``project_id``, it belongs to another project)."""
    params: dict[str, Any] = {
        "issue_id": uuid_arg(issue_id, "issue_id"),
        "top": count_arg(top, "top", minimum=1, maximum=MAX_FACET_VALUES),
    }
    query = in_project_params(
        q.tags.issue_tag_facets, q.tags.issue_tag_facets_in_project, project_id, params
    )
    # the hot reads' path (fetch_all), the models made without validating
    # the rows again (trusted: the tag store holds what the write path checked)
    rows = await fetch_all(conn, query, dicts, params)
    if not rows:
        raise NotFound(f"issue {issue_id} not found")
    facets: list[TagFacet] = []
    values: list[FacetValue] = []
    for index, row in enumerate(rows):
        if row["tag_key"] is None:  # an issue without tags
            break
        if row["tag_value"] is not None:  # None: a key with untracked values only
            values.append(
                trusted(FacetValue, {
                    "value": row["tag_value"],
                    "count": row["times_seen"],
                    "first_seen": row["first_seen"],
                    "last_seen": row["last_seen"],
                    "share": row["times_seen"] / max(row["issue_event_count"], 1),
                })
            )  # fmt: skip
        if index + 1 == len(rows) or rows[index + 1]["tag_key"] != row["tag_key"]:
            facets.append(
                trusted(TagFacet, {
                    "key": row["tag_key"],
                    "event_count": row["key_event_count"],
                    "distinct_values": row["distinct_values"],
                    "top_values": values,
                    "untracked_events": row["untracked_events"],
                })
            )  # fmt: skip
            values = []
    return facets


@translate_errors
async def project_tag_keys(conn: Conn, project_id: UUID | str) -> list[str]:
    """The tag keys seen in a project's events, in code point order."""
    rows = q.tags.project_tag_keys(conn, project_id=uuid_arg(project_id, "project_id"))
    return [row["tag_key"] async for row in rows]


@translate_errors
async def project_tag_key_bounds(conn: Conn, project_id: UUID | str) -> list[TagKeyBound]:
    """A project's tag keys in code point order, each with its bound on the
    values with rows of their own: ``untracked_events`` > 0 says that the
    key's values in ``project_tag_values`` and in facets are not all of them."""
    rows = q.tags.project_tag_key_bounds(conn, project_id=uuid_arg(project_id, "project_id"))
    return [
        TagKeyBound(
            key=row["tag_key"],
            value_bound=row["value_bound"],
            tracked_values=row["tracked_values"],
            untracked_events=row["untracked_events"],
        )
        async for row in rows
    ]


@translate_errors
async def project_tag_values(
    conn: Conn, project_id: UUID | str, key: str, prefix: str = "", limit: int = 20
) -> list[TagValueCount]:
    """A tag key's values in a project that start with ``prefix`` (taken
    literally: ``%`` and ``_`` are characters like any other), most seen
    first, ties by value; at most ``limit``."""
    pid = uuid_arg(project_id, "project_id")
    tag_key = _text(key, "key", 1, MAX_TAG_NAME)
    start = _text(prefix, "prefix", 0, MAX_TAG_VALUE)
    params = {
        "project_id": pid,
        "tag_key": tag_key,
        "prefix": start,
        "prefix_end": _after_prefix(start),
        "page_size": count_arg(limit, "limit", minimum=1, maximum=MAX_PAGE),
    }  # autocompletion, a read per keystroke: the hot reads' path (fetch_all)
    return await fetch_all(conn, q.tags.project_tag_values, tag_value_counts, params)


def _text(value: Any, name: str, shortest: int, longest: int) -> str:
    """A tag key or value as the write path stores them: a string of
    ``shortest`` to ``longest`` characters, without NUL, valid Unicode."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, got {type(value).__name__}")
    if not shortest <= len(value) <= longest:
        raise InvalidInput(f"{name} must be {shortest} to {longest} characters long")
    if "\x00" in value:
        raise InvalidInput(f"{name} contains a NUL character")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid Unicode text (a lone surrogate)") from None
    return value


def _after_prefix(prefix: str) -> str:
    """The smallest string, in code point order, after every string that
    starts with ``prefix``: its last character that is not the largest code
    point, plus one (surrogates skipped), with what follows it dropped."""
    chars = list(prefix)
    while chars:
        following = ord(chars.pop()) + 1
        if following <= 0x10FFFF:
            following = 0xE000 if 0xD800 <= following <= 0xDFFF else following
            return "".join(chars) + chr(following)
    return _AFTER_EVERY_VALUE
