"""Issue search: Sentry's query syntax, parsed into typed terms.

``parse(query)`` returns a :class:`SearchQuery`, a tuple of terms that all
must match (AND); it evaluates nothing and runs no SQL. Terms, separated by
whitespace:

- ``is:unresolved|resolved|archived`` (:class:`StatusFilter` with an
  :class:`~mesher.models.IssueStatus`), ``is:assigned|unassigned``
  (:class:`StatusFilter` with an :class:`Assignment`);
- ``assigned:<user id or email>`` (:class:`AssignedFilter`);
- ``level:error`` (:class:`LevelFilter`, the five Severity values),
  ``environment:prod``, ``release:1.2.3`` (:class:`AttributeFilter`);
- ``firstSeen:`` / ``lastSeen:`` (:class:`TimeFilter`): an operator ``>``,
  ``<``, ``>=`` or ``<=`` and a bound, absolute (``2026-11-01``,
  ``2026-11-01T12:00:00``, optionally ``Z`` or ``+02:00``; no zone = UTC)
  or relative (``-24h``: 24 hours ago; units ``m``, ``h``, ``d``, ``w``).
  As in Sentry, a relative bound without operator means *within*:
  ``lastSeen:-24h`` is ``last_seen >= now - 24h``, and ``+24h`` *older
  than*: ``lastSeen:+24h`` is ``last_seen <= now - 24h``. Relative bounds
  stay relative (a ``timedelta``) until :meth:`TimeFilter.at` or
  :meth:`SearchQuery.resolve` is given a ``now``;
- ``times_seen:100`` (equals) or ``times_seen:>100`` (:class:`CountFilter`),
  and ``users:>10`` likewise on the users affected (``user_count``);
- ``firstRelease:1.2.3`` (:class:`FirstReleaseFilter`): the release the
  issue was first seen in (its ``first_release``) is one of these;
- any other ``key:value`` (:class:`TagFilter`); a key with ``:`` or named
  like a key above is written ``tags[key]:value``;
- bare words, quoted phrases and ``message:<text>`` (:class:`TextFilter`):
  each must occur in the issue title.

``!`` before ``is``, ``assigned``, ``level``, ``environment``, ``release``
and tag filters negates them. ``key:[a, b, "c d"]`` matches any of the
values (not for ``is``, times, counts or text). Values may be quoted, with
``\\"`` and ``\\\\`` as the only escapes. Boolean ``OR``/``AND`` are refused,
as in Sentry's issue search.

A malformed query raises :class:`~mesher.errors.InvalidInput`, whose message
reads ``search query: at position N, expected ...``; positions are 1-based
and count characters. ``str(query)`` is a canonical query string that parses
back to an equal object.

The SQL step (``mesher.queries.search_issues``) uses :func:`checked`,
:func:`assignee_emails` and :func:`sql_filters`: the terms become the bound
parameters of one static statement (sql/queries/search.sql); no value of the
query ever becomes SQL text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal, NoReturn, TypeAlias
from uuid import UUID

from ._args import aware_datetime_arg, email_arg
from .errors import InvalidInput
from .limits import MAX_SEARCH_LENGTH, MAX_SEARCH_RELATIVE_DAYS, MAX_SEARCH_TERMS
from .models import MAX_TAG_NAME, MAX_TAG_VALUE, IssueStatus, Severity

__all__ = [
    "AssignedFilter",
    "Assignment",
    "AttributeFilter",
    "CountFilter",
    "FirstReleaseFilter",
    "LevelFilter",
    "SearchQuery",
    "StatusFilter",
    "TagFilter",
    "Term",
    "TextFilter",
    "TimeFilter",
    "assignee_emails",
    "checked",
    "like_pattern",
    "parse",
    "sql_filters",
    "tag_lookups",
    "tag_plan",
]

Comparison = Literal[">", ">=", "<", "<="]
_OPERATORS: tuple[Comparison, ...] = (">=", "<=", ">", "<")  # longest first
_MINUTES = {"m": 1, "h": 60, "d": 1440, "w": 10080}
_RELATIVE = re.compile(r"([+-])([0-9]{1,9})([mhdw])")
_ABSOLUTE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
_COUNT = re.compile(r"[0-9]{1,19}")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_TAG_KEY_CHARS = _KEY_CHARS | {":"}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_KEYS = frozenset(
    {"is", "assigned", "level", "environment", "release", "firstSeen", "lastSeen",
     "times_seen", "message", "firstRelease", "users"}
)  # fmt: skip
_NEGATABLE = "is, assigned, level, environment, release and tag filters"
_LISTS = "level, environment, release, firstRelease, assigned and tags"
_DATE_HELP = "a date (2026-11-01 or 2026-11-01T12:00:00, optionally Z or +02:00)"
_RELATIVE_HELP = "a relative time (-24h, +7d; units m, h, d, w)"
_UTC = dt.UTC
_EARLIEST = dt.datetime.min.replace(tzinfo=_UTC)


class Assignment(StrEnum):
    """``is:assigned`` / ``is:unassigned``: whether an issue has an assignee."""

    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"


@dataclass(frozen=True, slots=True)
class StatusFilter:
    """``is:<value>``: an issue status, or whether it is assigned."""

    value: IssueStatus | Assignment
    negated: bool = False

    def __str__(self) -> str:
        return f"{_bang(self.negated)}is:{self.value.value}"


@dataclass(frozen=True, slots=True)
class AssignedFilter:
    """``assigned:``: assigned to one of these users (by id or by email)."""

    users: tuple[UUID | str, ...]
    negated: bool = False

    def __str__(self) -> str:
        return f"{_bang(self.negated)}assigned:{_values([str(u) for u in self.users])}"


@dataclass(frozen=True, slots=True)
class LevelFilter:
    """``level:``: the issue's level is one of these."""

    levels: tuple[Severity, ...]
    negated: bool = False

    def __str__(self) -> str:
        return f"{_bang(self.negated)}level:{_values([v.value for v in self.levels])}"


