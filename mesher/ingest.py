# Generated from mesher/aio/ingest.py by tools/gen_sync.py: edit that file.
"""The write path: group events into issues and store them.

``ingest_event`` and ``ingest_events`` validate every payload before any SQL
runs, then, in one transaction (``conn.transaction()``: a savepoint inside
the caller's open transaction, else a transaction of its own, committed on
success):

1. take an advisory lock per fingerprint, in one global order, so that
   concurrent batches sharing fingerprints queue rather than deadlock; route
   each fingerprint to its issue (``issue_fingerprints``: merges and
   unmerges repoint them), lock those issues in id order and note which are
   resolved;
2. insert an issue per new fingerprint, and update each existing issue once,
   adding the number of events (``event_count + n``), moving ``last_seen``,
   and regressing a resolved issue to unresolved (an archived one stays
   archived); each fingerprint's own counts likewise;
3. COPY the events (a single event is INSERTed: one round trip instead of
   three) as ``mesher._rows.EventRow``s, which name the columns of both
   statements, their JSONB columns as the JSON text each payload made once
   when it was validated;
4. add the batch to the tag store and the hourly rollups (migration 0012),
   coalesced here into one row per (issue, tag key, value) and per (issue,
   UTC hour, level), and its rows of event_tags (one per tag pair and UTC
   day, migration 0019), in one statement whose upserts take their rows
   sorted by key (a new issue's rows are inserted: they cannot exist yet):
   concurrent batches never deadlock, and counts stay exact. Last, so that
   the rows every batch of a project shares (its current hour, its common
   tag values) stay locked only until the commit.

Each event gets its id (a UUIDv7) and ``received_at`` here, from one clock
reading. The result says, per event, its issue and whether that issue was
new or regressed, which is what new-issue and regression alert rules need
(``queries.fire_issue_rules``). The Sentry path (``mesher.sentry``) writes
through the same steps, after claiming the SDKs' event ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb

from ._args import model_arg, uuid_arg
from ._retry import retry_deadlocks
from ._rows import COPY_EVENTS, INSERT_EVENT, EventRow, JsonText
from ._sql import BinaryArray, sync_queries
from ._uuid7 import uuid7_with_time
from .errors import Conflict, DatabaseError, InvalidInput, NotFound, translate_errors
from .fingerprint import fingerprint, title
from .limits import IDEMPOTENCY_DAYS, MAX_BATCH
from .models import EventPayload, IngestedEvent, Severity, most_severe

if TYPE_CHECKING:
    from ._sentry_event import SentryEvent

_q = sync_queries()
Conn = Connection[Any]

__all__ = ["IDEMPOTENCY_DAYS", "MAX_BATCH", "IngestedEvent", "ingest_event", "ingest_events"]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One validated event, ready for the issue upsert and the COPY."""

    #: The events row, but for its issue_id (None until upsert_issues).
    row: EventRow
    title: str
    level: Severity
    #: What the tag store counts: the event's tags, as stored (the Sentry
    #: path's include its environment and release).
    tags: Mapping[str, str]
    #: The user it counts as (``user_key``), or None.
    user: str | None = None


def user_key(user: Mapping[str, Any]) -> str | None:
    """The user an event counts as (migration 0025): ``<field>:<value>`` of
    the first of its user's id, email, IP address and username that holds a
    string that is not blank or a number; None when there is none. The mirror
    of the SQL function event_user_key (sql/functions/event_user_key.sql),
    which states the rule; tests/test_users_affected.py checks they agree."""
    for field in ("id", "email", "ip_address", "username"):
        value = user.get(field)
        if isinstance(value, str):
            if value.strip(_BLANK):
                return f"{field}:{value}"
        elif isinstance(value, int) and not isinstance(value, bool):
            return f"{field}:{value}"
        elif isinstance(value, float) and math.isfinite(value):
            # As PostgreSQL writes the numeric it parses from Python's JSON
            # (repr): no exponent, and no negative zero.
            text = format(Decimal(repr(value)), "f")
            return f"{field}:{text.lstrip('-') if value == 0 else text}"
    return None


#: What a blank user field is made of (event_user_key's btrim).
_BLANK = " \t\n\r\f\v"


