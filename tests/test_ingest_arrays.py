"""The contract of upsert_tags_and_counts' arrays, rule by rule.

``_tags_and_counts_params`` (mesher/aio/ingest.py) builds three groups of
parallel arrays and states each group's rules where it builds them; each
test here checks one rule on a batch that has new and existing issues,
repeated tag pairs, several levels, and events on both sides of midnight
(UTC). The last tests show what the statement does when a rule is broken."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest

from mesher._sql import sync_queries
from mesher.ingest import _native, _Prepared, _tags_and_counts_params, ingest_event
from mesher.models import EventPayload

Conn = psycopg.Connection[Any]

PROJECT = uuid.UUID("00000000-0000-7000-8000-000000000001")
ISSUES = {fp: uuid.UUID(f"00000000-0000-7000-8000-00000000000{n}") for n, fp in enumerate("abc")}
NEW = {ISSUES["a"], ISSUES["c"]}  # "b" existed before the batch
MIDNIGHT = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
#: (seconds from midnight, fingerprint, level, tags), in time order.
BATCH = [
    (-3600 * 2 - 5, "b", "error", {"env": "prod", "region": "eu"}),
    (-3600 * 2 - 4, "a", "error", {"env": "prod"}),
    (-2, "a", "warning", {"env": "prod", "region": "us"}),
    (-1, "b", "error", {"env": "prod"}),
    (1, "a", "error", {"env": "prod", "region": "us"}),
    (2, "c", "info", {}),
    (3, "b", "error", {"env": "staging"}),
    (1800, "a", "error", {"env": "prod"}),
    (4000, "c", "info", {"env": "prod"}),
]


def _events() -> list[_Prepared]:
    events = []
    for seconds, fp, level, tags in BATCH:
        payload = EventPayload(message="m", fingerprint=fp, level=level, tags=tags)  # type: ignore[arg-type]
        event = _native(PROJECT, payload)
        at = MIDNIGHT + dt.timedelta(seconds=seconds)
        events.append(dataclasses.replace(event, row=event.row._replace(received_at=at)))
    return events


def _params(
    events: list[_Prepared] | None = None, frozen: dict[str, frozenset[str]] | None = None
) -> dict[str, Any]:
    events = events or _events()
    issue_ids = {e.row.fingerprint: ISSUES[b[1]] for e, b in zip(events, BATCH, strict=True)}
    return _tags_and_counts_params(PROJECT, events, issue_ids, NEW, frozen or {})


def _rows(params: dict[str, Any], prefix: str, names: list[str]) -> list[tuple[Any, ...]]:
    return list(zip(*(params[f"{prefix}_{name}"] for name in names), strict=True))


TAG_ARRAYS = ["issue_ids", "keys", "values", "counts", "first_seen", "last_seen"]
HOUR_ARRAYS = ["issue_ids", "starts", "levels", "counts"]
PAIR_ARRAYS = ["keys", "values", "starts", "ends"]


def test_each_groups_arrays_are_aligned() -> None:
    params = _params()
    for prefix, names in (("tag", TAG_ARRAYS), ("hour", HOUR_ARRAYS), ("pair", PAIR_ARRAYS)):
        lengths = {name: len(params[f"{prefix}_{name}"]) for name in names}
        assert len(set(lengths.values())) == 1, (prefix, lengths)
    assert len(params["pair_event_ids"]) == len(params["pair_received_ats"])
    # every array the statement names is built, and nothing else
    assert set(params) | {"opened_issues", "reopened_issues"} == set(
        sync_queries().upsert_tags_and_counts.parameters
    )


def test_tag_rows_are_distinct_with_their_counts_and_times() -> None:
    expected: dict[tuple[Any, str, str], list[Any]] = {}
    for seconds, fp, _, tags in BATCH:
        at = MIDNIGHT + dt.timedelta(seconds=seconds)
        for key, value in tags.items():
            row = expected.setdefault((ISSUES[fp], key, value), [0, at, at])
            row[0] += 1
            row[2] = at
    rows = _rows(_params(), "tag", TAG_ARRAYS)
    assert len(rows) == len({r[:3] for r in rows})  # distinct
    assert {r[:3]: list(r[3:]) for r in rows} == expected


def test_a_frozen_keys_other_values_go_as_its_untracked_row_without_pairs() -> None:
    """A key that has refused a value (lock_tag_keys: frozen) sends its
    values without rows as one row per issue, the value "~" * 201, with their
    count and times, and no event_tags pair; its values with rows, and the
    other keys, as before."""
    untracked = "~" * 201
    expected: dict[tuple[Any, str, str], list[Any]] = {}
    for seconds, fp, _, tags in BATCH:
        at = MIDNIGHT + dt.timedelta(seconds=seconds)
        for key, value in tags.items():
            value = untracked if key == "region" and value != "eu" else value  # noqa: PLW2901
            row = expected.setdefault((ISSUES[fp], key, value), [0, at, at])
            row[0] += 1
            row[2] = at
    params = _params(frozen={"region": frozenset({"eu"})})
    rows = _rows(params, "tag", TAG_ARRAYS)
    assert {r[:3]: list(r[3:]) for r in rows} == expected
    assert (ISSUES["a"], "region", untracked) in expected  # the batch has such values
    pairs = {(k, v) for k, v, *_ in _rows(params, "pair", PAIR_ARRAYS)}
    assert ("region", "us") not in pairs and ("region", untracked) not in pairs
    assert ("region", "eu") in pairs and ("env", "prod") in pairs


def test_hour_rows_are_distinct_and_count_every_event() -> None:
    rows = _rows(_params(), "hour", HOUR_ARRAYS)
    assert len(rows) == len({r[:3] for r in rows})
    expected = Counter(
        (
            ISSUES[fp],
            (MIDNIGHT + dt.timedelta(seconds=s)).replace(minute=0, second=0, microsecond=0),
            level,
        )
        for s, fp, level, _ in BATCH
    )
    assert {r[:3]: r[3] for r in rows} == expected
    assert all(start.minute == start.second == 0 for _, start, _, _ in rows)


@pytest.mark.parametrize(("prefix", "names"), [("tag", TAG_ARRAYS), ("hour", HOUR_ARRAYS)])
def test_the_new_issues_rows_come_first_and_only_theirs(prefix: str, names: list[str]) -> None:
    params = _params()
    rows = _rows(params, prefix, names)
    first = params[f"new_issue_{prefix}_rows"]
    assert 0 < first < len(rows)  # the batch has rows of both kinds
    assert all(issue in NEW for issue, *_ in rows[:first])
    assert not any(issue in NEW for issue, *_ in rows[first:])


def test_pair_slices_hold_the_entries_back_to_back() -> None:
    params = _params()
    starts, ends = params["pair_starts"], params["pair_ends"]
    assert starts[0] == 1  # 1-based, as SQL arrays
    assert all(start <= end for start, end in zip(starts, ends, strict=True))  # none empty
    assert all(s == e + 1 for s, e in zip(starts[1:], ends, strict=False))  # no gap or overlap
    assert ends[-1] == len(params["pair_event_ids"])  # all of them


def test_a_pair_rows_events_are_its_days_newest_first() -> None:
    events = _events()
    params = _params(events)
    entries = list(zip(params["pair_event_ids"], params["pair_received_ats"], strict=True))
    rows = _rows(params, "pair", PAIR_ARRAYS)
    days = {(key, value, entries[start - 1][1].date()) for key, value, start, _ in rows}
    assert len(days) == len(rows)  # distinct
    for key, value, start, end in rows:
        mine = entries[start - 1 : end]
        day = mine[0][1].date()
        expected = [
            (e.row.id, e.row.received_at)
            for e in reversed(events)
            if e.tags.get(key) == value and e.row.received_at.date() == day
        ]
        assert mine == expected  # the pair's events of that day, newest first
    assert any(key == "env" and value == "prod" for key, value, *_ in rows[1:])  # two days
    assert len([r for r in rows if r[:2] == ("env", "prod")]) == 2


# --- what the statement does when a rule is broken ----------------------------------


def _existing_issue(conn: Conn, project_id: uuid.UUID) -> uuid.UUID:
    return ingest_event(conn, project_id, {"message": "m", "tags": {"env": "prod"}}).issue_id


def _one_tag_row(issue_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    event_id = uuid.uuid4()
    params: dict[str, Any] = {
        "tag_issue_ids": [issue_id], "tag_keys": ["env"], "tag_values": ["prod"],
        "tag_counts": [1], "tag_first_seen": [now], "tag_last_seen": [now],
        "new_issue_tag_rows": 0, "hour_issue_ids": [], "hour_starts": [], "hour_levels": [],
        "hour_counts": [], "new_issue_hour_rows": 0, "opened_issues": 0, "reopened_issues": 0,
        "pair_keys": ["env"], "pair_values": ["prod"], "pair_starts": [1], "pair_ends": [1],
        "pair_event_ids": [event_id], "pair_received_ats": [now],
        "issue_release_ids": [], "issue_release_versions": [],
        "issue_release_environments": [], "issue_release_counts": [],
        "issue_release_first_seen": [], "issue_release_last_seen": [],
        "user_issue_ids": [], "user_keys": [], "user_counts": [],
    }  # fmt: skip
    return params | changes


def test_an_existing_issues_row_among_the_new_ones_violates_the_key(
    conn: Conn, project_id: uuid.UUID
) -> None:
    issue_id = _existing_issue(conn, project_id)
    upsert = sync_queries().upsert_tags_and_counts
    assert upsert(conn, project_id=project_id, **_one_tag_row(issue_id))["issue_tag_rows"] == 1
    with pytest.raises(psycopg.errors.UniqueViolation, match="issue_tag_values_pkey"):
        upsert(conn, project_id=project_id, **_one_tag_row(issue_id, new_issue_tag_rows=1))


def test_arrays_of_one_group_out_of_line_are_refused(conn: Conn, project_id: uuid.UUID) -> None:
    issue_id = _existing_issue(conn, project_id)
    short = _one_tag_row(issue_id, tag_keys=["env", "region"])  # one key too many
    with pytest.raises(psycopg.errors.NotNullViolation):
        sync_queries().upsert_tags_and_counts(conn, project_id=project_id, **short)


def test_an_empty_pair_slice_is_refused(conn: Conn, project_id: uuid.UUID) -> None:
    issue_id = _existing_issue(conn, project_id)
    empty = _one_tag_row(issue_id, pair_starts=[2], pair_ends=[1])
    with pytest.raises(psycopg.errors.NotNullViolation, match=r"received_at.*event_tags"):
        sync_queries().upsert_tags_and_counts(conn, project_id=project_id, **empty)
