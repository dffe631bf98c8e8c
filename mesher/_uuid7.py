"""RFC 9562 UUIDv7 made in Python, for ids the write path assigns itself.

The write path gives each event an id and a ``received_at`` from one clock
reading, so the id's timestamp pins the event's partition (see get_event).
Within a process, ids are strictly increasing: a counter in ``rand_a`` breaks
ties inside one millisecond.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from uuid import UUID

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7_with_time() -> tuple[UUID, dt.datetime]:
    """A new UUIDv7 and the instant (UTC, millisecond precision) it encodes."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms, _counter = ms, int.from_bytes(os.urandom(2)) & 0x1FF
        else:  # same millisecond (or the clock stepped back): keep counting
            ms, _counter = _last_ms, _counter + 1
            if _counter > 0xFFF:
                _last_ms, _counter = _last_ms + 1, 0
                ms = _last_ms
        counter = _counter
    rand_b = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
    return UUID(int=value), dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def uuid7_time(value: UUID) -> dt.datetime:
    """The instant a UUIDv7 encodes."""
    return dt.datetime.fromtimestamp((value.int >> 80) / 1000, dt.UTC)