def _native(project_id: UUID, payload: EventPayload) -> _Prepared:
    event_id, received_at = uuid7_with_time()
    exception, stacktrace, breadcrumbs, tags, extra, user_context = payload.json_columns()
    row = EventRow(
        id=event_id,
        project_id=project_id,
        issue_id=None,
        level=payload.level.value,
        message=payload.message,
        fingerprint=fingerprint(payload),
        exception=_json(exception),
        stacktrace=JsonText(stacktrace),
        breadcrumbs=JsonText(breadcrumbs),
        tags=JsonText(tags),
        extra=JsonText(extra),
        user_context=JsonText(user_context),
        sdk_name=payload.sdk_name,
        sdk_version=payload.sdk_version,
        received_at=received_at,
    )
    return _Prepared(
        row, title(payload), payload.level, payload.tags, user_key(payload.user_context)
    )


def _sentry(project_id: UUID, e: SentryEvent) -> _Prepared:
    event_id, received_at = uuid7_with_time()
    row = EventRow(
        id=event_id,
        project_id=project_id,
        issue_id=None,
        level=e.level.value,
        message=e.message,
        fingerprint=e.fingerprint,
        exception=_json(e.exception_json),
        stacktrace=JsonText(e.stacktrace_json),
        breadcrumbs=JsonText(e.breadcrumbs_json),
        tags=JsonText(e.tags_json),
        extra=JsonText(e.extra_json),
        user_context=JsonText(e.user_json),
        sdk_name=e.sdk_name,
        sdk_version=e.sdk_version,
        received_at=received_at,
        client_event_id=e.client_event_id,
        occurred_at=e.occurred_at,
        release=e.release,
        environment=e.environment,
        dist=e.dist,
        platform=e.platform,
        server_name=e.server_name,
        logger=e.logger,
        transaction=e.transaction,
        handled=e.handled,
        exceptions=_json(e.exceptions_json),
        data=JsonText(e.data_json),
    )
    user = json.loads(e.user_json) if e.user_json not in ("{}", "null") else None
    return _Prepared(
        row, e.title, e.level, e.tags, user_key(user) if isinstance(user, dict) else None
    )


def _json(text: str | None) -> JsonText | None:
    return None if text is None else JsonText(text)


def _prepare(project_id: UUID, payloads: Iterable[Any]) -> list[_Prepared]:
    if isinstance(payloads, (str, bytes, Mapping, EventPayload)) or not isinstance(
        payloads, Iterable
    ):
        raise InvalidInput("payloads must be a sequence of events")
    prepared = []
    for index, raw in enumerate(payloads):
        if index >= MAX_BATCH:
            raise InvalidInput(f"a batch holds at most {MAX_BATCH} events")
        prepared.append(_native(project_id, model_arg(raw, EventPayload, f"event {index}")))
    return prepared


def _issue_params(project_id: UUID, events: Sequence[_Prepared]) -> dict[str, Any]:
    """The parallel arrays of upsert_issues: one entry per fingerprint, sorted
    (binary arrays, like every array of the write path: see ``BinaryArray``)."""
    groups: dict[str, list[_Prepared]] = {}
    for event in events:
        groups.setdefault(event.row.fingerprint, []).append(event)
    keys = BinaryArray(sorted(groups))
    releases = [[e.row.release for e in groups[k] if e.row.release is not None] for k in keys]
    pairs = sorted({(k, r) for k, rs in zip(keys, releases, strict=True) for r in rs})
    return {
        "project_id": project_id,
        "fingerprints": keys,
        "titles": BinaryArray(groups[k][0].title for k in keys),
        "levels": BinaryArray(most_severe(e.level for e in groups[k]).value for k in keys),
        "counts": BinaryArray(len(groups[k]) for k in keys),
        "first_seen": BinaryArray(groups[k][0].row.received_at for k in keys),
        "last_seen": BinaryArray(groups[k][-1].row.received_at for k in keys),
        "first_releases": BinaryArray(r[0] if r else None for r in releases),
        "last_releases": BinaryArray(r[-1] if r else None for r in releases),
        # the batch's distinct (fingerprint, release) pairs: which releases
        # may reopen an issue resolved in a release
        "release_fingerprints": BinaryArray(k for k, r in pairs),
        "release_versions": BinaryArray(r for k, r in pairs),
    }