@dataclass(frozen=True, slots=True)
class AttributeFilter:
    """``environment:`` or ``release:``: the attribute is one of these values."""

    name: Literal["environment", "release"]
    values: tuple[str, ...]
    negated: bool = False

    def __str__(self) -> str:
        return f"{_bang(self.negated)}{self.name}:{_values(self.values)}"


@dataclass(frozen=True, slots=True)
class TimeFilter:
    """``firstSeen:``/``lastSeen:``: ``<field> <op> <bound>``. A ``timedelta``
    bound is relative: it stands for ``now - bound`` (see :meth:`at`)."""

    field: Literal["first_seen", "last_seen"]
    op: Comparison
    bound: dt.datetime | dt.timedelta

    @property
    def relative(self) -> bool:
        """Whether the bound depends on the time the query runs."""
        return isinstance(self.bound, dt.timedelta)

    def at(self, now: dt.datetime) -> dt.datetime:
        """The bound as a UTC datetime, a relative one counted back from ``now``
        (a timezone-aware datetime)."""
        if isinstance(self.bound, dt.datetime):
            return self.bound.astimezone(_UTC)
        now = aware_datetime_arg(now, "now").astimezone(_UTC)
        return _EARLIEST if now - _EARLIEST < self.bound else now - self.bound

    def __str__(self) -> str:
        key = "firstSeen" if self.field == "first_seen" else "lastSeen"
        if isinstance(self.bound, dt.datetime):
            at = self.bound.astimezone(_UTC).isoformat().removesuffix("+00:00")
            return f"{key}:{self.op}{at}Z"
        ago = _duration(self.bound)
        if self.op in (">=", "<="):
            return f"{key}:{'-' if self.op == '>=' else '+'}{ago}"
        return f"{key}:{self.op}-{ago}"


@dataclass(frozen=True, slots=True)
class CountFilter:
    """``times_seen:`` (the issue's event count) or ``users:`` (its users
    affected): ``<field> <op> value``."""

    op: Literal["=", ">", ">=", "<", "<="]
    value: int
    field: Literal["event_count", "user_count"] = "event_count"

    def __str__(self) -> str:
        key = "times_seen" if self.field == "event_count" else "users"
        return f"{key}:{'' if self.op == '=' else self.op}{self.value}"


@dataclass(frozen=True, slots=True)
class FirstReleaseFilter:
    """``firstRelease:``: the issue was first seen in one of these releases."""

    releases: tuple[str, ...]

    def __str__(self) -> str:
        return f"firstRelease:{_values(self.releases)}"


