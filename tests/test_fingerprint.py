"""Grouping: deterministic, versioned, bounded fingerprints; titles."""

from __future__ import annotations

from typing import Any

import pytest

from mesher.fingerprint import (
    default_material_v2,
    fingerprint,
    fingerprint_v2,
    normalize,
    normalize_v2,
    title,
)
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


# Version 1's values as computed before version 2 existed: they must never change,
# or existing v1 issues would regroup.
V1_GOLDEN = [
    ({"message": "timeout after 31ms"},
     "1d62a1654e8ef8742d9cdb994636ee15c95d4a7a2c06d0104abe77148ed0db61"),
    ({"fingerprint": "checkout-flow", "message": "x"},
     "39bda6c42397e0584b9d93539068752d6e1ff2ac9492293ec381e7a9619dba31"),
    ({"exception": {"type_name": "KeyError", "value": "'a'"},
      "stacktrace": [
          {"filename": "app/db.py", "function_name": "query", "lineno": 10, "in_app": True}
      ]},
     "ee4e572c21f20c63059e95cf53d2c4805fd8c8a1f281ea8e16565bab2aac9489"),
    ({"exception": {"type_name": "TimeoutError", "value":
        "timeout after 31ms at 0x7f00 user 550e8400-e29b-41d4-a716-446655440000"}},
     "0400646cae29ec40da9a042211feae13e0a9760756135b7f1cfd7f402c1aba32"),
    ({"message": "Größe 💳 mail a@b.com from 10.0.0.1"},
     "13428fa1d36da279c8c84af81ddc3fcdfc2f32b9d6941eb7fe835f9cf8d4d7dc"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "digest"), V1_GOLDEN)
def test_v1_is_unchanged(fields: dict[str, Any], digest: str) -> None:
    assert fingerprint(payload(**fields)) == f"v1:{digest}"


# --- version 2 ----------------------------------------------------------------------------


def frame(function: str, module: str = "app.orders", in_app: bool = True, **more: Any) -> Any:
    return {"function": function, "module": module, "in_app": in_app, "lineno": 1, **more}


def exc(kind: str, value: str = "", *frames: Any) -> dict[str, Any]:
    return {"type": kind, "value": value, "stacktrace": {"frames": list(frames)}}


def v2(
    exceptions: list[dict[str, Any]] | None = None,
    explicit: list[Any] | None = None,
    threads: list[Any] | None = None,
    template: str | None = None,
    message: str = "",
) -> str:
    return fingerprint_v2(explicit, exceptions or [], threads, template, message)


CRASH = [exc("KeyError", "'a'", frame("main"), frame("charge"))]


def test_v2_shape() -> None:
    fp = v2(CRASH)
    assert fp.startswith("v2:") and len(fp) == 67 and fp == v2(CRASH)


def test_v2_ignores_lines_values_and_library_frames() -> None:
    moved = [
        exc(
            "KeyError",
            "'zzz'",
            frame("main", lineno=99),
            frame("get", module="requests", in_app=False),
            frame("charge", colno=4),
        )
    ]
    assert v2(CRASH) == v2(moved)
    assert v2(CRASH) != v2([exc("ValueError", "'a'", frame("main"), frame("charge"))])
    assert v2(CRASH) != v2([exc("KeyError", "'a'", frame("main"), frame("refund"))])


def test_v2_every_exception_of_the_chain_counts() -> None:
    cause = exc("OSError", "disk", frame("write"))
    assert v2([cause, *CRASH]) != v2(CRASH)
    assert v2([cause, *CRASH]) != v2([exc("IOError", "disk", frame("write")), *CRASH])


def test_v2_recursion_collapsed() -> None:
    shallow = [exc("RecursionError", "", frame("main"), *[frame("walk")] * 3)]
    deep = [exc("RecursionError", "", frame("main"), *[frame("walk")] * 300)]
    assert v2(shallow) == v2(deep)
    # not directly recursive: a -> b -> a stays as it is
    assert v2([exc("E", "", frame("a"), frame("b"), frame("a"))]) != v2(
        [exc("E", "", frame("a"), frame("b"))]
    )


def test_v2_all_frames_when_none_is_in_app() -> None:
    lib = [exc("E", "x", frame("get", in_app=False), frame("send", in_app=False))]
    other = [exc("E", "x", frame("get", in_app=False), frame("recv", in_app=False))]
    assert v2(lib) != v2(other)
    assert default_material_v2(lib, None, None, "")[0][2] == ["app.orders:get", "app.orders:send"]


def test_v2_filename_without_module_and_value_without_frames() -> None:
    a = [exc("E", "", {"filename": "a.js", "function": "f", "in_app": True})]
    b = [exc("E", "", {"filename": "b.js", "function": "f", "in_app": True})]
    assert v2(a) != v2(b)
    assert v2([exc("Timeout", "after 31ms")]) == v2([exc("Timeout", "after 45ms")])
    assert v2([exc("Timeout", "after 31ms")]) != v2([exc("Timeout", "no route")])


def test_v2_thread_template_and_message() -> None:
    threads = [frame("loop"), frame("tick")]
    assert v2(threads=threads) == v2(threads=threads, message="other")
    assert v2(threads=threads) != v2(threads=[frame("loop")])
    assert v2(template="charge %s failed", message="charge 1 failed") == v2(
        template="charge %s failed", message="charge zzz failed"
    )
    assert v2(message="user a@b.com at 10.0.0.1") == v2(message="user c@d.org at 10.9.9.9")
    assert v2(message="a") != v2(message="b")
    assert v2() == v2(message="  ")  # nothing at all: one fallback group