def _tags_and_counts_params(
    project_id: UUID,
    events: Sequence[_Prepared],
    issue_ids: Mapping[str, UUID],
    new_issues: set[UUID],
    frozen: Mapping[str, frozenset[str]],
) -> dict[str, Any]:
    """The parameters of upsert_tags_and_counts, sent as binary arrays (see
    ``BinaryArray``): three groups of parallel arrays, in which the entries
    at one index are one row, and three counts. Each group's contract is
    stated where it is built, below; tests/test_ingest_arrays.py checks each
    rule. ``events`` are in time order (one clock reading each, taken in
    order), as ``_prepare`` and ``_sentry`` make them. The statement sorts
    the rows it upserts itself: no other order is asked of Python."""
    new_tags: dict[tuple[UUID, str, str], list[Any]] = {}
    old_tags: dict[tuple[UUID, str, str], list[Any]] = {}
    new_hours: dict[tuple[UUID, dt.datetime, str], int] = {}
    old_hours: dict[tuple[UUID, dt.datetime, str], int] = {}
    pairs: dict[tuple[str, str, dt.date], list[_Prepared]] = {}
    releases: dict[tuple[UUID, str, str], list[Any]] = {}
    users: dict[tuple[UUID, str], int] = {}
    for e in events:
        issue_id, at = issue_ids[e.row.fingerprint], e.row.received_at  # in time order
        new = issue_id in new_issues
        tags, hours = (new_tags, new_hours) if new else (old_tags, old_hours)
        hour = (issue_id, at.replace(minute=0, second=0, microsecond=0), e.row.level)
        hours[hour] = hours.get(hour, 0) + 1
        day = at.date()  # received_at is UTC
        if e.user is not None:
            users[(issue_id, e.user)] = users.get((issue_id, e.user), 0) + 1
        if e.row.release is not None:
            seen = releases.get((issue_id, e.row.release, e.row.environment or ""))
            if seen is None:
                releases[(issue_id, e.row.release, e.row.environment or "")] = [1, at, at]
            else:
                seen[0] += 1
                seen[2] = at
        for key, given in e.tags.items():
            tracked = frozen.get(key)
            # a value without rows counts with its key's others, no rows of its own
            value = _UNTRACKED if tracked is not None and given not in tracked else given
            seen = tags.get((issue_id, key, value))
            if seen is None:
                tags[(issue_id, key, value)] = [1, at, at]
            else:
                seen[0] += 1
                seen[2] = at
            if value is not _UNTRACKED:
                pairs.setdefault((key, value, day), []).append(e)
    pair_events: list[_Prepared] = []
    pair_starts, pair_ends = [], []
    for pair in pairs.values():
        pair_starts.append(len(pair_events) + 1)
        pair_events.extend(reversed(pair))  # newest first
        pair_ends.append(len(pair_events))
    tags = new_tags | old_tags  # the new issues' first
    hours = new_hours | old_hours
    return {
        "project_id": project_id,
        # issue_tag_values and project_tag_values: one row per distinct
        # (issue, tag key, value) of the batch (distinct: an upsert cannot
        # touch a row twice), with how many of its events carry the pair and
        # the first and the last one's time. The new issues' rows come first,
        # new_issue_tag_rows of them, and only theirs: the statement inserts
        # those without a conflict check, so an existing issue's row among
        # them would violate the primary key (the others are upserted).
        "tag_issue_ids": BinaryArray(k[0] for k in tags),
        "tag_keys": BinaryArray(k[1] for k in tags),
        "tag_values": BinaryArray(k[2] for k in tags),
        "tag_counts": BinaryArray(s[0] for s in tags.values()),
        "tag_first_seen": BinaryArray(s[1] for s in tags.values()),
        "tag_last_seen": BinaryArray(s[2] for s in tags.values()),
        "new_issue_tag_rows": len(new_tags),
        # issue_hourly_counts and project_hourly_counts: one row per distinct
        # (issue, UTC hour start, level) of the batch with its event count;
        # the new issues' rows first, new_issue_hour_rows of them, as above.
        # The statement sums them per issue and hour, and per hour and level.
        "hour_issue_ids": BinaryArray(k[0] for k in hours),
        "hour_starts": BinaryArray(k[1] for k in hours),
        "hour_levels": BinaryArray(k[2] for k in hours),
        "hour_counts": BinaryArray(hours.values()),
        "new_issue_hour_rows": len(new_hours),
        # event_tags: one row per distinct (tag key, value, UTC day) of the
        # batch. Row i's events are entries pair_starts[i] to pair_ends[i]
        # (1-based, both included) of pair_event_ids and pair_received_ats,
        # which hold the rows' events back to back, in row order. A row's
        # events are of its day (the row lives in that day's partition and
        # goes with it), newest first: the first is the row's key (its
        # received_at and event_id), and filter_events_by_tags reads them in
        # that order.
        "pair_keys": BinaryArray(k[0] for k in pairs),
        "pair_values": BinaryArray(k[1] for k in pairs),
        "pair_starts": BinaryArray(pair_starts),
        "pair_ends": BinaryArray(pair_ends),
        "pair_event_ids": BinaryArray(e.row.id for e in pair_events),
        "pair_received_ats": BinaryArray(e.row.received_at for e in pair_events),
        # issue_releases and releases: one row per distinct (issue, release,
        # environment; '' for none) of the batch's events that have a
        # release, with their count and the first and the last one's time.
        "issue_release_ids": BinaryArray(k[0] for k in releases),
        "issue_release_versions": BinaryArray(k[1] for k in releases),
        "issue_release_environments": BinaryArray(k[2] for k in releases),
        "issue_release_counts": BinaryArray(s[0] for s in releases.values()),
        "issue_release_first_seen": BinaryArray(s[1] for s in releases.values()),
        "issue_release_last_seen": BinaryArray(s[2] for s in releases.values()),
        # issue_users: one row per distinct (issue, user) of the batch, with
        # how many of its events carried the user.
        "user_issue_ids": BinaryArray(k[0] for k in users),
        "user_keys": BinaryArray(k[1] for k in users),
        "user_counts": BinaryArray(users.values()),
        # project_issue_counts: opened_issues and reopened_issues, from
        # upsert_issues and lock_issues, are added by the caller (_store).
    }


