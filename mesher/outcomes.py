"""Outcomes, counted as Sentry counts them, in memory until written.

What happened to the items SDKs sent, per project, UTC hour, data category,
outcome and reason:

- ``accepted``: an error event stored (a retry of one already stored is not
  counted again);
- ``filtered``: an item not stored, whose ``SkipReason`` code is the reason
  (``item_type`` for transactions, sessions, attachments, ...; ``transaction``
  for an event that is one);
- ``rate_limited``: refused over the project's limit (one per request);
- ``invalid``: refused, with a reason code: ``payload`` (a body that is not
  an envelope or event), ``database`` (an event the database refused), or
  the ``SkipReason`` of an event item that could not be stored
  (``invalid``, ``too_large``, ``error``);
- ``client_discard``: what the SDKs report in their ``client_report`` items
  (their reason: ``queue_overflow``, ``ratelimit_backoff``, ...).

An :class:`OutcomeCounter` adds them up in memory, so that counting costs no
write per event; ``take()`` hands the counts over, to be written with
``queries.record_outcomes`` (one statement per project), and ``restore()``
puts them back if that failed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from uuid import UUID

from .models import SkippedItem, SkipReason

__all__ = ["OutcomeCounter", "category_of", "client_report_outcomes"]

#: Envelope item types and Sentry's data categories (the rest keep their type).
_CATEGORIES = {
    "event": "error",
    "transaction": "transaction",
    "session": "session",
    "sessions": "session",
    "attachment": "attachment",
    "check_in": "monitor",
    "log": "log_item",
    "span": "span",
    "profile": "profile",
    "profile_chunk": "profile_chunk",
    "replay_event": "replay",
    "replay_recording": "replay",
    "replay_video": "replay",
    "feedback": "feedback",
    "user_report": "user_report_v2",
}
#: What a client report lists, and the outcome it is counted as.
_REPORT_LISTS = ("discarded_events", "rate_limited_events", "filtered_events")

Key = tuple[dt.datetime, str, str, str]


def category_of(item_type: str) -> str:
    """Sentry's data category of an envelope item type."""
    return _CATEGORIES.get(item_type, item_type[:64] or "default")


def _reason_code(item: SkippedItem) -> tuple[str, str]:
    """The outcome and reason of an item not stored."""
    if item.code in (SkipReason.ITEM_TYPE, SkipReason.TRANSACTION):
        return "filtered", item.code.value
    return "invalid", item.code.value


def client_report_outcomes(payload: bytes) -> Iterator[tuple[str, str, int]]:
    """(category, reason, quantity) of each entry of a ``client_report``
    item; entries that are not well-formed are left out."""
    try:
        report = json.loads(payload)
    except (ValueError, RecursionError):
        return
    if not isinstance(report, dict):
        return
    for name in _REPORT_LISTS:
        entries = report.get(name)
        if not isinstance(entries, list):
            continue
        for entry in entries[:1000]:
            if not isinstance(entry, dict):
                continue
            category, reason = entry.get("category"), entry.get("reason")
            quantity = entry.get("quantity", 1)
            if not (isinstance(category, str) and 0 < len(category) <= 64):
                continue
            if not (isinstance(reason, str) and len(reason) <= 200):
                continue
            if type(quantity) is not int or not 0 < quantity <= 1_000_000_000:
                continue
            yield category, reason, quantity


class OutcomeCounter:
    """Outcome counts in memory, per project and key (see the module docstring)."""

    def __init__(self) -> None:
        self._counts: dict[UUID, dict[Key, int]] = {}

    def __repr__(self) -> str:
        return f"OutcomeCounter(projects={len(self._counts)})"

    def add(
        self,
        project_id: UUID,
        category: str,
        outcome: str,
        reason: str = "",
        quantity: int = 1,
        at: dt.datetime | None = None,
    ) -> None:
        """Count ``quantity`` items in the UTC hour of ``at`` (now by default)."""
        if quantity <= 0:
            return
        when = at or dt.datetime.now(dt.UTC)
        hour = when.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        counts = self._counts.setdefault(project_id, {})
        key = (hour, category, outcome, reason)
        counts[key] = counts.get(key, 0) + quantity

    def add_skipped(self, project_id: UUID, skipped: list[SkippedItem]) -> None:
        """The items of an envelope that were not stored."""
        for item in skipped:
            if item.item_type == "client_report":
                continue  # the report is not data; its contents are counted
            outcome, reason = _reason_code(item)
            category = "transaction" if item.code is SkipReason.TRANSACTION else None
            self.add(project_id, category or category_of(item.item_type), outcome, reason)

    def add_client_report(self, project_id: UUID, payload: bytes) -> None:
        for category, reason, quantity in client_report_outcomes(payload):
            self.add(project_id, category, "client_discard", reason, quantity)

    def take(self) -> dict[UUID, dict[Key, int]]:
        """The counts so far, per project; the counter starts again from zero."""
        counts, self._counts = self._counts, {}
        return counts

    def restore(self, counts: dict[UUID, dict[Key, int]]) -> None:
        """Put back counts that ``take`` gave and that could not be written."""
        for project_id, keys in counts.items():
            mine = self._counts.setdefault(project_id, {})
            for key, quantity in keys.items():
                mine[key] = mine.get(key, 0) + quantity

    def quantity(self, project_id: UUID, outcome: str) -> int:
        """How many of a project's items are counted with this outcome (not taken yet)."""
        return sum(n for k, n in self._counts.get(project_id, {}).items() if k[2] == outcome)
