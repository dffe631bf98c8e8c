# Generated from mesher/aio/queries/fingerprints.py by tools/gen_sync.py: edit that file.
"""Fingerprints and their issues: merge and unmerge (sql/queries/fingerprints.sql).

An issue has one or more fingerprints (``issue_fingerprints``); the write path
routes each new event by its fingerprint's current issue. ``merge_issues``
joins issues in one statement whose cost follows their fingerprints and
rollup rows: no event is rewritten, and the reads of the target's events
include its sources'. ``unmerge_issue`` moves fingerprints to a new issue at
once, then their past events in short transactions of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from psycopg import pq

from .._args import uuid_arg
from .._results import found, issue_from_row, trusted
from .._retry import retry_deadlocks
from .._sql import BinaryArray
from ..errors import Conflict, InvalidInput, NotFound, translate_errors
from ..ingest import _lock_keys  # a pure function: the sync module serves both
from ..limits import MAX_PAGE
from ..models import Issue, IssueFingerprint, Severity
from ._common import Conn, bound_lock_waits, lock_timeout_arg, q

__all__ = ["list_issue_fingerprints", "merge_issues", "resume_unmerges", "unmerge_issue"]

#: Events an unmerge moves per transaction: each one holds its locks for
#: about 0.2 s at most on a busy 2-core machine, far under a second (bench
#: scenario 16c; the events' UPDATE, its index entries and foreign key check
#: cost about 50 µs an event).
UNMERGE_CHUNK = 1000
#: The span of time whose events' ids an unmerge reads at once (a day: one
#: events partition), so that the client holds a day's worth at most.
UNMERGE_WINDOW = dt.timedelta(days=1)


def _ids(value: Any, name: str) -> list[UUID]:
    """Distinct issue ids, in the order given, at least one and at most MAX_PAGE."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInput(f"{name} must be a list of issue ids")
    ids: dict[UUID, None] = {}
    for index, item in enumerate(value):
        if index >= MAX_PAGE:
            raise InvalidInput(f"{name} holds at most {MAX_PAGE} ids")
        ids[uuid_arg(item, f"{name} item {index}")] = None
    if not ids:
        raise InvalidInput(f"{name} must name at least one issue")
    return list(ids)