#: A key's untracked values, as the tag store counts them (migration 0028):
#: longer than any value.
_UNTRACKED = "~" * 201

#: The values with rows of the tag keys that have refused a value, per
#: project and key: such a set never changes again (upsert_tags_and_counts
#: admits no new value to a key that has refused one), so it is read once per
#: process. At most value_bound values per key, and the sets of at most
#: FROZEN_KEYS keys (the one read longest ago goes first).
_FROZEN: dict[tuple[UUID, str], frozenset[str]] = {}
FROZEN_KEYS = 1024


def _frozen_tag_values(
    conn: Conn, project_id: UUID, events: Sequence[_Prepared]
) -> dict[str, frozenset[str]]:
    """Locks the batch's tag keys' rows (lock_tag_keys: before the last
    statement) and returns, for those that have refused a value, their
    values with rows, from _FROZEN or read once."""
    keys = sorted({key for e in events for key in e.tags})
    if not keys:
        return {}
    locked = _q.ingest.lock_tag_keys(conn, project_id=project_id, tag_keys=BinaryArray(keys))
    frozen = [row["tag_key"] for row in locked if row["frozen"]]
    values = {key: _FROZEN[(project_id, key)] for key in frozen if (project_id, key) in _FROZEN}
    missing = [key for key in frozen if key not in values]
    if missing:
        read = _q.ingest.tracked_tag_values(
            conn, project_id=project_id, tag_keys=BinaryArray(missing)
        )
        found = {row["tag_key"]: frozenset(row["tag_values"]) for row in read}
        for key in missing:
            values[key] = _FROZEN[(project_id, key)] = found.get(key, frozenset())
        while len(_FROZEN) > FROZEN_KEYS:
            del _FROZEN[next(iter(_FROZEN))]
    return values


def _lock_keys(project_id: UUID, fingerprints: Sequence[str]) -> list[int]:
    """Advisory lock keys (signed 64-bit) for a batch's fingerprints, sorted:
    every batch takes its locks in the same global order."""
    keys = {
        int.from_bytes(hashlib.sha256(project_id.bytes + fp.encode()).digest()[:8], signed=True)
        for fp in fingerprints
    }
    return BinaryArray(sorted(keys))