@dataclass(frozen=True, slots=True)
class TagFilter:
    """``key:value``: the tag ``key`` has one of these values."""

    key: str
    values: tuple[str, ...]
    negated: bool = False

    def __str__(self) -> str:
        key = f"tags[{self.key}]" if self.key in _KEYS or ":" in self.key else self.key
        return f"{_bang(self.negated)}{key}:{_values(self.values)}"


@dataclass(frozen=True, slots=True)
class TextFilter:
    """A bare word, a quoted phrase or ``message:``: text in the issue title,
    kept literally (see :func:`like_pattern`)."""

    text: str

    def __str__(self) -> str:
        text = self.text
        bare = (
            _plain(text, "")
            and ":" not in text
            and not text.startswith(("!", "tags["))
            and text not in ("OR", "AND")
        )
        return text if bare else _quote(text)


Term: TypeAlias = (
    StatusFilter
    | AssignedFilter
    | LevelFilter
    | AttributeFilter
    | TimeFilter
    | CountFilter
    | FirstReleaseFilter
    | TagFilter
    | TextFilter
)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """The terms of a query, in its order; an issue must match all of them."""

    terms: tuple[Term, ...] = ()

    def __str__(self) -> str:
        """The canonical query string: ``parse(str(q)) == q``."""
        return " ".join(str(term) for term in self.terms)

    def __repr__(self) -> str:
        return f"SearchQuery({str(self)!r})"

    def resolve(self, now: dt.datetime) -> SearchQuery:
        """The same query with every relative time bound made absolute."""
        return SearchQuery(
            tuple(
                replace(t, bound=t.at(now)) if isinstance(t, TimeFilter) and t.relative else t
                for t in self.terms
            )
        )


