"""Grouping: deterministic, versioned, bounded fingerprints; titles."""

from __future__ import annotations

from typing import Any

import pytest

from mesher.fingerprint import fingerprint, normalize, title
from mesher.models import EventPayload


def payload(**fields: Any) -> EventPayload:
    return EventPayload.model_validate(fields)


FRAMES = [
    {"filename": "app/db.py", "function_name": "query", "lineno": 10, "in_app": True},
    {"filename": "site-packages/x.py", "function_name": "run", "lineno": 99},
    {"filename": "app/api.py", "function_name": "handler", "lineno": 20, "in_app": True},
]


def test_shape_and_determinism() -> None:
    fp = fingerprint(payload(message="boom"))
    assert fp.startswith("v1:") and len(fp) == 67
    assert fp == fingerprint(payload(message="boom"))
    assert fp != fingerprint(payload(message="bang"))


def test_explicit_fingerprint_wins() -> None:
    a = payload(fingerprint="checkout-flow", message="one", exception={"type_name": "A"})
    b = payload(fingerprint="checkout-flow", message="two", exception={"type_name": "B"})
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(payload(fingerprint="other", message="one"))


def test_in_app_frames_and_type_ignore_lines_and_values() -> None:
    moved = [dict(f, lineno=f["lineno"] + 5, colno=3) for f in FRAMES]
    a = payload(exception={"type_name": "KeyError", "value": "'a'"}, stacktrace=FRAMES)
    b = payload(exception={"type_name": "KeyError", "value": "'zzz'"}, stacktrace=moved)
    assert fingerprint(a) == fingerprint(b)
    # a different in-app function, or exception type, is a different issue
    other = [dict(FRAMES[0], function_name="execute"), *FRAMES[1:]]
    assert fingerprint(a) != fingerprint(
        payload(exception={"type_name": "KeyError"}, stacktrace=other)
    )
    assert fingerprint(a) != fingerprint(
        payload(exception={"type_name": "ValueError"}, stacktrace=FRAMES)
    )
    # library frames do not count
    lib_changed = [FRAMES[0], dict(FRAMES[1], function_name="other"), FRAMES[2]]
    assert fingerprint(a) == fingerprint(
        payload(exception={"type_name": "KeyError"}, stacktrace=lib_changed)
    )


def test_exception_type_and_normalized_value() -> None:
    a = payload(exception={"type_name": "TimeoutError", "value": "timeout after 31ms"})
    b = payload(exception={"type_name": "TimeoutError", "value": "timeout after 45ms"})
    c = payload(exception={"type_name": "OSError", "value": "timeout after 45ms"})
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_normalized_message() -> None:
    a = payload(message="user 7f0c2a1e-8d4b-4c1e-9f6a-0b1c2d3e4f50 failed at 2031-01-02T03:04:05Z")
    b = payload(message="user 00000000-1111-2222-3333-444444444444 failed at 2030-12-31 23:59:59")
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("timeout after 31ms", "timeout after <n>ms"),
        ("object at 0x7f3a2b1c", "object at <hex>"),
        ("commit deadbeefcafe1234567890", "commit <hex>"),
        ("id 550e8400-e29b-41d4-a716-446655440000", "id <uuid>"),
        ("at 2031-01-02T03:04:05.123+02:00 ok", "at <ts> ok"),
        ("retry   3 of  5", "retry <n> of <n>"),
        ("no numbers here", "no numbers here"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_titles() -> None:
    assert title(payload(exception={"type_name": "KeyError", "value": "'a'"})) == "KeyError: 'a'"
    assert title(payload(exception={"type_name": "StopIteration"})) == "StopIteration"
    assert title(payload(message="first line\nsecond")) == "first line"
    assert title(payload(message="")) == "<no message>"
    long = title(payload(message="x" * 500))
    assert len(long) == 200 and long.endswith("…")