def _digest(events: Sequence[_Prepared]) -> str:
    """SHA-256 of what the events say (not of the ids the layer gave them)."""
    h = hashlib.sha256()
    for e in events:
        r = e.row
        parts = (r.level, r.message, r.sdk_name or "", r.sdk_version or "", r.fingerprint)
        json_columns = (r.exception, r.stacktrace, r.breadcrumbs, r.tags, r.extra, r.user_context)
        for part in (*parts, *json_columns):
            h.update((part or "").encode("utf-8", "surrogatepass") + b"\x00")
    return h.hexdigest()


def _store(conn: Conn, project_id: UUID, events: list[_Prepared]) -> list[IngestedEvent]:
    """Steps 1-4 of the module docstring, inside the caller's transaction."""
    params = _issue_params(project_id, events)
    _q.ingest.lock_fingerprints(conn, keys=_lock_keys(project_id, params["fingerprints"]))
    # Route the batch and lock its existing issues: their status before this
    # batch says which ones regress, and cannot change until it commits.
    locked = _q.ingest.lock_issues(conn, project_id=project_id, fingerprints=params["fingerprints"])
    routes = {row["fingerprint"]: row for row in locked}
    params["issue_ids"] = BinaryArray(
        routes[fp]["id"] if fp in routes else None for fp in params["fingerprints"]
    )
    issues = {row["fingerprint"]: row for row in _q.ingest.upsert_issues(conn, **params)}
    if not issues:  # the project is deleted (or missing): refused, nothing written
        raise NotFound("project not found")
    regressed = {fp for fp, row in issues.items() if row["regressed"]}
    rows = [e.row._replace(issue_id=issues[e.row.fingerprint]["id"]) for e in events]
    with conn.cursor() as cur:
        if len(rows) == 1:
            cur.execute(INSERT_EVENT, rows[0])
        else:
            with cur.copy(COPY_EVENTS) as copy:
                for row in rows:
                    copy.write_row(row)
    issue_ids = {fp: row["id"] for fp, row in issues.items()}
    _q.ingest.upsert_tags_and_counts(
        conn,
        **_tags_and_counts_params(
            project_id,
            events,
            issue_ids,
            {row["id"] for row in issues.values() if row["new_issue"]},
            _frozen_tag_values(conn, project_id, events),
        ),
        opened_issues=sum(row["new_issue"] for row in issues.values()),
        # the resolved issues the batch reopened (once, whatever their
        # fingerprints)
        reopened_issues=len({issues[fp]["id"] for fp in regressed}),
    )
    return [
        IngestedEvent(
            e.row.id,
            issues[e.row.fingerprint]["id"],
            issues[e.row.fingerprint]["new_issue"],
            e.row.fingerprint in regressed,
        )
        for e in events
    ]


@retry_deadlocks  # a deadlock never reaches ingest_events' caller
def _write(
    conn: Conn, project_id: UUID, events: list[_Prepared], key: str | None
) -> list[IngestedEvent]:
    with conn.transaction():
        if key is not None:
            replay = _replay(conn, project_id, key, _digest(events))
            if replay is not None:
                return replay
        results = _store(conn, project_id, events)
        if key is not None:
            stored = Jsonb(
                [[str(r.event_id), str(r.issue_id), r.new_issue, r.regressed] for r in results]
            )
            _q.ingest.record_ingest_batch(
                conn, project_id=project_id, idempotency_key=key, result=stored
            )
    return results


def _replay(conn: Conn, project_id: UUID, key: str, digest: str) -> list[IngestedEvent] | None:
    """The recorded result of an earlier call with this key, or None (and the
    key claimed for this call) if there was none."""
    claimed = _q.ingest.claim_ingest_batch(
        conn, project_id=project_id, idempotency_key=key, request_digest=digest
    )
    if claimed is not None:
        return None
    prior = _q.ingest.get_ingest_batch(conn, project_id=project_id, idempotency_key=key)
    if prior is None or prior["request_digest"] != digest:
        raise Conflict("idempotency_key was already used for different events")
    return [
        IngestedEvent(UUID(e), UUID(i), new, reg, duplicate=True)
        for e, i, new, reg in prior["result"]
    ]


class _SeenBefore(Exception):
    """Some SDK event ids of an attempt were recorded by an earlier arrival."""