def _fingerprints(value: Any) -> list[str]:
    """Distinct fingerprints, sorted, at least one and at most MAX_PAGE."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInput("fingerprints must be a list of strings")
    items = list(value)
    if not items or len(items) > MAX_PAGE:
        raise InvalidInput(f"fingerprints must hold 1 to {MAX_PAGE} fingerprints")
    if not all(isinstance(fp, str) for fp in items):
        raise InvalidInput("fingerprints must be a list of strings")
    return sorted(set(items))


def _check_live(locked: dict[UUID, dict[str, Any]], ids: list[UUID]) -> None:
    for issue_id in ids:
        row = locked.get(issue_id)
        if row is None or row["deleted_at"] is not None:
            raise NotFound(f"issue {issue_id} not found")
        if row["merged_into"] is not None:
            raise Conflict(f"issue {issue_id} was merged into {row['merged_into']}")


@translate_errors
def list_issue_fingerprints(
    conn: Conn, project_id: UUID | str, issue_id: UUID | str
) -> list[IssueFingerprint]:
    """An issue's fingerprints (a merged id: its target's), each with its own
    event count, first and last seen, the most events first; ``NotFound`` for
    no issue of the project, or a deleted one."""
    rows = q.fingerprints.list_issue_fingerprints(
        conn, project_id=uuid_arg(project_id, "project_id"), issue_id=uuid_arg(issue_id, "issue_id")
    )
    items = []
    for row in rows:
        row["level"] = Severity(row["level"])
        items.append(trusted(IssueFingerprint, row))
    if not items:
        raise NotFound(f"issue {issue_id} not found")
    return items


@translate_errors
def merge_issues(
    conn: Conn,
    project_id: UUID | str,
    target_id: UUID | str,
    source_ids: Iterable[UUID | str],
) -> Issue:
    """Merge issues of a project into ``target_id`` and return it, updated:
    its event count the sum, first seen the earliest, last seen the latest,
    its level the most severe. The sources' fingerprints, tag values and
    hourly counts become the target's; its event reads include theirs; the
    sources leave every list and count, and ``get_issue`` on one answers the
    target. New events of their fingerprints land in the target.

    Runs in one transaction (a savepoint inside the caller's). ``NotFound``
    for an issue that is not the project's or was deleted, ``Conflict`` for
    one merged already, ``InvalidInput`` for a target among the sources; a
    merge that meets a concurrent merge of the same issues raises
    ``Conflict`` and changes nothing: retry it."""
    pid = uuid_arg(project_id, "project_id")
    target = uuid_arg(target_id, "target_id")
    sources = _ids(source_ids, "source_ids")
    if target in sources:
        raise InvalidInput("source_ids must not hold target_id")
    with conn.transaction():
        fps = [
            row["fingerprint"]
            for row in q.fingerprints.fingerprints_of_issues(
                conn, project_id=pid, issue_ids=sources
            )
        ]
        q.ingest.lock_fingerprints(conn, keys=_lock_keys(pid, fps))
        locked = {
            row["id"]: row
            for row in q.fingerprints.lock_issues_for_change(
                conn, project_id=pid, issue_ids=[target, *sources]
            )
        }
        _check_live(locked, [target, *sources])
        now = q.fingerprints.fingerprints_of_issues(conn, project_id=pid, issue_ids=sources)
        if [row["fingerprint"] for row in now] != fps:
            raise Conflict("the issues changed while they were being merged: retry")
        row = q.fingerprints.merge_issues(
            conn, project_id=pid, target_id=target, source_ids=sources
        )
    return issue_from_row(found(row, f"issue {target}"))


@translate_errors
def unmerge_issue(
    conn: Conn,
    project_id: UUID | str,
    issue_id: UUID | str,
    fingerprints: Iterable[str],
) -> Issue:
    """Move some of an issue's fingerprints (not all), their past events and
    their new ones, to a new issue, and return it. Both issues' counts,
    tag values, hourly counts, releases and users are consistent when it
    returns.

    It commits as it goes, so call it outside a transaction (``InvalidInput``
    otherwise): first it finishes the project's unmerges that were cut short
    (``resume_unmerges``), then it moves the fingerprints in one short
    transaction (from then on, new events of those fingerprints land in the
    new issue), then their past events in chunks of ``UNMERGE_CHUNK``, one
    short transaction each, with their share of the counts and rollups: no
    lock is held for long, whatever the event count, and at every commit
    each issue's count, events, facets, sparklines, releases and users agree
    with the events it holds. If it is cut short, the rest is moved by the
    next call for the project or by ``resume_unmerges``. ``NotFound`` for no
    issue of the project, ``Conflict`` for a merged one, ``InvalidInput``
    for a fingerprint that is not the issue's or for all of them."""
    pid = uuid_arg(project_id, "project_id")
    iid = uuid_arg(issue_id, "issue_id")
    fps = _fingerprints(fingerprints)
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise InvalidInput("unmerge_issue commits as it goes: call it outside a transaction")
    _resume(conn, pid)
    with conn.transaction():
        q.ingest.lock_fingerprints(conn, keys=_lock_keys(pid, fps))
        locked = {
            row["id"]: row
            for row in q.fingerprints.lock_issues_for_change(conn, project_id=pid, issue_ids=[iid])
        }
        _check_live(locked, [iid])
        created = q.fingerprints.unmerge_issue(conn, project_id=pid, issue_id=iid, fingerprints=fps)
        if created is None:
            raise InvalidInput(
                f"fingerprints must be some of issue {iid}'s (see list_issue_fingerprints),"
                " not all of them"
            )
    new_id = created["id"]
    _move(conn, pid, new_id)
    with conn.transaction():
        row = q.issues.get_issue_in_project(conn, project_id=pid, id=new_id)
    return issue_from_row(found(row, f"issue {new_id}"))


@translate_errors
def resume_unmerges(
    conn: Conn, project_id: UUID | str, *, lock_timeout_ms: int | None = None
) -> int:
    """Finish the project's unmerges that were cut short (their process
    died, their connection was lost, between two chunks), as
    ``unmerge_issue`` would have, and return how many there were. Commits as
    it goes: call it outside a transaction (``InvalidInput`` otherwise).
    With ``lock_timeout_ms``, a transaction waits at most that long for a
    lock (then ``DatabaseError``, sqlstate 55P03; the next call goes on).
    ``unmerge_issue`` calls it first; ``maintain`` too."""
    pid = uuid_arg(project_id, "project_id")
    wait = lock_timeout_arg(lock_timeout_ms)
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise InvalidInput("resume_unmerges commits as it goes: call it outside a transaction")
    return _resume(conn, pid, wait)


def _resume(conn: Conn, project_id: UUID, wait: int | None = None) -> int:
    with conn.transaction():
        rows = q.fingerprints.resume_unmerges(conn, project_id=project_id)
        pending = [row["new_issue_id"] for row in rows]
    for new_id in pending:
        _move(conn, project_id, new_id, wait)
    return len(pending)


def _move(conn: Conn, project_id: UUID, new_id: UUID, wait: int | None = None) -> None:
    """Move an unmerge's past events, a window of ``UNMERGE_WINDOW`` at a
    time (their ids read outside the chunks' transactions), one chunk per
    transaction; the last one, empty, finishes it. Stops once either issue
    was deleted, or another call finished it. ``wait``: each transaction's
    lock timeout (ms), if any."""
    with conn.transaction():
        bound_lock_waits(conn, wait)
        pending = q.fingerprints.lock_unmerge(conn, project_id=project_id, new_issue_id=new_id)
        if pending is None:  # finished by another call meanwhile
            return
        which = {
            "project_id": project_id,
            "from_issue_ids": pending["from_issue_ids"],
            "fingerprints": pending["fingerprints"],
        }
        span = q.fingerprints.unmerged_event_span(conn, **which)
    start, newest = (span["oldest"], span["newest"]) if span else (None, None)
    while start is not None and start <= newest:
        end = start + UNMERGE_WINDOW
        with conn.transaction():
            rows = q.fingerprints.unmerged_event_ids(conn, **which, not_before=start, not_after=end)
            events = [(row["id"], row["received_at"]) for row in rows]
        for at in range(0, len(events), UNMERGE_CHUNK):
            chunk = events[at : at + UNMERGE_CHUNK]
            if _chunk(conn, project_id, new_id, chunk, False, wait):
                return
        start = end
    _chunk(conn, project_id, new_id, [], True, wait)


@retry_deadlocks
def _chunk(
    conn: Conn,
    project_id: UUID,
    new_id: UUID,
    events: list[tuple[UUID, Any]],
    last: bool,
    wait: int | None,
) -> bool:
    """One chunk of an unmerge: these events (those still to move); True
    when the unmerge is over (finished with the ``last`` chunk, or
    forgotten)."""
    with conn.transaction():
        bound_lock_waits(conn, wait)
        pending = q.fingerprints.lock_unmerge(conn, project_id=project_id, new_issue_id=new_id)
        if pending is None:  # finished by another call meanwhile
            return True
        old_id = pending["old_issue_id"]
        live = _lock_live(conn, project_id, [old_id, new_id])
        if live is None:  # either was deleted: its rows go with it
            # The events not moved yet stay where they are, and count there.
            q.fingerprints.forget_unmerge(conn, project_id=project_id, new_issue_id=new_id)
            return True
        old_live, new_live = live[old_id], live[new_id]
        if events:
            q.fingerprints.move_unmerged_events(
                conn,
                project_id=project_id,
                from_issue_ids=pending["from_issue_ids"],
                fingerprints=pending["fingerprints"],
                event_ids=BinaryArray(e[0] for e in events),
                received_ats=BinaryArray(e[1] for e in events),
                not_before=min(e[1] for e in events),
                not_after=max(e[1] for e in events),
                new_issue_id=new_id,
                old_rollup_id=old_live,
                new_rollup_id=new_live,
            )
        if old_live != new_live:
            q.fingerprints.tidy_unmerge(
                conn, project_id=project_id, old_issue_id=old_live, new_issue_id=new_live
            )
            q.fingerprints.recount_issue_users(
                conn, project_id=project_id, issue_ids=sorted({old_live, new_live})
            )
        if not last:
            return False
        if old_live != new_live:
            q.fingerprints.settle_unmerge(conn, project_id=project_id, issue_id=old_live)
        q.fingerprints.forget_unmerge(conn, project_id=project_id, new_issue_id=new_id)
        return True


def _lock_live(conn: Conn, project_id: UUID, ids: list[UUID]) -> dict[UUID, UUID] | None:
    """Lock the issues, and those they were merged into since (in id order,
    each round): each id's live issue, or None if any was deleted."""
    live = {i: i for i in ids}
    for _ in range(3):  # merged_into points at a live issue: one hop, then a check
        wanted = sorted(set(live.values()))
        rows = {
            row["id"]: row
            for row in q.fingerprints.lock_issues_for_change(
                conn, project_id=project_id, issue_ids=wanted
            )
        }
        if any(rows.get(i) is None or rows[i]["deleted_at"] is not None for i in wanted):
            return None
        if all(rows[i]["merged_into"] is None for i in wanted):
            return live
        live = {k: rows[v]["merged_into"] or v for k, v in live.items()}
    raise Conflict("the issues kept being merged during the unmerge: retry")
