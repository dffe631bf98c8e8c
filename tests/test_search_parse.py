"""The issue search parser (mesher.search): pure Python, no database."""

from __future__ import annotations

import datetime as dt
import os
from uuid import UUID

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mesher.errors import InvalidInput
from mesher.limits import MAX_SEARCH_LENGTH, MAX_SEARCH_RELATIVE_DAYS, MAX_SEARCH_TERMS
from mesher.models import MAX_TAG_NAME, MAX_TAG_VALUE, IssueStatus, Severity
from mesher.search import (
    AssignedFilter,
    Assignment,
    AttributeFilter,
    CountFilter,
    LevelFilter,
    SearchQuery,
    StatusFilter,
    TagFilter,
    Term,
    TextFilter,
    TimeFilter,
    like_pattern,
    parse,
)

UTC = dt.UTC
USER = UUID("0192f0c4-1b2a-7c3d-8e4f-5a6b7c8d9e0f")
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def terms(query: str) -> tuple[Term, ...]:
    return parse(query).terms


def one(query: str) -> Term:
    (term,) = terms(query)
    return term


def error(query: str) -> str:
    with pytest.raises(InvalidInput) as info:
        parse(query)
    return str(info.value)


# --- each key ----------------------------------------------------------------------


def test_empty_query_has_no_terms() -> None:
    assert parse("") == parse("  \t\n ") == SearchQuery(())
    assert str(parse("")) == ""


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("is:unresolved", StatusFilter(IssueStatus.UNRESOLVED)),
        ("is:resolved", StatusFilter(IssueStatus.RESOLVED)),
        ("is:archived", StatusFilter(IssueStatus.ARCHIVED)),
        ("is:assigned", StatusFilter(Assignment.ASSIGNED)),
        ("is:unassigned", StatusFilter(Assignment.UNASSIGNED)),
        ("is:Resolved", StatusFilter(IssueStatus.RESOLVED)),
        ("!is:resolved", StatusFilter(IssueStatus.RESOLVED, negated=True)),
        (f"assigned:{USER}", AssignedFilter((USER,))),
        (f"assigned:{str(USER).upper()}", AssignedFilter((USER,))),
        ("assigned:ada@example.com", AssignedFilter(("ada@example.com",))),
        (f"!assigned:[ada@example.com, {USER}]", AssignedFilter(("ada@example.com", USER), True)),
        ("level:error", LevelFilter((Severity.ERROR,))),
        ("level:FATAL", LevelFilter((Severity.FATAL,))),
        ("!level:[debug,info]", LevelFilter((Severity.DEBUG, Severity.INFO), negated=True)),
        ("environment:production", AttributeFilter("environment", ("production",))),
        ("!environment:staging", AttributeFilter("environment", ("staging",), negated=True)),
        ("release:1.2.3+build:7", AttributeFilter("release", ("1.2.3+build:7",))),
        ("release:[1.0, 2.0]", AttributeFilter("release", ("1.0", "2.0"))),
        ("times_seen:100", CountFilter("=", 100)),
        ("times_seen:>100", CountFilter(">", 100)),
        ("times_seen:>=0", CountFilter(">=", 0)),
        ("times_seen:<5", CountFilter("<", 5)),
        ("times_seen:<=9223372036854775807", CountFilter("<=", 2**63 - 1)),
        ("browser:Chrome", TagFilter("browser", ("Chrome",))),
        ("!os.name:[Linux, Windows]", TagFilter("os.name", ("Linux", "Windows"), negated=True)),
        ("url:https://x.test/a?b=c", TagFilter("url", ("https://x.test/a?b=c",))),
        ("tags[sentry:user]:id:42", TagFilter("sentry:user", ("id:42",))),
        ("!tags[level]:high", TagFilter("level", ("high",), negated=True)),
        ("tags:x", TagFilter("tags", ("x",))),
        ("timeout", TextFilter("timeout")),
        ('"timed out"', TextFilter("timed out")),
        ('message:"timed out"', TextFilter("timed out")),
        ("message:KeyError", TextFilter("KeyError")),
    ],
)
def test_each_key(query: str, expected: Term) -> None:
    assert one(query) == expected


def test_terms_keep_their_order_and_repeat() -> None:
    assert terms("is:unresolved level:error is:unresolved database timeout") == (
        StatusFilter(IssueStatus.UNRESOLVED),
        LevelFilter((Severity.ERROR,)),
        StatusFilter(IssueStatus.UNRESOLVED),
        TextFilter("database"),
        TextFilter("timeout"),
    )