@retry_deadlocks
def write_sentry_events(
    conn: Conn, project_id: UUID, events: Sequence[SentryEvent]
) -> list[IngestedEvent]:
    """Store normalized Sentry events in one transaction, in order; an SDK
    event id seen before (in this project, or earlier in ``events``) stores
    and counts nothing and gets the first arrival's result. The caller has
    checked ``project_id``; ``mesher.sentry`` is the public entry point.

    Retries are rare, so the events are written first and their ids recorded
    last, in the same transaction: an id recorded before makes the attempt
    roll back, and the next one leaves that event out."""
    pending: dict[UUID, _Prepared] = {}  # client event id -> the first event with it
    for event in events:
        pending.setdefault(event.client_event_id, _sentry(project_id, event))
    outcome: dict[UUID, IngestedEvent] = {}
    for _ in range(len(pending) + 1):  # each retry leaves at least one event out
        try:
            with conn.transaction():
                stored = _store(conn, project_id, list(pending.values()))
                _record_sentry_event_ids(conn, project_id, list(pending.values()), stored)
            outcome.update(zip(pending, stored, strict=True))
            break
        except _SeenBefore:
            with conn.transaction():
                outcome.update(_earlier_arrivals(conn, project_id, list(pending)))
            pending = {k: p for k, p in pending.items() if k not in outcome}
            if not pending:
                break
    else:
        raise DatabaseError("SDK event ids kept colliding with concurrent arrivals; retry")
    return [outcome[event.client_event_id] for event in events]


def _record_sentry_event_ids(
    conn: Conn, project_id: UUID, events: list[_Prepared], stored: list[IngestedEvent]
) -> None:
    """Record what was done with each SDK event id; ``_SeenBefore`` if any
    was recorded by an earlier arrival."""
    rows = _q.ingest.record_sentry_event_ids(
        conn,
        project_id=project_id,
        client_event_ids=BinaryArray(e.row.client_event_id for e in events),
        event_ids=BinaryArray(r.event_id for r in stored),
        issue_ids=BinaryArray(r.issue_id for r in stored),
        new_issues=BinaryArray(r.new_issue for r in stored),
        regressed=BinaryArray(r.regressed for r in stored),
    )
    if len([row for row in rows]) < len(events):
        raise _SeenBefore


def _earlier_arrivals(
    conn: Conn, project_id: UUID, client_event_ids: list[UUID]
) -> dict[UUID, IngestedEvent]:
    """The recorded results of those SDK event ids that arrived before."""
    rows = _q.ingest.list_sentry_event_ids(
        conn, project_id=project_id, client_event_ids=client_event_ids
    )
    return {
        row["client_event_id"]: IngestedEvent(
            row["event_id"], row["issue_id"], row["new_issue"], row["regressed"], duplicate=True
        )
        for row in rows
    }


def _idempotency_key(value: Any) -> str | None:
    """The key's type and characters; its length is the ingest_batches CHECK
    constraint's business (reported as InvalidInput too)."""
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"idempotency_key must be a string, got {type(value).__name__}")
    if value is not None and "\x00" in value:
        raise InvalidInput("idempotency_key contains a NUL character")
    return value


@translate_errors
def ingest_event(
    conn: Conn, project_id: UUID | str, payload: Any, idempotency_key: str | None = None
) -> IngestedEvent:
    """Store one event (an ``EventPayload`` or a mapping); see ``ingest_events``
    for ``idempotency_key``."""
    (result,) = ingest_events(conn, project_id, [payload], idempotency_key)
    return result


@translate_errors
def ingest_events(
    conn: Conn,
    project_id: UUID | str,
    payloads: Iterable[Any],
    idempotency_key: str | None = None,
) -> list[IngestedEvent]:
    """Store a batch of events atomically: all of them, or none if any payload
    is invalid or any statement fails. One issue upsert per distinct
    fingerprint, one COPY of the events, then one statement for the tag
    store and the hourly rollups.

    With an ``idempotency_key`` (any string up to 200 characters, unique per
    project and call), a retry of a call that may or may not have committed
    (say, the connection broke) is safe: if the first one committed, the retry
    writes nothing and returns the same result. Reusing a key for different
    events raises ``Conflict``. Keys are kept for ``IDEMPOTENCY_DAYS``."""
    pid = uuid_arg(project_id, "project_id")
    key = _idempotency_key(idempotency_key)
    events = _prepare(pid, payloads)
    return _write(conn, pid, events, key) if events else []