def like_pattern(text: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern matching ``text`` anywhere: ``\\``,
    ``%`` and ``_`` escaped, ``%`` on both sides."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def parse(query: str) -> SearchQuery:
    """The query's terms; ``InvalidInput`` naming the position (1-based) and
    what was expected when it is malformed. An empty query has no terms."""
    if not isinstance(query, str):
        raise InvalidInput(f"search query must be a string, got {type(query).__name__}")
    if len(query) > MAX_SEARCH_LENGTH:
        _fail(MAX_SEARCH_LENGTH, f"the end of the query (at most {MAX_SEARCH_LENGTH} characters)")
    bad = _UNSTORABLE.search(query)
    if bad:
        _fail(bad.start(), "no NUL character" if bad.group() == "\x00" else "no lone surrogate")
    return _Parser(query).parse()


# --- the SQL step ------------------------------------------------------------------

#: event_count is an INTEGER column: the bounds it can meet.
_COUNT_MIN, _COUNT_MAX = -(2**31), 2**31 - 1
_MICROSECOND = dt.timedelta(microseconds=1)


def checked(query: object) -> SearchQuery:
    """A query string parsed, or a :class:`SearchQuery` checked: it must be
    one that :func:`parse` returns (its canonical text parses back equal), so
    that a query built by hand obeys the same limits and rules."""
    if isinstance(query, str):
        return parse(query)
    if not isinstance(query, SearchQuery):
        raise InvalidInput(
            f"search query must be a string or a SearchQuery, got {type(query).__name__}"
        )
    try:
        text = str(query)
    except Exception:  # a term that is not one of ours, or holds foreign values
        raise InvalidInput("search query: a SearchQuery of terms this module makes") from None
    if parse(text) != query:
        raise InvalidInput("search query: a SearchQuery that parse() would return for its text")
    return query


def assignee_emails(query: SearchQuery) -> list[str]:
    """The emails that ``assigned:`` terms name, each once, as written: the
    caller looks up their users (in any case) for :func:`sql_filters`."""
    emails: dict[str, None] = {}
    for term in query.terms:
        if isinstance(term, AssignedFilter):
            emails.update((u, None) for u in term.users if isinstance(u, str))
    return list(emails)


def sql_filters(
    query: SearchQuery, now: dt.datetime, users: Mapping[str, UUID]
) -> dict[str, Any] | None:
    """The filter parameters of sql/queries/search.sql's statements for the
    query (None: "no filter"), or None when no issue can match it (the
    caller then runs no SQL). ``now`` resolves relative times; ``users`` maps
    the emails of :func:`assignee_emails` to user ids (an email missing from
    it matches no one).

    Terms on one column are combined here: statuses and levels become the set
    that every term allows, assignees the users every ``assigned:`` term
    names (less those a negated one names), times and counts inclusive bounds
    (``> t`` is ``>= t + 1 µs``, the resolution of both Python and
    PostgreSQL). Tag and text terms stay one each: an issue has many tag
    values, and each term needs one of its own."""
    filters = _Filters(now, users)
    for term in query.terms:
        try:
            filters.add(term)
        except OverflowError:  # a time beyond what a datetime (or a row we read) holds
            return None
    return filters.parameters()


#: The tag terms' parameters: parallel arrays of one entry per term, and the
#: two that the terms' slices point into (tag_values, tag_issues).
_TAG_ARRAYS = (
    "tag_keys", "tag_negated", "tag_value_first", "tag_value_last",
    "tag_values", "tag_issue_first", "tag_issue_last", "tag_issues",
)  # fmt: skip
_TERM_ARRAYS = tuple(n for n in _TAG_ARRAYS if n not in ("tag_values", "tag_issues"))


class _Filters:
    """What the terms of one query allow, column by column."""

    def __init__(self, now: dt.datetime, users: Mapping[str, UUID]) -> None:
        self.now = now
        self.users = users
        self.statuses = set(IssueStatus)
        self.levels = set(Severity)
        self.assigned = {True, False}  # the values "has an assignee" may take
        self.assignees: set[UUID] | None = None  # None: anyone
        self.not_assignees: set[UUID] = set()
        self.low: dict[str, dt.datetime] = {}  # inclusive bounds per time column
        self.high: dict[str, dt.datetime] = {}
        self.counts = {f: (_COUNT_MIN, _COUNT_MAX) for f in ("event_count", "user_count")}
        self.tags: dict[str, list[Any]] = {name: [] for name in _TAG_ARRAYS}
        self.patterns: list[str] = []
        self.first_releases: set[str] | None = None  # None: any

    def add(self, term: Term) -> None:
        if isinstance(term, StatusFilter):
            self._status(term)
        elif isinstance(term, AssignedFilter):
            named = {u if isinstance(u, UUID) else self.users.get(u) for u in term.users}
            ids = {i for i in named if i is not None}
            if term.negated:
                self.not_assignees |= ids
            else:
                self.assignees = ids if self.assignees is None else self.assignees & ids
        elif isinstance(term, LevelFilter):
            chosen = set(term.levels)
            self.levels = self.levels - chosen if term.negated else self.levels & chosen
        elif isinstance(term, TimeFilter):
            self._time(term)
        elif isinstance(term, CountFilter):
            low, high = self.counts[term.field]
            if term.op in ("=", ">=", ">"):
                low = max(low, term.value + (term.op == ">"))
            if term.op in ("=", "<=", "<"):
                high = min(high, term.value - (term.op == "<"))
            self.counts[term.field] = (low, high)
        elif isinstance(term, FirstReleaseFilter):
            releases: set[str] = set(term.releases)
            self.first_releases = (
                releases if self.first_releases is None else self.first_releases & releases
            )
        elif isinstance(term, (TagFilter, AttributeFilter)):
            tags = self.tags
            tags["tag_keys"].append(term.key if isinstance(term, TagFilter) else term.name)
            tags["tag_negated"].append(term.negated)
            tags["tag_value_first"].append(len(tags["tag_values"]) + 1)  # arrays count from 1
            tags["tag_values"].extend(dict.fromkeys(term.values))
            tags["tag_value_last"].append(len(tags["tag_values"]))
            # no issues known from events yet: an empty slice (see tag_plan)
            tags["tag_issue_first"].append(1)
            tags["tag_issue_last"].append(0)
        else:
            self.patterns.append(like_pattern(term.text))

    def _status(self, term: StatusFilter) -> None:
        if isinstance(term.value, IssueStatus):
            chosen = {term.value}
            self.statuses = self.statuses - chosen if term.negated else self.statuses & chosen
        else:
            self.assigned &= {(term.value is Assignment.ASSIGNED) != term.negated}

    def _time(self, term: TimeFilter) -> None:
        at, field = term.at(self.now), term.field
        if term.op in (">", ">="):
            bound = at + _MICROSECOND if term.op == ">" else at
            self.low[field] = max(self.low.get(field, bound), bound)
        else:
            bound = at - _MICROSECOND if term.op == "<" else at
            self.high[field] = min(self.high.get(field, bound), bound)

    def parameters(self) -> dict[str, Any] | None:
        assignees, assigned = self.assignees, self.assigned
        if assignees is not None:  # assigned to one of them, so assigned
            assignees, assigned = assignees - self.not_assignees, assigned & {True}
        if (
            not self.statuses
            or not self.levels
            or not assigned
            or assignees == set()
            or any(low > high for low, high in self.counts.values())
            or self.first_releases == set()
            or any(self.low[f] > self.high[f] for f in self.low.keys() & self.high.keys())
        ):
            return None
        return {
            "statuses": _subset(self.statuses, len(IssueStatus)),
            "levels": _subset(self.levels, len(Severity)),
            "assigned": None if len(assigned) == 2 else min(assigned),
            "assignees": None if assignees is None else sorted(assignees),
            "not_assignees": (
                sorted(self.not_assignees) if self.not_assignees and assignees is None else None
            ),
            "first_seen_min": self.low.get("first_seen"),
            "first_seen_max": self.high.get("first_seen"),
            "last_seen_min": self.low.get("last_seen"),
            "last_seen_max": self.high.get("last_seen"),
            "times_seen_min": _bound(self.counts["event_count"][0], _COUNT_MIN),
            "times_seen_max": _bound(self.counts["event_count"][1], _COUNT_MAX),
            "users_min": _bound(self.counts["user_count"][0], _COUNT_MIN),
            "users_max": _bound(self.counts["user_count"][1], _COUNT_MAX),
            **{name: values or None for name, values in self.tags.items()},
            # the terms' slices of it, even empty, need an array to slice
            "tag_issues": self.tags["tag_issues"] if self.tags["tag_keys"] else None,
            "title_patterns": self.patterns or None,
            "first_releases": None if self.first_releases is None else sorted(self.first_releases),
        }


#: What the walk costs per issue walked, against what a tag-first page costs
#: per event of its term, about (bench/NOTES.md, scenario 12).
_TAG_FIRST_RATIO = 2


def tag_lookups(filters: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The distinct (key, value) pairs of the tag terms of ``sql_filters``'
    parameters, as the two arrays of search_tag_values."""
    pairs: dict[tuple[str, str], None] = {}
    values = filters["tag_values"] or []
    for key, first, last in zip(
        filters["tag_keys"] or [], filters["tag_value_first"] or [],
        filters["tag_value_last"] or [], strict=True,
    ):  # fmt: skip
        for value in values[first - 1 : last]:
            pairs[(key, value)] = None
    return [k for k, _ in pairs], [v for _, v in pairs]


def tag_plan(
    filters: dict[str, Any],
    found: Mapping[tuple[str, str], tuple[int | None, Sequence[UUID] | None]],
    issues: int,
    page_size: int,
) -> dict[str, Any] | None:
    """Completes ``sql_filters``' parameters with what search_tag_values
    found for each (key, value) of the tag terms (``found``: the tag store's
    event count, None for a value without a row, and then the issues whose
    events carry it), and chooses the plan. A value without a row (past its
    key's value bound, migration 0028) is matched by those issues: each
    term's are its slice of ``tag_issues``. Returns the seed parameters of
    the ``*_by_tag`` statements when starting from a term's issues is the
    cheaper plan, else None (walk the sort's index). The seed parameters
    also leave that term out of the per-issue tag check: every seed issue
    meets it (the same values with rows, the same issues for those without).

    The choice: of the terms that must hold (not negated), the one whose
    values the fewest events carry (an upper bound on its issues, E). The
    walk reads about ``page_size * issues / matches`` issues, and the matches
    are at most E; starting from the term costs about E candidates, each a
    few times cheaper than an issue walked. So start from the term when
    E * E <= _TAG_FIRST_RATIO * page_size * issues, the walk's cost when E
    issues match."""
    keys, values = filters["tag_keys"] or [], filters["tag_values"] or []
    firsts, lasts = filters["tag_value_first"] or [], filters["tag_value_last"] or []
    tag_issues: list[UUID] = []
    best: tuple[int, int, dict[str, Any]] | None = None
    for n, (key, first, last) in enumerate(zip(keys, firsts, lasts, strict=True)):
        events, seed_values, seed_issues = 0, list[str](), list[UUID]()
        for value in values[first - 1 : last]:
            times_seen, untracked = found.get((key, value), (None, None))
            if times_seen is not None:
                events += times_seen
                seed_values.append(value)
            elif untracked:
                events += len(untracked)
                seed_issues.extend(untracked)
        filters["tag_issue_first"][n] = len(tag_issues) + 1
        tag_issues.extend(seed_issues)
        filters["tag_issue_last"][n] = len(tag_issues)
        if not filters["tag_negated"][n] and (best is None or events < best[0]):
            seed = {"seed_key": key, "seed_values": seed_values, "seed_issues": seed_issues}
            best = (events, n, seed)
    filters["tag_issues"] = tag_issues if keys else None
    if best is None or best[0] * best[0] > _TAG_FIRST_RATIO * page_size * issues:
        return None
    _, seeded, seed = best
    for name in _TERM_ARRAYS:  # the other terms, checked per issue
        rest = [x for n, x in enumerate(filters[name]) if n != seeded]
        seed[name] = rest or None
    return seed


def _bound(value: int, unbounded: int) -> int | None:
    """A count bound, or None when it bounds nothing."""
    return None if value == unbounded else value


def _subset(chosen: set[IssueStatus] | set[Severity], of: int) -> list[str] | None:
    """The values allowed, or None when they all are."""
    return None if len(chosen) == of else sorted(v.value for v in chosen)


# --- rendering -------------------------------------------------------------------


def _bang(negated: bool) -> str:
    return "!" if negated else ""


def _plain(value: str, specials: str) -> bool:
    """Whether a value can be written without quotes."""
    return (
        bool(value)
        and not value.startswith("[")
        and not any(ch.isspace() or ch == '"' or ch in specials for ch in value)
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _values(values: tuple[str, ...] | list[str]) -> str:
    if len(values) == 1:
        return values[0] if _plain(values[0], "") else _quote(values[0])
    return "[" + ", ".join(v if _plain(v, ",[]") else _quote(v) for v in values) + "]"


def _duration(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    for unit in "wdh":
        size = _MINUTES[unit]
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


# --- parsing ---------------------------------------------------------------------


def _fail(index: int, expected: str) -> NoReturn:
    raise InvalidInput(f"search query: at position {index + 1}, expected {expected}")


def _preview(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


class _Parser:
    """A scanner over the query; ``pos`` is a 0-based index, messages add 1."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> SearchQuery:
        terms: list[Term] = []
        while True:
            self._skip_space()
            if self.pos == len(self.text):
                return SearchQuery(tuple(terms))
            if len(terms) == MAX_SEARCH_TERMS:
                _fail(self.pos, f"the end of the query (at most {MAX_SEARCH_TERMS} terms)")
            terms.append(self._term())

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _at_end_of_term(self) -> bool:
        return self.pos == len(self.text) or self.text[self.pos].isspace()

    def _end_term(self, after: str) -> None:
        if not self._at_end_of_term():
            _fail(self.pos, f"a space or the end of the query after {after}")

    def _term(self) -> Term:
        start = self.pos
        if self.text[start] == '"':
            text = self._quoted()
            self._end_term("the closing quote")
            return TextFilter(text)
        negated = self.text[start] == "!"
        if negated:
            self.pos += 1
        if self.text.startswith("tags[", self.pos):
            key = self._explicit_tag_key()
            return self._tag(key, negated)
        end = self.pos
        while end < len(self.text) and not self.text[end].isspace() and self.text[end] not in ':"':
            end += 1
        if end < len(self.text) and self.text[end] == '"':
            _fail(end, "a quote only at the start of a phrase or value")
        if end == len(self.text) or self.text[end] != ":":  # a bare word
            if negated:
                _fail(start, "key:value after '!' (free text cannot be negated)")
            word = self.text[start:end]
            if word in ("OR", "AND"):
                _fail(start, f'a term, not {word} (terms are ANDed; write "{word}" for the word)')
            self.pos = end
            return TextFilter(word)
        key = self.text[self.pos : end]
        self._check_key(key, self.pos, _KEY_CHARS)
        self.pos = end + 1
        if key not in _KEYS:
            return self._tag(key, negated)
        if negated and key in (
            "firstSeen",
            "lastSeen",
            "times_seen",
            "message",
            "firstRelease",
            "users",
        ):
            _fail(start, f"no '!' before {key}: (only {_NEGATABLE} can be negated)")
        return self._keyed(key, negated)

    def _check_key(self, key: str, at: int, allowed: frozenset[str]) -> None:
        if not key:
            _fail(at, "a key before ':'")
        for i, ch in enumerate(key):
            if ch not in allowed:
                _fail(at + i, "a key of letters, digits, '_', '.', ':' or '-' "
                      "(quote free text that contains ':')")  # fmt: skip
        if len(key) > MAX_TAG_NAME:
            _fail(at, f"a key of at most {MAX_TAG_NAME} characters")

    def _explicit_tag_key(self) -> str:
        """``tags[key]:``, for keys with ':' or named like a search key."""
        opened = self.pos + 4
        end = self.text.find("]", opened)
        if end < 0:
            _fail(len(self.text), f"']' to close 'tags[' at position {opened + 1}")
        key = self.text[opened + 1 : end]
        self._check_key(key, opened + 1, _TAG_KEY_CHARS)
        if end + 1 == len(self.text) or self.text[end + 1] != ":":
            _fail(end + 1, "':' after tags[...]")
        self.pos = end + 2
        return key

    def _tag(self, key: str, negated: bool) -> TagFilter:
        values = tuple(self._bounded(v, at) for at, v in self._values(key, many=True))
        return TagFilter(key, values, negated)

    def _bounded(self, value: str, at: int) -> str:
        if len(value) > MAX_TAG_VALUE:
            _fail(at, f"a value of at most {MAX_TAG_VALUE} characters")
        return value

    def _keyed(self, key: str, negated: bool) -> Term:
        if key == "is":
            ((at, value),) = self._values(key, many=False)
            return StatusFilter(self._status(value, at), negated)
        if key == "assigned":
            users = tuple(self._user(v, at) for at, v in self._values(key, many=True))
            return AssignedFilter(users, negated)
        if key == "level":
            levels = tuple(self._level(v, at) for at, v in self._values(key, many=True))
            return LevelFilter(levels, negated)
        if key in ("environment", "release"):
            name: Literal["environment", "release"] = (
                "environment" if key == "environment" else "release"
            )
            values = tuple(self._bounded(v, at) for at, v in self._values(key, many=True))
            return AttributeFilter(name, values, negated)
        if key == "firstRelease":
            values = tuple(self._bounded(v, at) for at, v in self._values(key, many=True))
            return FirstReleaseFilter(values)
        ((at, value),) = self._values(key, many=False)
        if key == "message":
            return TextFilter(value)
        if key in ("times_seen", "users"):
            return self._count(value, at, key)
        return self._time("first_seen" if key == "firstSeen" else "last_seen", key, value, at)

    # --- values ------------------------------------------------------------------

    def _values(self, key: str, *, many: bool) -> list[tuple[int, str]]:
        """The value(s) after ``key:``, each with its 0-based position."""
        at = self.pos
        if self._at_end_of_term():
            _fail(at, f"a value after '{key}:'")
        if self.text[at] == "[":
            if not many:
                _fail(at, f"a single value after '{key}:' (lists work with {_LISTS})")
            items = self._list()
            self._end_term("']'")
            return items
        if self.text[at] == '"':
            value = self._quoted()
            self._end_term("the closing quote")
            return [(at, value)]
        while not self._at_end_of_term():
            if self.text[self.pos] == '"':
                _fail(self.pos, "a quote only at the start of a phrase or value")
            self.pos += 1
        return [(at, self.text[at : self.pos])]

    def _quoted(self) -> str:
        """A quoted string; ``\\"`` and ``\\\\`` are escapes, other
        backslashes are kept."""
        opened = self.pos
        out: list[str] = []
        i = opened + 1
        text = self.text
        while i < len(text):
            ch = text[i]
            if ch == '"':
                if not out:
                    _fail(opened, "text between the quotes")
                self.pos = i + 1
                return "".join(out)
            if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
                i += 1
                ch = text[i]
            out.append(ch)
            i += 1
        _fail(len(text), f"a closing quote (opened at position {opened + 1})")

    def _list(self) -> list[tuple[int, str]]:
        opened = self.pos
        self.pos += 1
        items: list[tuple[int, str]] = []
        while True:
            self._skip_space()
            if self.pos == len(self.text):
                _fail(self.pos, f"']' to close the list opened at position {opened + 1}")
            at = self.pos
            ch = self.text[at]
            if ch in ",]" or ch == "[":
                _fail(at, "a value after ','" if items else "a value in the list")
            if ch == '"':
                items.append((at, self._quoted()))
            else:
                while not self._at_end_of_term() and self.text[self.pos] not in ',[]"':
                    self.pos += 1
                items.append((at, self.text[at : self.pos]))
            self._skip_space()
            if self.pos == len(self.text):
                _fail(self.pos, f"']' to close the list opened at position {opened + 1}")
            if self.text[self.pos] == "]":
                self.pos += 1
                return items
            if self.text[self.pos] != ",":
                _fail(self.pos, "',' or ']' in the list")
            self.pos += 1

    def _status(self, value: str, at: int) -> IssueStatus | Assignment:
        for kind in (IssueStatus, Assignment):
            for member in kind:
                if member.value == value.lower():
                    return member
        allowed = ", ".join([*(s.value for s in IssueStatus), *(a.value for a in Assignment)])
        _fail(at, f"one of {allowed} after 'is:', got {_preview(value)}")

    def _user(self, value: str, at: int) -> UUID | str:
        try:
            return UUID(value)
        except ValueError:
            pass
        try:
            return email_arg(value)
        except InvalidInput:
            _fail(at, f"a user id (UUID) or an email after 'assigned:', got {_preview(value)}")

    def _level(self, value: str, at: int) -> Severity:
        for level in Severity:
            if level.value == value.lower():
                return level
        allowed = ", ".join(level.value for level in Severity)
        _fail(at, f"one of {allowed} after 'level:', got {_preview(value)}")

    def _count(self, value: str, at: int, key: str) -> CountFilter:
        op = next((o for o in _OPERATORS if value.startswith(o)), None)
        digits = value[len(op or "") :]
        if not _COUNT.fullmatch(digits) or int(digits) >= 2**63:
            _fail(at, f"a whole number after '{key}:', optionally after >, <, >= or <=")
        field: Literal["event_count", "user_count"] = (
            "event_count" if key == "times_seen" else "user_count"
        )
        return CountFilter(op or "=", int(digits), field)

    def _time(
        self, field: Literal["first_seen", "last_seen"], key: str, value: str, at: int
    ) -> TimeFilter:
        op = next((o for o in _OPERATORS if value.startswith(o)), None)
        rest = value[len(op or "") :]
        relative = _RELATIVE.fullmatch(rest)
        if relative:
            sign, number, unit = relative.groups()
            if op is not None and sign == "+":
                _fail(at, f"-<n><unit> after an operator ('{key}:+24h' alone means older than)")
            minutes = int(number) * _MINUTES[unit]
            if not 0 < minutes <= MAX_SEARCH_RELATIVE_DAYS * _MINUTES["d"]:
                _fail(at, f"a relative time above 0 and of at most {MAX_SEARCH_RELATIVE_DAYS} days")
            delta = dt.timedelta(minutes=minutes)
            return TimeFilter(field, op or (">=" if sign == "-" else "<="), delta)
        if _ABSOLUTE.fullmatch(rest):
            if op is None:
                _fail(at, f"an operator (>, <, >= or <=) before a date after '{key}:'")
            try:
                bound = dt.datetime.fromisoformat(rest)
                bound = bound.replace(tzinfo=_UTC) if bound.tzinfo is None else bound
                return TimeFilter(field, op, bound.astimezone(_UTC))
            except (ValueError, OverflowError):
                _fail(at, f"a valid date after '{key}:', got {_preview(rest)}")
        _fail(at, f"{_DATE_HELP} or {_RELATIVE_HELP} after '{key}:'")
