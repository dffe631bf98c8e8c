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
- ``times_seen:100`` (equals) or ``times_seen:>100`` (:class:`CountFilter`);
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
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal, NoReturn, TypeAlias
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
    "LevelFilter",
    "SearchQuery",
    "StatusFilter",
    "TagFilter",
    "Term",
    "TextFilter",
    "TimeFilter",
    "like_pattern",
    "parse",
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
     "times_seen", "message"}
)  # fmt: skip
_NEGATABLE = "is, assigned, level, environment, release and tag filters"
_LISTS = "level, environment, release, assigned and tags"
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
    """``times_seen:``: the issue's event count ``<op> value``."""

    op: Literal["=", ">", ">=", "<", "<="]
    value: int

    def __str__(self) -> str:
        return f"times_seen:{'' if self.op == '=' else self.op}{self.value}"


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
        if negated and key in ("firstSeen", "lastSeen", "times_seen", "message"):
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
        ((at, value),) = self._values(key, many=False)
        if key == "message":
            return TextFilter(value)
        if key == "times_seen":
            return self._count(value, at)
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

    def _count(self, value: str, at: int) -> CountFilter:
        op = next((o for o in _OPERATORS if value.startswith(o)), None)
        digits = value[len(op or "") :]
        if not _COUNT.fullmatch(digits) or int(digits) >= 2**63:
            _fail(at, "a whole number after 'times_seen:', optionally after >, <, >= or <=")
        return CountFilter(op or "=", int(digits))

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
