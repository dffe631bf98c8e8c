"""What a Sentry event keeps on the way in (issue 28), one test per point, with
the event shapes the SDKs send: the SDK's ``_meta``, breadcrumbs, events over
1 MiB, synthetic exceptions, the ``sentry.interfaces.*`` aliases, ``modules``,
header and cookie pairs, a top-level ``stacktrace``, ``logentry`` as text and
transactions. No database: ``normalize_event`` is what both paths run."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sentry_sdk

from mesher._sentry_envelope import MAX_EVENT_BYTES, MAX_RAW_EVENT_BYTES
from mesher._sentry_event import MAX_STRING, EventRefused, SentryEvent, normalize_event
from mesher.models import SkipReason
from tests import sentry_envelopes as se
from tests.test_sentry_parse import assert_storable, events_of

FILTER_NOTE = {"": {"rem": [["@password:filter", "s"]]}}


def data(event: SentryEvent) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(event.data_json)
    return result


def meta(event: SentryEvent) -> dict[str, Any]:
    result: dict[str, Any] = data(event).get("_meta", {})
    return result


def crumbs(event: SentryEvent) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(event.breadcrumbs_json)
    return result


# --- the SDK's _meta ------------------------------------------------------------------------


def test_the_sdks_meta_is_kept_and_our_notes_merged_into_it() -> None:
    sdk_meta = {
        # the SDK says it cut the body (its max_request_body_size): a !config note
        "request": {"data": {"": {"rem": [["!config", "x"]]}}},
        # a note about a key named like a secret: a note, not a secret
        "extra": {"password": {"": {"rem": [["!config", "s"]], "len": 11}}},
        "contexts": {"trace": {"token": {"": {"len": 3}}}},
    }
    event = normalize_event(
        {
            "message": "m",
            "extra": {"password": "hunter2", "note": "x" * (MAX_STRING + 10)},
            "request": {"url": "https://shop.example/pay", "data": None},
            "_meta": sdk_meta,
        }
    )
    assert_storable(event)
    assert json.loads(event.extra_json)["password"] == "[Filtered]"
    assert meta(event) == {
        "request": {"data": {"": {"rem": [["!config", "x"]]}}},
        "extra": {
            # the SDK's note first, then Mesher's; the SDK's original length kept
            "password": {"": {"rem": [["!config", "s"], ["@password:filter", "s"]], "len": 11}},
            "note": {"": {"rem": [["!limit", "s", MAX_STRING - 3, MAX_STRING]], "len": 8202}},
        },
        "contexts": {"trace": {"token": {"": {"len": 3}}}},
    }
    assert "_meta" not in meta(event)


def test_a_huge_sdk_meta_is_bounded_without_notes_about_itself() -> None:
    deep: Any = {"": {"len": 1}}
    for _ in range(40):
        deep = {"d": deep}
    event = normalize_event({"message": "m", "_meta": {"extra": deep}})
    assert_storable(event)
    assert "_meta" not in meta(event)  # no _meta._meta: its own cut is not noted
    assert json.dumps(meta(event)).count('"d"') < 20


# --- breadcrumbs ------------------------------------------------------------------------------


def test_breadcrumb_type_and_the_other_keys_sentry_defines_are_kept() -> None:
    def run() -> None:
        sentry_sdk.add_breadcrumb(category="auth", message="login", level="info", type="user")
        se.LOGGER.warning("cart %s emptied", 7)  # the logging integration: type "log"
        sentry_sdk.capture_message("with crumbs")

    (event,) = events_of(se.capture(run))
    assert [(c.get("type"), c.get("category"), c.get("level")) for c in crumbs(event)] == [
        ("user", "auth", "info"),
        ("log", "tests.sentry_app", "warning"),
    ]
    # Relay's own round-trip breadcrumb: every key it defines comes back.
    relay = {
        "timestamp": 946684800,
        "type": "mytype",
        "category": "mycategory",
        "level": "fatal",
        "message": "my message",
        "data": {"a": "b"},
        "event_id": "52df9022835246eeb317dbd739ccd059",
        "origin": "auto.http",
    }
    event = normalize_event({"breadcrumbs": {"values": [relay]}})
    assert crumbs(event) == [{**relay, "timestamp": "2000-01-01T00:00:00+00:00"}]
    assert "_meta" not in data(event)
    # an old Python SDK's "ty"; a dashed event id is stored as 32 hex digits
    event = normalize_event(
        {"breadcrumbs": [{"ty": "http", "event_id": "52df9022-8352-46ee-b317-dbd739ccd059"}]}
    )
    assert crumbs(event) == [{"type": "http", "event_id": relay["event_id"]}]


def test_invalid_breadcrumb_values_are_dropped_with_a_note() -> None:
    event = normalize_event(
        {
            "breadcrumbs": {
                "values": [
                    {"message": "odd level", "level": "verbose"},
                    {"message": "bad time", "timestamp": "yesterday", "event_id": "nope"},
                    {"message": "unknown key", "color": "red"},
                    {"message": "fine", "level": "WARNING"},
                ]
            }
        }
    )
    assert_storable(event)
    assert crumbs(event) == [
        {"message": "odd level"},
        {"message": "bad time"},
        {"message": "unknown key"},
        {"message": "fine", "level": "warning"},
    ]
    assert meta(event)["breadcrumbs"] == {
        "values": {
            "0": {"level": {"": {"err": ["invalid_data"], "val": "verbose"}}},
            "1": {
                "timestamp": {"": {"err": ["invalid_data"], "val": "yesterday"}},
                "event_id": {"": {"err": ["invalid_data"], "val": "nope"}},
            },
            "2": {"color": {"": {"err": ["invalid_attribute"]}}},  # no val: it may be anything
        }
    }


# --- events over 1 MiB ---------------------------------------------------------------------------


def test_an_event_over_1_mib_is_trimmed_then_stored() -> None:
    payload = json.dumps(
        {
            "message": "big " + "m" * 2_000_000,
            "extra": {f"blob{i}": "x" * 300_000 for i in range(5)},
            "breadcrumbs": [{"message": "c" * 100_000}] * 150,
        }
    ).encode()
    assert len(payload) > 3 * MAX_EVENT_BYTES
    event = normalize_event(payload)
    assert_storable(event)
    assert len(event.message) == MAX_STRING
    assert all(len(v) == MAX_STRING for v in json.loads(event.extra_json).values())
    assert len(crumbs(event)) == 100
    notes = meta(event)
    assert notes["logentry"]["formatted"][""]["len"] == 2_000_004
    assert notes["extra"]["blob0"][""]["len"] == 300_000
    assert notes["breadcrumbs"]["values"][""] == {"len": 150}


def test_an_event_still_over_1_mib_once_trimmed_is_refused_with_a_code() -> None:
    # 200 keys of 8 KiB each: nothing to cut, 1.6 MB stored
    wide = {"message": "wide", "extra": {f"k{i}": "x" * MAX_STRING for i in range(200)}}
    with pytest.raises(EventRefused, match="once trimmed; the limit is 1048576") as info:
        normalize_event(wide)
    assert info.value.code is SkipReason.TOO_LARGE
    # 100 of them fit
    wide["extra"] = {f"k{i}": "x" * MAX_STRING for i in range(100)}
    assert_storable(normalize_event(wide))


def test_an_event_too_big_to_read_is_refused_unread() -> None:
    huge = b'{"message": "' + b"x" * MAX_RAW_EVENT_BYTES + b'"}'
    with pytest.raises(EventRefused, match="before trimming") as info:
        normalize_event(huge)
    assert info.value.code is SkipReason.TOO_LARGE


# --- synthetic exceptions ---------------------------------------------------------------------


def synthetic(message: str, frames: list[dict[str, Any]], kind: str | None = None) -> Any:
    """@sentry/node's captureMessage with attachStacktrace: a made-up
    exception that carries the stack (no type; its value is the message)."""
    exc: dict[str, Any] = {
        "value": message,
        "stacktrace": {"frames": frames},
        "mechanism": {"type": "generic", "handled": True, "synthetic": True},
    }
    if kind is not None:
        exc["type"] = kind
    return {"message": message, "level": "info", "exception": {"values": [exc]}}


NODE_FRAMES = [
    {"filename": "node:internal/main", "function": "run", "in_app": False},
    {"filename": "/app/src/checkout.js", "function": "charge", "in_app": True},
]


def test_a_synthetic_exception_is_titled_by_the_message() -> None:
    event = normalize_event(synthetic("Payment provider slow", NODE_FRAMES))
    assert event.title == "Payment provider slow"  # not "Error: Payment provider slow"
    assert normalize_event(synthetic("first\nsecond", NODE_FRAMES, "Error")).title == "first"
    # no message: the function it was raised in, as Sentry does
    bare = synthetic("", NODE_FRAMES, "EXC_BAD_ACCESS")
    del bare["message"]
    assert normalize_event(bare).title == "charge"
    assert normalize_event(
        {"exception": {"values": [{"type": "X", "mechanism": {"synthetic": True}}]}}
    ).title == ("<unknown>")


def test_a_synthetic_exceptions_type_does_not_group() -> None:
    a = normalize_event(synthetic("slow", NODE_FRAMES, "SIGSEGV"))
    b = normalize_event(synthetic("slow", NODE_FRAMES, "EXC_BAD_ACCESS"))
    c = normalize_event(synthetic("slow", NODE_FRAMES))
    assert a.fingerprint == b.fingerprint == c.fingerprint
    # grouped by its in-app frames, before its value
    assert c.fingerprint == normalize_event(synthetic("other text", NODE_FRAMES)).fingerprint
    moved = [NODE_FRAMES[0], {**NODE_FRAMES[1], "function": "refund"}]
    assert c.fingerprint != normalize_event(synthetic("slow", moved)).fingerprint
    # a real exception's type still counts
    real = synthetic("slow", NODE_FRAMES, "TypeError")
    real["exception"]["values"][0]["mechanism"]["synthetic"] = False
    other = json.loads(json.dumps(real))
    other["exception"]["values"][0]["type"] = "RangeError"
    assert normalize_event(real).fingerprint != normalize_event(other).fingerprint


def test_python_attach_stacktrace_message_is_titled_and_grouped_by_its_stack() -> None:
    def here() -> None:
        sentry_sdk.capture_message("disk almost full")

    def elsewhere() -> None:
        sentry_sdk.capture_message("disk almost full")

    a, b = (events_of(se.capture(fn, attach_stacktrace=True))[0] for fn in (here, elsewhere))
    assert a.title == "disk almost full" and json.loads(a.stacktrace_json)
    assert a.fingerprint != b.fingerprint  # its frames group it, before its text


# --- the older shapes Relay reads ---------------------------------------------------------------


def test_legacy_interface_aliases_are_read() -> None:
    event = normalize_event(
        {
            "event_id": "fc6d8c0c43fc4630ad850ee518f1b9d0",
            "sentry.interfaces.Exception": {
                "values": [
                    {
                        "type": "ZeroDivisionError",
                        "value": "division by zero",
                        "module": "exceptions",
                        "sentry.interfaces.Stacktrace": {
                            "frames": [{"filename": "app.py", "function": "divide", "in_app": True}]
                        },
                    }
                ]
            },
            "sentry.interfaces.Message": {"message": "Oops %s", "params": ["here"]},
            "sentry.interfaces.User": {"id": "42", "email": "ada@example.com"},
            "sentry.interfaces.Http": {"url": "https://shop.example/cart", "method": "POST"},
            "sentry.interfaces.Breadcrumbs": {"values": [{"message": "clicked", "type": "ui"}]},
        }
    )
    assert_storable(event)
    assert event.title == "ZeroDivisionError: division by zero"
    assert event.message == "Oops here"
    assert json.loads(event.user_json) == {"id": "42", "email": "ada@example.com"}
    assert json.loads(event.stacktrace_json)[0]["function_name"] == "divide"
    assert crumbs(event) == [{"message": "clicked", "type": "ui"}]
    stored = data(event)
    assert stored["request"] == {"url": "https://shop.example/cart", "method": "POST"}
    assert stored["logentry"] == {"message": "Oops %s", "params": ["here"]}
    assert not [k for k in stored if k.startswith("sentry.interfaces")]
    exc = json.loads(event.exceptions_json or "")[0]
    assert "sentry.interfaces.Stacktrace" not in exc and exc["stacktrace"]["frames"]
    # the legacy top-level stacktrace, on a message event
    event = normalize_event(
        {
            "message": "slow query",
            "sentry.interfaces.Stacktrace": {"frames": [{"function": "q", "module": "db"}]},
        }
    )
    assert json.loads(event.stacktrace_json) == [{"filename": "db", "function_name": "q"}]
    assert data(event)["stacktrace"] == {"frames": [{"function": "q", "module": "db"}]}


def test_when_both_names_are_sent_the_current_one_wins() -> None:
    event = normalize_event(
        {"user": {"id": "new"}, "sentry.interfaces.User": {"id": "old"}, "message": "m"}
    )
    assert json.loads(event.user_json) == {"id": "new"}
    assert "sentry.interfaces.User" not in data(event)


def test_modules_are_not_scrubbed() -> None:
    modules = {"secretstorage": "3.3.1", "cookiecutter": "2.1.1", "theseer/tokenizer": "1.2.1"}
    event = normalize_event({"message": "m", "modules": modules, "sdk": {"name": "x", "token": 1}})
    assert data(event)["modules"] == modules
    assert data(event)["sdk"] == {"name": "x", "token": 1}
    assert "_meta" not in data(event)
    # a real SDK event's modules come back as sent
    (body,) = se.capture(lambda: sentry_sdk.capture_message("m"))
    sent = json.loads(se.event_payloads([body])[0])["modules"]
    assert data(events_of([body])[0])["modules"] == sent


@pytest.mark.parametrize(
    "headers",
    [
        [["Authorization", "Bearer s3cr3t"], ["Cookie", "sessionid=abc"], ["Accept", "*/*"]],
        {"Authorization": "Bearer s3cr3t", "Cookie": "sessionid=abc", "Accept": "*/*"},
    ],
)
def test_secret_headers_are_filtered_as_pairs_or_as_a_dict(headers: Any) -> None:
    event = normalize_event(
        {
            "message": "m",
            "request": {
                "url": "https://shop.example/pay",
                "headers": headers,
                "cookies": [["sessionid", "abc"], ["theme", "dark"]],
                "query_string": "page=2&api_key=k3y&q=shoes",
            },
            "contexts": {"response": {"headers": [["Set-Cookie", "sessionid=def"]]}},
        }
    )
    request = data(event)["request"]
    text = event.data_json
    assert "s3cr3t" not in text and "abc" not in text and "k3y" not in text and "def" not in text
    if isinstance(headers, list):
        assert request["headers"] == [
            ["Authorization", "[Filtered]"],
            ["Cookie", "[Filtered]"],
            ["Accept", "*/*"],
        ]
        header_notes = {"0": {"1": FILTER_NOTE}, "1": {"1": FILTER_NOTE}}
    else:
        assert request["headers"] == {
            "Authorization": "[Filtered]",
            "Cookie": "[Filtered]",
            "Accept": "*/*",
        }
        header_notes = {"Authorization": FILTER_NOTE, "Cookie": FILTER_NOTE}
    assert request["cookies"] == "[Filtered]"  # cookies, in any shape, are secrets
    assert request["query_string"] == "page=2&api_key=[Filtered]&q=shoes"
    assert data(event)["contexts"]["response"]["headers"] == [["Set-Cookie", "[Filtered]"]]
    assert meta(event) == {
        "request": {"headers": header_notes, "cookies": FILTER_NOTE, "query_string": FILTER_NOTE},
        "contexts": {"response": {"headers": {"0": {"1": FILTER_NOTE}}}},
    }


def test_lists_that_are_not_pairs_are_left_alone() -> None:
    argv = ["manage.py", "--token", "abc"]
    pairs_and_more = [["token", "abc"], ["x"]]
    event = normalize_event({"message": "m", "extra": {"argv": argv, "mixed": pairs_and_more}})
    assert json.loads(event.extra_json) == {"argv": argv, "mixed": pairs_and_more}


def test_top_level_stacktrace_is_stored_and_grouped_on() -> None:
    def event(message: str, function: str) -> SentryEvent:
        frames = [
            {"module": "django.core", "function": "handle", "in_app": False},
            {"module": "shop.views", "function": function, "in_app": True, "lineno": 7},
        ]
        return normalize_event({"message": message, "stacktrace": {"frames": frames}})

    a = event("cart 17 is empty", "checkout")
    assert json.loads(a.stacktrace_json) == [
        {"filename": "django.core", "function_name": "handle", "in_app": False},
        {"filename": "shop.views", "function_name": "checkout", "lineno": 7, "in_app": True},
    ]
    assert data(a)["stacktrace"]["frames"][1]["function"] == "checkout"
    assert a.title == "cart 17 is empty"
    # its in-app frames group it before its text
    assert a.fingerprint == event("something else entirely", "checkout").fingerprint
    assert a.fingerprint != event("cart 17 is empty", "refund").fingerprint


def test_top_level_stacktrace_moves_into_the_only_exception() -> None:
    frames = [{"function": "divide", "module": "calc", "in_app": True}]
    event = normalize_event(
        {"exception": {"values": [{"type": "E", "value": "v"}]}, "stacktrace": {"frames": frames}}
    )
    (exc,) = json.loads(event.exceptions_json or "")
    assert exc["stacktrace"] == {"frames": frames} and "stacktrace" not in data(event)
    same = normalize_event(
        {"exception": {"values": [{"type": "E", "value": "v", "stacktrace": {"frames": frames}}]}}
    )
    assert event.fingerprint == same.fingerprint


def test_logentry_as_plain_text_is_the_message() -> None:
    event = normalize_event({"logentry": "Disk quota exceeded for /var"})
    assert event.message == event.title == "Disk quota exceeded for /var"
    assert data(event)["logentry"] == {"formatted": "Disk quota exceeded for /var"}
    assert "_meta" not in data(event)
    assert (
        event.fingerprint
        == normalize_event({"message": "Disk quota exceeded for /var"}).fingerprint
    )


def test_a_transaction_is_refused_with_its_code() -> None:
    with pytest.raises(EventRefused, match="transaction") as info:
        normalize_event({"type": "transaction", "transaction": "/checkout", "spans": []})
    assert info.value.code is SkipReason.TRANSACTION


@pytest.mark.parametrize("payload", [b"[]", b"{oops", b"\xff"])
def test_what_is_not_an_event_is_refused_as_invalid(payload: bytes) -> None:
    with pytest.raises(EventRefused) as info:
        normalize_event(payload)
    assert info.value.code is SkipReason.INVALID