def test_whitespace_of_any_kind_separates_terms() -> None:
    assert terms("a\tb\nc\u3000d") == tuple(TextFilter(w) for w in "abcd")


# --- times -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "op", "bound"),
    [
        # Sentry: "-" alone means within (>= now - n), "+" alone older than (<= now - n)
        ("lastSeen:-24h", ">=", 24 * HOUR),
        ("lastSeen:+24h", "<=", DAY),
        ("lastSeen:-30m", ">=", dt.timedelta(minutes=30)),
        ("lastSeen:-7d", ">=", 7 * DAY),
        ("lastSeen:-2w", ">=", 14 * DAY),
        ("lastSeen:>-1h", ">", HOUR),
        ("lastSeen:<-1h", "<", HOUR),
        ("lastSeen:>=-1h", ">=", HOUR),
        ("lastSeen:<=-1h", "<=", HOUR),
        (f"lastSeen:-{MAX_SEARCH_RELATIVE_DAYS}d", ">=", MAX_SEARCH_RELATIVE_DAYS * DAY),
        ("lastSeen:>2026-11-01", ">", dt.datetime(2026, 11, 1, tzinfo=UTC)),
        ("lastSeen:<2026-11-01T12:00", "<", dt.datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("lastSeen:>=2026-11-01T12:00:00", ">=", dt.datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("lastSeen:<=2026-11-01T12:00:00Z", "<=", dt.datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("lastSeen:>2026-11-01T12:00:00+02:00", ">", dt.datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("lastSeen:>2026-11-01T12:00:00.5-01:30", ">",
         dt.datetime(2026, 11, 1, 13, 30, 0, 500_000, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_time_bounds(query: str, op: str, bound: dt.datetime | dt.timedelta) -> None:
    assert one(query) == TimeFilter("last_seen", op, bound)  # type: ignore[arg-type]
    first = one("firstSeen:" + query.removeprefix("lastSeen:"))
    assert first == TimeFilter("first_seen", op, bound)  # type: ignore[arg-type]


def test_absolute_bounds_are_utc_and_relative_ones_stay_relative() -> None:
    absolute = one("firstSeen:>2026-11-01T12:00:00+02:00")
    assert isinstance(absolute, TimeFilter) and not absolute.relative
    assert isinstance(absolute.bound, dt.datetime) and absolute.bound.tzinfo is UTC
    relative = one("lastSeen:-24h")
    assert isinstance(relative, TimeFilter) and relative.relative
    assert str(relative) == "lastSeen:-1d"  # 24h and 1d are the same bound


def test_resolving_relative_bounds_against_now() -> None:
    now = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    query = parse("lastSeen:-24h firstSeen:<2026-01-01 level:error")
    recent = query.terms[0]
    assert isinstance(recent, TimeFilter)
    assert recent.at(now) == dt.datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    resolved = query.resolve(now)
    assert resolved.terms[0] == TimeFilter(
        "last_seen", ">=", dt.datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    )
    assert resolved.terms[1:] == query.terms[1:]
    assert parse(str(resolved)) == resolved
    # a bound before year 1 is clamped, not an OverflowError
    early = dt.datetime(1, 1, 2, tzinfo=UTC)
    assert recent.at(early) == dt.datetime.min.replace(tzinfo=UTC)
    with pytest.raises(InvalidInput, match="now must be a timezone-aware datetime"):
        recent.at(dt.datetime(2026, 1, 1))


# --- quoting and lists ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ('key:"a \\" b"', 'a " b'),
        ('key:"back\\\\slash"', "back\\slash"),
        ('key:"C:\\temp\\new"', "C:\\temp\\new"),  # other backslashes are kept
        ('key:"ends with \\\\"', "ends with \\"),
        ("key:C:\\temp", "C:\\temp"),  # no escapes outside quotes
        ('key:"[not a list]"', "[not a list]"),
        ('key:"is:resolved"', "is:resolved"),
        ("key:a,b]", "a,b]"),
    ],
)
def test_quoted_values(query: str, value: str) -> None:
    assert one(query) == TagFilter("key", (value,))


def test_quoted_phrases_and_bare_words_are_anded_title_text() -> None:
    assert terms('"connection refused" db "a \\"b\\"" OR_not') == (
        TextFilter("connection refused"),
        TextFilter("db"),
        TextFilter('a "b"'),
        TextFilter("OR_not"),
    )
    assert terms('"OR" "is:resolved"') == (TextFilter("OR"), TextFilter("is:resolved"))


def test_lists() -> None:
    assert one('browser:[ Chrome ,"Mobile Safari", "a, b" ,x]') == TagFilter(
        "browser", ("Chrome", "Mobile Safari", "a, b", "x")
    )
    assert one("level:[error]") == one("level:error")
    assert one("key:[a,\n b]") == TagFilter("key", ("a", "b"))
    assert str(one('key:[a, "b c", "d,e", "[f]"]')) == 'key:[a, "b c", "d,e", "[f]"]'


def test_tag_key_and_value_limits_are_the_payload_models() -> None:
    key = "k" * MAX_TAG_NAME
    assert one(f"{key}:v") == TagFilter(key, ("v",))
    assert one(f"tags[{key[:-1]}:]:v") == TagFilter(key[:-1] + ":", ("v",))
    value = "v" * MAX_TAG_VALUE
    assert one(f"k:{value}") == TagFilter("k", (value,))
    assert one(f"release:{value}") == AttributeFilter("release", (value,))
    assert "at most 32 characters" in error(f"{key}k:v")
    assert "at most 200 characters" in error(f"k:[a, {value}v]")
    assert "at most 200 characters" in error(f"environment:{value}v")


# --- errors: position (1-based) and what was expected ------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('message:"timed out', "at position 19, expected a closing quote (opened at position 9)"),
        ('"abc', "at position 5, expected a closing quote (opened at position 1)"),
        ('key:"a \\"', "at position 10, expected a closing quote (opened at position 5)"),
        ('a"b"', "at position 2, expected a quote only at the start of a phrase or value"),
        ('key:a"b', "at position 6, expected a quote only at the start of a phrase or value"),
        ('"a"b', "at position 4, expected a space or the end of the query after the closing quote"),
        ('key:""', "at position 5, expected text between the quotes"),
        ('""', "at position 1, expected text between the quotes"),
        ("level:", "at position 7, expected a value after 'level:'"),
        ("level: error", "at position 7, expected a value after 'level:'"),
        ("browser: x", "at position 9, expected a value after 'browser:'"),
        ("is:open", "at position 4, expected one of unresolved, resolved, archived, assigned, "
                    "unassigned after 'is:', got 'open'"),
        ("is:[resolved, archived]", "at position 4, expected a single value after 'is:'"),
        ("level:critical", "at position 7, expected one of fatal, error, warning, info, debug "
                           "after 'level:', got 'critical'"),
        ("level:[error, bad]", "at position 15, expected one of fatal"),
        ("assigned:ada", "at position 10, expected a user id (UUID) or an email after "
                         "'assigned:', got 'ada'"),
        ("lastSeen:yesterday", "at position 10, expected a date (2026-11-01 or "
                               "2026-11-01T12:00:00, optionally Z or +02:00) or a relative time "
                               "(-24h, +7d; units m, h, d, w) after 'lastSeen:'"),
        ("lastSeen:-24x", "at position 10, expected a date"),
        ("lastSeen:>24h", "at position 10, expected a date"),
        ("lastSeen:>", "at position 10, expected a date"),
        ("lastSeen:>+24h", "at position 10, expected -<n><unit> after an operator"),
        ("lastSeen:-0h", "at position 10, expected a relative time above 0 and of at most"),
        ("lastSeen:-999999999w", "at position 10, expected a relative time above 0"),
        ("firstSeen:2026-11-01", "at position 11, expected an operator (>, <, >= or <=) before "
                                 "a date after 'firstSeen:'"),
        ("firstSeen:>2026-02-30", "at position 11, expected a valid date after 'firstSeen:', "
                                  "got '2026-02-30'"),
        ("firstSeen:>2026-11-01T25:00", "at position 11, expected a valid date"),
        ("firstSeen:>0001-01-01T00:00+01:00", "at position 11, expected a valid date"),
        ("times_seen:many", "at position 12, expected a whole number after 'times_seen:', "
                            "optionally after >, <, >= or <="),
        ("times_seen:-1", "at position 12, expected a whole number"),
        ("times_seen:1.5", "at position 12, expected a whole number"),
        ("times_seen:1_000", "at position 12, expected a whole number"),
        ("times_seen:\u0663", "at position 12, expected a whole number"),  # Arabic-Indic 3
        ("times_seen:>", "at position 12, expected a whole number"),
        ("times_seen:9223372036854775808", "at position 12, expected a whole number"),
        ("times_seen:[1, 2]", "at position 12, expected a single value after 'times_seen:'"),
        ("k:[", "at position 4, expected ']' to close the list opened at position 3"),
        ("k:[a, b", "at position 8, expected ']' to close the list opened at position 3"),
        ("k:[a, b ", "at position 9, expected ']' to close the list opened at position 3"),
        ("k:[]", "at position 4, expected a value in the list"),
        ("k:[a,]", "at position 6, expected a value after ','"),
        ("k:[,a]", "at position 4, expected a value in the list"),
        ("k:[a b]", "at position 6, expected ',' or ']' in the list"),
        ("k:[[a]]", "at position 4, expected a value in the list"),
        ('k:[a"b"]', "at position 5, expected ',' or ']' in the list"),
        ("k:[a]b", "at position 6, expected a space or the end of the query after ']'"),
        ("fo$o:bar", "at position 3, expected a key of letters, digits, '_', '.', ':' or '-'"),
        ("error: timeout", "at position 7, expected a value after 'error:'"),
        (":x", "at position 1, expected a key before ':'"),
        ("ключ:x", "at position 1, expected a key of letters"),
        ("x" * 33 + ":y", "at position 1, expected a key of at most 32 characters"),
        ("tags[a", "at position 7, expected ']' to close 'tags[' at position 5"),
        ("tags[]:x", "at position 6, expected a key before ':'"),
        ("tags[a b]:x", "at position 7, expected a key of letters"),
        ("tags[a]", "at position 8, expected ':' after tags[...]"),
        ("!foo", "at position 1, expected key:value after '!' (free text cannot be negated)"),
        ("a !", "at position 3, expected key:value after '!'"),
        ('!"foo"', "at position 2, expected a quote only at the start"),
        ("!lastSeen:-1h", "at position 1, expected no '!' before lastSeen: (only is, assigned, "
                          "level, environment, release and tag filters can be negated)"),
        ("!firstSeen:-1h", "at position 1, expected no '!' before firstSeen:"),
        ("!times_seen:1", "at position 1, expected no '!' before times_seen:"),
        ("!message:x", "at position 1, expected no '!' before message:"),
        ("message:[a, b]", "at position 9, expected a single value after 'message:'"),
        ("level:error OR level:fatal", "at position 13, expected a term, not OR (terms are "
                                       'ANDed; write "OR" for the word)'),
        ("a AND b", "at position 3, expected a term, not AND"),
        ("ok\x00", "at position 3, expected no NUL character"),
        ("k:\ud800", "at position 3, expected no lone surrogate"),
        ("\udfff", "at position 1, expected no lone surrogate"),
    ],
)  # fmt: skip
def test_errors_name_the_position_and_what_was_expected(query: str, message: str) -> None:
    assert error(query).startswith(f"search query: {message}")


def test_query_length_and_term_count_are_capped() -> None:
    assert len(terms("x" * MAX_SEARCH_LENGTH)) == 1
    assert error("x" * (MAX_SEARCH_LENGTH + 1)) == (
        "search query: at position 4001, expected the end of the query (at most 4000 characters)"
    )
    assert len(terms("a " * MAX_SEARCH_TERMS)) == MAX_SEARCH_TERMS
    assert error("a " * (MAX_SEARCH_TERMS + 1)) == (
        "search query: at position 201, expected the end of the query (at most 100 terms)"
    )


def test_not_a_string() -> None:
    with pytest.raises(InvalidInput, match="search query must be a string, got bytes"):
        parse(b"level:error")  # type: ignore[arg-type]


# --- hostile input ---------------------------------------------------------------------


def test_hostile_sizes_are_refused_cheaply() -> None:
    assert "at most 4000 characters" in error("level:error " * 10_000)  # 10,000 terms
    assert "at most 4000 characters" in error("x" * 1_000_000)  # 1 MB
    assert "at most 4000 characters" in error("\x00" * 1_000_000)
    assert "at most 100 terms" in error("a " * 1_999)  # under the length cap


def test_sql_and_like_metacharacters_are_kept_literally() -> None:
    sql = "'; DROP TABLE issues; --"
    assert terms(f'message:"{sql}" 100% a_b') == (
        TextFilter(sql),
        TextFilter("100%"),
        TextFilter("a_b"),
    )
    assert one("k:%_%") == TagFilter("k", ("%_%",))
    assert one("release:$$x$$'") == AttributeFilter("release", ("$$x$$'",))


def test_like_pattern_escapes_backslash_percent_and_underscore() -> None:
    assert like_pattern("timed out") == "%timed out%"
    assert like_pattern("100%_done\\") == "%100\\%\\_done\\\\%"
    assert like_pattern("") == "%%"


# --- the result types ---------------------------------------------------------------


def test_results_are_immutable_hashable_and_readable() -> None:
    query = parse("is:unresolved level:[error, fatal] browser:Chrome")
    assert hash(query) == hash(parse("is:unresolved  level:[error,fatal]  browser:Chrome"))
    assert len({query, parse(str(query))}) == 1
    with pytest.raises(AttributeError):
        query.terms = ()  # type: ignore[misc]
    assert repr(query) == "SearchQuery('is:unresolved level:[error, fatal] browser:Chrome')"
    assert repr(query.terms[0]).startswith("StatusFilter(value=<IssueStatus.UNRESOLVED")


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("is:RESOLVED  level:[ERROR]", "is:resolved level:error"),
        ('message:"timed out" x', '"timed out" x'),
        ('"plain"', "plain"),
        ('"a:b" "!x" "OR" "tags[x"', '"a:b" "!x" "OR" "tags[x"'),
        ("lastSeen:>=-60m lastSeen:<=-1440m", "lastSeen:-1h lastSeen:+1d"),
        ("firstSeen:>2026-11-01T02:00+02:00", "firstSeen:>2026-11-01T00:00:00Z"),
        ("times_seen:007", "times_seen:7"),
        ('k:"a" tags[is]:b tags[x]:c', "k:a tags[is]:b x:c"),
        (f"assigned:{{{USER}}}", f"assigned:{USER}"),
        ('k:"a \\" \\\\ b"', 'k:"a \\" \\\\ b"'),
    ],
)
def test_canonical_rendering(query: str, canonical: str) -> None:
    assert str(parse(query)) == canonical
    assert parse(canonical) == parse(query)


# --- properties ----------------------------------------------------------------------

# CI runs the same cases every time, as tests/test_sentry_parse.py does;
# MESHER_HYPOTHESIS_RANDOM=1 explores new ones.
RANDOM = os.environ.get("MESHER_HYPOTHESIS_RANDOM") == "1"

_char = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
_value = st.text(_char, min_size=1, max_size=12)
_many = st.lists(_value, min_size=1, max_size=3).map(tuple)
_users = st.lists(
    st.uuids() | st.from_regex(r"[a-z0-9.+]{1,8}@[a-z]{1,8}\.test", fullmatch=True),
    min_size=1,
    max_size=3,
).map(tuple)
_ops = st.sampled_from([">", ">=", "<", "<="])
_bound = st.integers(1, 5000).map(lambda n: dt.timedelta(minutes=n)) | st.datetimes(
    timezones=st.just(UTC)
)
_term: st.SearchStrategy[Term] = st.one_of(
    st.builds(
        StatusFilter,
        st.sampled_from([*IssueStatus, *Assignment]),
        st.booleans(),
    ),
    st.builds(AssignedFilter, _users, st.booleans()),
    st.builds(
        LevelFilter,
        st.lists(st.sampled_from(Severity), min_size=1, max_size=3).map(tuple),
        st.booleans(),
    ),
    st.builds(AttributeFilter, st.sampled_from(["environment", "release"]), _many, st.booleans()),
    st.builds(TimeFilter, st.sampled_from(["first_seen", "last_seen"]), _ops, _bound),
    st.builds(CountFilter, st.sampled_from(["=", ">", ">=", "<", "<="]), st.integers(0, 2**63 - 1)),
    st.builds(
        TagFilter,
        st.from_regex(r"[A-Za-z0-9_.:-]{1,32}", fullmatch=True),
        _many,
        st.booleans(),
    ),
    st.builds(TextFilter, _value),
)


@settings(max_examples=300, deadline=None, derandomize=not RANDOM)
@given(st.lists(_term, max_size=8).map(lambda ts: SearchQuery(tuple(ts))))
def test_round_trip_of_built_queries(query: SearchQuery) -> None:
    assert parse(str(query)) == query


# Text biased towards the syntax, plus anything at all (NUL, lone surrogates).
_syntax = st.sampled_from(
    [" ", "!", ":", '"', "\\", "[", "]", ",", ">", "<", "=", "-", "+", "is:", "level:",
     "lastSeen:", "times_seen:", "tags[", "assigned:", "OR", "24h", "2026-11-01", "\x00",
     "\ud800", "error", "resolved", "a", "7"]
)  # fmt: skip
_query = st.lists(_syntax | st.characters(codec=None) | st.text(max_size=3), max_size=30).map(
    "".join
)


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=not RANDOM,
)
@given(_query)
@example('k:[a, "b\\"", c] lastSeen:>-1w "x y" !is:resolved')
def test_fuzz_parses_or_raises_invalid_input_and_round_trips(query: str) -> None:
    try:
        parsed = parse(query)
    except InvalidInput as exc:
        assert str(exc).startswith("search query: at position ")
        return
    assert parse(str(parsed)) == parsed