def test_v2_explicit_lists() -> None:
    default = v2(CRASH)
    assert v2(CRASH, ["{{ default }}"]) == default
    assert v2(CRASH, ["{{ DEFAULT }}"]) == default
    tenant = v2(CRASH, ["{{ default }}", "tenant-42"])
    assert tenant == v2(CRASH, ["{{default}}", "tenant-42"])
    assert tenant not in (default, v2(CRASH, ["tenant-42"]), v2(CRASH, ["{{ default }}", "t-7"]))
    other_crash = [exc("ValueError", "", frame("main"))]
    assert tenant != v2(other_crash, ["{{ default }}", "tenant-42"])
    assert v2(CRASH, ["tenant-42"]) == v2(other_crash, ["tenant-42"])
    assert v2(CRASH, ["a", "b"]) != v2(CRASH, ["a b"]) != v2(CRASH, ["ab"])
    assert v2(CRASH, [1, None]) == v2(CRASH, [1, None])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mail ada@example.com now", "mail <email> now"),
        ("GET https://api.example.com/v1/x?id=3 failed", "GET <url> failed"),
        ("from 192.168.0.12:5432", "from <ip>"),
        ("from fe80::1ff:fe23:4567:890a", "from <ip>"),
        ("std::vector at ::1", "std::vector at <ip>"),
        ("id 550e8400e29b41d4a716446655440000", "id <uuid>"),
        ("at 2031-01-02 03:04:05 and 12:30:01", "at <ts> and <ts>"),
        ("sha 4f2a9c01d2", "sha <hex>"),
        ("-3 items, 2.5 s", "<n> items, <n> s"),
        ("plain words", "plain words"),
    ],
)
def test_normalize_v2(raw: str, expected: str) -> None:
    assert normalize_v2(raw) == expected


# Version 2's values as computed before synthetic exceptions and top-level stack
# traces were told apart (issue 28): events without either must not regroup.
V2_GOLDEN = [
    ((None, [exc("KeyError", "'a'", frame("main"), frame("charge"))], None, None, ""),
     "fd87778b8cb421578c80c84e116704e1cff2054e771767ec320254b069d3c7d1"),
    ((None, [{**exc("E", "x"), "mechanism": {"synthetic": False}}], None, None, ""),
     "076a6aedf729462d3fb9efc88ad603e1e57fc5eee9381d439e427cb8cb54157b"),
    ((None, [], [frame("loop")], None, "m"),
     "a36884c5874507b87d2db6c92547765bf395873f92c7b0e8742d7f2f73420276"),
    ((None, [], None, "t %s", "t 1"),
     "1cfed489b2c1f56abe52ec4c50ca815bb0ca27182647ddb8f00d42a5b0950903"),
    ((["{{ default }}", "x"], [exc("E", "v")], None, None, ""),
     "b5126731b9a332c2a282ecbe0a09acf7a3a8849befdf7d1bfe32a8580b4089f5"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "digest"), V2_GOLDEN)
def test_v2_is_unchanged_for_events_without_synthetic_exceptions(
    args: tuple[Any, ...], digest: str
) -> None:
    assert fingerprint_v2(*args) == f"v2:{digest}"


def synthetic(kind: str, value: str, *frames: Any) -> dict[str, Any]:
    return {**exc(kind, value, *frames), "mechanism": {"type": "generic", "synthetic": True}}


def test_v2_a_synthetic_exceptions_type_never_counts() -> None:
    """Deliberately changed (issue 28): a synthetic exception used to group by
    its type too, so a crash reported as SIGSEGV on one platform and
    EXC_BAD_ACCESS on another made two issues. Sentry ignores that type."""
    signal = v2([synthetic("SIGSEGV", "", frame("main"), frame("draw"))])
    assert signal == v2([synthetic("EXC_BAD_ACCESS", "", frame("main"), frame("draw"))])
    assert signal != v2([synthetic("SIGSEGV", "", frame("main"), frame("paint"))])
    assert signal != v2([exc("SIGSEGV", "", frame("main"), frame("draw"))])  # not synthetic
    # without frames, its (normalized) value groups it, as any exception's
    assert v2([synthetic("A", "timeout 31ms")]) == v2([synthetic("B", "timeout 45ms")])
    assert v2([synthetic("A", "timeout")]) != v2([synthetic("A", "refused")])


def test_v2_top_level_stack_frames() -> None:
    own = [frame("handle", module="django", in_app=False), frame("checkout")]
    assert v2(message="a") != v2(message="b")
    with_stack = fingerprint_v2(None, [], None, None, "a", own)
    assert with_stack == fingerprint_v2(None, [], None, None, "b", own)  # frames before text
    assert with_stack != fingerprint_v2(None, [], None, None, "a", [frame("refund")])
    assert default_material_v2([], None, None, "a", own) == [
        ["stacktrace", ["app.orders:checkout"]]
    ]
    # a thread's stack comes first, as in Sentry
    threads = [frame("loop")]
    assert fingerprint_v2(None, [], threads, None, "a", own) == v2(threads=threads)
