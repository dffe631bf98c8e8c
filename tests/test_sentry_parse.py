"""The pure half of the Sentry path: auth, Content-Encoding, envelopes and event
normalization, fed with real envelopes from ``sentry_sdk`` (no database)."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import sys
import time
import zlib
from typing import Any
from uuid import UUID

import brotli
import pytest
import sentry_sdk
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from mesher._sentry_envelope import (
    MAX_COMPRESSED_BYTES,
    MAX_DECOMPRESSED_BYTES,
    MAX_ITEMS,
    SentryAuth,
    decode_body,
    parse_auth,
    parse_envelope,
)
from mesher._sentry_event import MAX_STRING, SentryEvent, normalize_event
from mesher.errors import InvalidCredentials, InvalidInput
from mesher.models import Breadcrumb, ExceptionInfo, Severity, StackFrame
from tests import sentry_envelopes as se

FRAMES = TypeAdapter(list[StackFrame])
CRUMBS = TypeAdapter(list[Breadcrumb])


def events_of(envelopes: list[bytes]) -> list[SentryEvent]:
    """Every event item of the envelopes, parsed and normalized as the write path will."""
    out = []
    for body in envelopes:
        envelope = parse_envelope(body)
        for item in envelope.items:
            if item.type == "event":
                out.append(normalize_event(item.payload, envelope.headers.get("event_id")))
    return out


def one_event(fn: Any, **options: Any) -> SentryEvent:
    (event,) = events_of(se.capture(fn, **options))
    assert_storable(event)
    return event


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(has_nul(v) for v in value)


def assert_storable(event: SentryEvent) -> None:
    """Every JSON text loads back, holds no NUL, encodes as UTF-8, and the native
    columns validate against Mesher's row models."""
    for name in SentryEvent.__slots__:
        value = getattr(event, name)
        if isinstance(value, str):
            value.encode("utf-8")
            assert "\x00" not in value
            if name.endswith("_json"):
                assert not has_nul(json.loads(value))
    FRAMES.validate_json(event.stacktrace_json)
    CRUMBS.validate_json(event.breadcrumbs_json)
    if event.exception_json is not None:
        ExceptionInfo.model_validate_json(event.exception_json)
    assert event.fingerprint.startswith("v2:") and len(event.fingerprint) == 67
    assert len(event.title) <= 200


# --- parse_auth -------------------------------------------------------------------------


def test_auth_from_x_sentry_auth_header_any_case() -> None:
    header = (
        f"Sentry sentry_version=7, sentry_client=sentry.python/2.75.0, sentry_key={se.PUBLIC_KEY}"
    )
    auth = parse_auth({"x-SENTRY-auth": header})
    assert auth == SentryAuth(se.PUBLIC_KEY, "sentry.python/2.75.0", "7")
    assert parse_auth([("X-Sentry-Auth", header)]).public_key == se.PUBLIC_KEY


def test_auth_from_authorization_and_query() -> None:
    auth = parse_auth({"AUTHORIZATION": f"Sentry sentry_key={se.PUBLIC_KEY}, sentry_version=7"})
    assert (auth.public_key, auth.version, auth.client) == (se.PUBLIC_KEY, "7", None)
    auth = parse_auth({}, f"sentry_version=7&sentry_key={se.PUBLIC_KEY}&sentry_client=js%2F8")
    assert (auth.public_key, auth.client) == (se.PUBLIC_KEY, "js/8")
    # a bearer token is not Sentry's: the query's key is used
    assert parse_auth({"Authorization": "Bearer x"}, f"sentry_key={se.PUBLIC_KEY}").public_key


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({}, ""),
        ({"X-Sentry-Auth": "Sentry sentry_version=7"}, ""),
        ({"X-Sentry-Auth": "Sentry sentry_key="}, "sentry_key="),
        ({"X-Sentry-Auth": f"Sentry {se.PUBLIC_KEY}"}, ""),  # no name=value
        ({"Authorization": "Bearer abc"}, ""),
        ({}, "sentry_version=7"),
    ],
)
def test_auth_refused(headers: dict[str, str], query: str) -> None:
    with pytest.raises(InvalidCredentials) as info:
        parse_auth(headers, query)
    assert se.PUBLIC_KEY not in str(info.value)


def test_auth_never_shows_the_key() -> None:
    auth = parse_auth({"X-Sentry-Auth": f"Sentry sentry_key={se.PUBLIC_KEY}"})
    assert se.PUBLIC_KEY not in repr(auth) and se.PUBLIC_KEY not in str(auth)


# --- decode_body --------------------------------------------------------------------------

BODY = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n{"message":"hi"}\n'


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (None, lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        ("GZip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", raw_deflate),
        ("br", brotli.compress),
        ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
    ],
)
def test_decode_body(encoding: str | None, encode: Any) -> None:
    assert decode_body(encode(BODY), encoding) == BODY


def test_decode_body_gzip_members() -> None:
    assert decode_body(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip") == b"abcd"


@pytest.mark.parametrize(
    ("body", "encoding", "match"),
    [
        (BODY, "compress", "unsupported Content-Encoding"),
        (b"not gzip at all", "gzip", "not valid gzip"),
        (gzip.compress(BODY)[:-12], "gzip", "truncated"),
        (b"", "gzip", "truncated"),
        (b"garbage!", "deflate", "not valid deflate"),
        (b"\xff\xff garbage", "br", "not valid br"),
        (brotli.compress(BODY * 50)[:-5], "br", "truncated"),
    ],
)
def test_decode_body_refused(body: bytes, encoding: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        decode_body(body, encoding)


def test_compressed_cap() -> None:
    with pytest.raises(InvalidInput, match="limit is"):
        decode_body(b"\x00" * (MAX_COMPRESSED_BYTES + 1), None)


def zeros_bomb(encoding: str, size: int = 200 * 1024 * 1024) -> bytes:
    """``size`` zero bytes compressed, built chunk by chunk (a few MiB of memory)."""
    chunk = bytes(1024 * 1024)
    if encoding == "br":
        c = brotli.Compressor(quality=1)
        parts = [c.process(chunk) for _ in range(size // len(chunk))]
        return b"".join(parts) + c.finish()
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [z.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(parts) + z.flush()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_decompression_bomb_is_refused_early(encoding: str) -> None:
    bomb = zeros_bomb(encoding)
    assert len(bomb) < 1024 * 1024  # 200 MiB in well under 1 MiB
    start = time.perf_counter()
    with pytest.raises(InvalidInput, match=f"over {MAX_DECOMPRESSED_BYTES} bytes"):
        decode_body(bomb, encoding)
    assert time.perf_counter() - start < 10


# --- parse_envelope -----------------------------------------------------------------------


def test_real_envelope_items() -> None:
    (body,) = se.capture(se.explicit_chain)
    envelope = parse_envelope(body)
    assert UUID(envelope.headers["event_id"])
    assert envelope.headers["sent_at"]
    (item,) = envelope.items
    assert item.type == "event" and item.headers["length"] == len(item.payload)
    assert json.loads(item.payload)["exception"]["values"][-1]["type"] == "PaymentError"


def test_transaction_session_check_in_and_events_in_one_envelope() -> None:
    def run() -> None:
        scope = sentry_sdk.get_isolation_scope()
        scope.start_session()
        se.explicit_chain()
        with sentry_sdk.start_transaction(name="checkout"):
            pass
        sentry_sdk.crons.capture_checkin(monitor_slug="nightly", status="ok")
        sentry_sdk.capture_message("after")
        scope.end_session()

    envelopes = se.capture(run, traces_sample_rate=1.0)
    combined = se.combine(*envelopes)
    envelope = parse_envelope(gzip.compress(combined), "gzip")
    types = [item.type for item in envelope.items]
    assert sorted(set(types)) == ["check_in", "event", "session", "transaction"]
    assert types.count("event") == 2
    assert envelope == parse_envelope(combined)
    events = [normalize_event(i.payload) for i in envelope.items if i.type == "event"]
    assert [e.title for e in events] == ["PaymentError: card declined for order 1042", "after"]


def test_items_without_length_and_trailing_newlines() -> None:
    body = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n{"a":1}\n'
    body += b'{"type":"attachment","length":3}\na\nb\n{"type":"client_report"}\n{}'
    envelope = parse_envelope(body)
    assert [(i.type, i.payload) for i in envelope.items] == [
        ("event", b'{"a":1}'),
        ("attachment", b"a\nb"),
        ("client_report", b"{}"),
    ]
    assert parse_envelope(body + b"\n\n").items == envelope.items
    assert parse_envelope(b"{}").items == []
    assert parse_envelope(b'{}\n{"type":"x","length":0}\n').items[0].payload == b""
    assert parse_envelope(b'{}\n{"type":"x","length":2}\nab').items[0].payload == b"ab"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "no header"),
        (b"\n", "no header"),
        (b"[1]\n", "envelope: header is not a JSON object"),
        (b"{nope\n", "envelope: header is not JSON"),
        (b'{"a":"\xff"}\n', "envelope: header is not valid UTF-8"),
        (
            b'{}\n{"type":"event","length":500}\n{"message":"cut',
            "item 0 \\(event\\): length 500 goes past",
        ),
        (b'{}\n{"type":"event"}\n{}\nnot json\n', "item 1: header is not JSON"),
        (b'{}\n{"type":"event"}\n{}\n\n{"type":"event"}\n{}', "item 1: header is not JSON"),
        (b'{}\n{"length":2}\nab\n', "item 0: header has no type"),
        (b'{}\n{"type":"event","length":-1}\n', "length is not a non-negative integer"),
        (b'{}\n{"type":"event","length":"2"}\nab\n', "length is not a non-negative integer"),
        (b'{}\n{"type":"event","length":1}\nab\n', "payload is not followed by a newline"),
        (b'{}\n{"type":"ev\x00ent","len\xc3\n', "item 0: header is not"),
        (b'{}\n{"type":"event"}\n{}\n["type"]\n', "item 1: header is not a JSON object"),
    ],
)
def test_malformed_envelopes(body: bytes, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        parse_envelope(body)


def test_truncated_real_envelope() -> None:
    (body,) = se.capture(se.explicit_chain)
    with pytest.raises(InvalidInput, match=r"item 0 \(event\): length .* past the end"):
        parse_envelope(body[: len(body) // 2])


def test_nul_bytes_and_bad_utf8_in_payloads_are_left_to_the_event() -> None:
    body = b'{}\n{"type":"event","length":7}\n{"a":\x00}\n{"type":"event"}\n\xff\xfe\n'
    envelope = parse_envelope(body)
    assert [i.payload for i in envelope.items] == [b'{"a":\x00}', b"\xff\xfe"]
    for item in envelope.items:
        with pytest.raises(InvalidInput, match=r"not (JSON|valid UTF-8)"):
            normalize_event(item.payload)


def test_item_count_cap() -> None:
    item = b'{"type":"client_report"}\n{}\n'
    assert len(parse_envelope(b"{}\n" + item * MAX_ITEMS).items) == MAX_ITEMS
    with pytest.raises(InvalidInput, match=f"more than {MAX_ITEMS} items"):
        parse_envelope(b"{}\n" + item * 10_000)


# --- normalize_event on real SDK events ------------------------------------------------------


#: The tags every event from one_event's SDK carries: its options' environment
#: and release, which Mesher keeps among the tags as Sentry does.
ENV_AND_RELEASE = {"environment": "production", "release": "shop@1.2.3"}


def test_explicit_chain_field_by_field() -> None:
    (body,) = se.capture(se.explicit_chain, server_name="web-1", dist="42")
    envelope = parse_envelope(body)
    event = normalize_event(envelope.items[0].payload, envelope.headers["event_id"])
    assert_storable(event)
    assert event.client_event_id == UUID(envelope.headers["event_id"])
    assert event.occurred_at is not None and event.occurred_at.utcoffset().total_seconds() == 0
    assert abs(time.time() - event.occurred_at.timestamp()) < 60
    assert event.level is Severity.ERROR
    assert event.message == ""
    assert event.title == "PaymentError: card declined for order 1042"
    assert (event.release, event.environment, event.dist) == ("shop@1.2.3", "production", "42")
    assert (event.platform, event.server_name, event.logger) == ("python", "web-1", None)
    assert event.handled is True
    assert event.sdk_name == "sentry.python" and event.sdk_version == sentry_sdk.VERSION
    # Environment and release are tags too, as in Sentry (no other tags were set).
    assert event.tags == json.loads(event.tags_json) == ENV_AND_RELEASE
    assert json.loads(event.exception_json or "") == {
        "type_name": "PaymentError",
        "value": "card declined for order 1042",
        "module": "tests.sentry_envelopes",
    }
    chain = json.loads(event.exceptions_json or "")
    assert [(e["type"], e["value"]) for e in chain] == [
        ("KeyError", "'cart'"),
        ("PaymentError", "card declined for order 1042"),
    ]
    assert chain[1]["mechanism"]["handled"] is True
    frame = chain[1]["stacktrace"]["frames"][-1]
    assert frame["function"] == "explicit_chain" and frame["in_app"] is True
    assert frame["filename"].endswith("sentry_envelopes.py") and frame["abs_path"].startswith("/")
    assert "raise PaymentError" in frame["context_line"]
    assert len(frame["pre_context"]) == 5 and isinstance(frame["lineno"], int)
    native = json.loads(event.stacktrace_json)
    assert native[-1] == {
        "filename": frame["filename"],
        "function_name": "explicit_chain",
        "lineno": frame["lineno"],
        "context_line": frame["context_line"],
        "in_app": True,
    }
    data = json.loads(event.data_json)
    assert data["sdk"]["name"] == "sentry.python" and "logging" in data["sdk"]["integrations"]
    assert data["contexts"]["runtime"]["name"] == "CPython"
    assert "sentry-sdk" in data["modules"]
    assert "_meta" not in data and "exception" not in data and "release" not in data


def test_implicit_chain() -> None:
    event = one_event(se.implicit_chain)
    chain = json.loads(event.exceptions_json or "")
    assert [e["type"] for e in chain] == ["ValueError", "AttributeError"]
    assert event.title.startswith("AttributeError: 'NoneType' object has no attribute")


def test_deep_stack_with_local_variables() -> None:
    event = one_event(se.deep_stack(20), include_local_variables=True)
    (exc,) = json.loads(event.exceptions_json or "")
    frames = exc["stacktrace"]["frames"]
    assert len(frames) == 22  # run, then level 20 down to level 0
    assert frames[-1]["vars"]["n"] == "0" and frames[-1]["vars"]["local_text"] == "'level 0'"
    assert frames[-2]["vars"]["payload"] == {"user": "'ada'", "amount": "12.5"}
    assert len(json.loads(event.stacktrace_json)) == 22


@pytest.mark.parametrize(
    ("sent", "level"),
    [
        ("fatal", Severity.FATAL),
        ("critical", Severity.FATAL),
        ("error", Severity.ERROR),
        ("warning", Severity.WARNING),
        ("warn", Severity.WARNING),
        ("info", Severity.INFO),
        ("log", Severity.INFO),
        ("debug", Severity.DEBUG),
        ("bogus", Severity.ERROR),
    ],
)
def test_capture_message_levels(sent: str, level: Severity) -> None:
    event = one_event(lambda: sentry_sdk.capture_message(f"at {sent}", level=sent))  # type: ignore[arg-type]
    assert (event.level, event.message, event.title) == (level, f"at {sent}", f"at {sent}")
    assert event.handled is None and event.exception_json is None and event.exceptions_json is None
    meta = json.loads(event.data_json).get("_meta", {})
    if sent == "bogus":
        assert meta == {"level": {"": {"err": ["invalid_data"], "val": "bogus"}}}
    else:
        assert meta == {}


def test_breadcrumbs() -> None:
    def run() -> None:
        sentry_sdk.add_breadcrumb(category="auth", message="login", level="info", data={"u": 1})
        sentry_sdk.add_breadcrumb(category="http", message="GET /x", level="warning", type="http")
        sentry_sdk.add_breadcrumb(message="odd level", level="verbose")
        sentry_sdk.capture_message("with crumbs")

    crumbs = json.loads(one_event(run).breadcrumbs_json)
    assert [(c.get("category"), c["message"], c.get("level")) for c in crumbs] == [
        ("auth", "login", "info"),
        ("http", "GET /x", "warning"),
        (None, "odd level", None),
    ]
    assert crumbs[0]["data"] == {"u": 1} and crumbs[0]["timestamp"].endswith("+00:00")


def test_logging_integration_template_and_params() -> None:
    def run() -> None:
        se.LOGGER.error("charge of %s EUR failed for %s", 12, "ada")
        se.LOGGER.error("charge of %s EUR failed for %s", 99, "bob")
        se.LOGGER.critical("other message")

    a, b, c = events_of(se.capture(run))
    for event in (a, b, c):
        assert_storable(event)
    assert a.message == "charge of 12 EUR failed for ada" and a.logger == "tests.sentry_app"
    logentry = json.loads(a.data_json)["logentry"]
    assert logentry == {
        "message": "charge of %s EUR failed for %s",
        "params": [12, "ada"],
        "formatted": "charge of 12 EUR failed for ada",
    }
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert c.level is Severity.FATAL


def test_thread_crash_is_unhandled() -> None:
    event = one_event(se.thread_crash)
    (exc,) = json.loads(event.exceptions_json or "")
    assert exc["mechanism"] == {"type": "threading", "handled": False}
    assert event.handled is False and event.title == "PaymentError: worker died"


def test_recursion_depth_does_not_split_issues() -> None:
    a, b = (one_event(se.at_depth(n)) for n in (3, 30))
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != one_event(se.deep_stack(3)).fingerprint


def test_fingerprint_lists() -> None:
    def run(fingerprint: list[str] | None, fail: Any) -> SentryEvent:
        def go() -> None:
            with sentry_sdk.new_scope() as scope:
                scope.fingerprint = fingerprint
                fail()

        return one_event(go)

    default = run(None, se.explicit_chain)
    tenant42 = run(["{{ default }}", "tenant-42"], se.explicit_chain)
    assert run(["{{default}}", "tenant-42"], se.explicit_chain).fingerprint == tenant42.fingerprint
    assert run(["{{ default }}"], se.explicit_chain).fingerprint == default.fingerprint
    assert tenant42.fingerprint != default.fingerprint
    assert tenant42.fingerprint != run(["{{ default }}", "tenant-7"], se.explicit_chain).fingerprint
    # another crash of the same tenant is another issue
    assert (
        tenant42.fingerprint != run(["{{ default }}", "tenant-42"], se.implicit_chain).fingerprint
    )
    # without {{ default }}, the list alone decides
    only = run(["tenant-42"], se.explicit_chain)
    assert only.fingerprint == run(["tenant-42"], se.implicit_chain).fingerprint
    assert only.fingerprint != tenant42.fingerprint
    assert json.loads(only.data_json)["fingerprint"] == ["tenant-42"]


def test_non_ascii() -> None:
    text = "Zahlung fehlgeschlagen: Größe ✓ 日本語 💳"

    def run() -> None:
        sentry_sdk.set_tag("städt", "Zürich")
        sentry_sdk.set_user({"username": "josé"})
        sentry_sdk.capture_message(text)

    event = one_event(run)
    assert event.message == event.title == text
    assert event.tags == {"städt": "Zürich", **ENV_AND_RELEASE}
    assert json.loads(event.user_json)["username"] == "josé"


def test_long_message_is_cut_with_meta(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK sends sys.argv in extra: a long pytest command line would be
    # trimmed too, with a note of its own in _meta.
    monkeypatch.setattr(sys, "argv", ["pytest"])
    event = one_event(lambda: sentry_sdk.capture_message("é" * 20_000))
    assert event.message == "é" * (MAX_STRING - 3) + "..."
    meta = json.loads(event.data_json)["_meta"]
    assert meta == {
        "logentry": {
            "formatted": {"": {"rem": [["!limit", "s", MAX_STRING - 3, MAX_STRING]], "len": 20_000}}
        }
    }
    assert len(event.title) == 200


def test_bad_tags_are_dropped_with_meta() -> None:
    def run() -> None:
        for key, value in [
            ("count", 3),
            ("flag", True),
            ("k" * 40, "x"),
            ("big", "v" * 300),
            ("nl", "a\nb"),
            ("ok", "fine"),
            ("none", None),
        ]:
            sentry_sdk.set_tag(key, value)
        sentry_sdk.capture_message("tags")

    event = one_event(run)
    assert event.tags == {"count": "3", "flag": "true", "ok": "fine", **ENV_AND_RELEASE}
    assert json.loads(event.tags_json) == event.tags
    notes = sorted((n[""] for n in json.loads(event.data_json)["_meta"]["tags"].values()), key=str)
    assert notes == [
        {"err": ["invalid_data"], "val": ["k" * 40, "x"]},
        {"err": ["invalid_data"], "val": ["nl", "a\nb"]},
        {"err": ["value_too_long"]},  # the 300 characters are not repeated
    ]


def test_environment_and_release_are_tags_and_the_columns_win() -> None:
    """As in Sentry: the event's environment and release are among its tags,
    over SDK tags of those names (the tag store counts the same pairs)."""
    event = normalize_event(
        {"tags": {"release": "from-a-tag", "environment": "tagged", "x": "1"}, "release": "r1"}
    )
    assert event.release == "r1" and event.environment is None
    assert (
        event.tags
        == json.loads(event.tags_json)
        == {
            "release": "r1",
            "environment": "tagged",
            "x": "1",
        }
    )


def test_transaction_column_and_extra() -> None:
    def run() -> None:
        with sentry_sdk.start_transaction(name="POST /checkout"):
            sentry_sdk.set_extra("cart", {"items": list(range(3))})
            se.explicit_chain()

    (event,) = (e for e in events_of(se.capture(run, traces_sample_rate=1.0)))
    assert event.transaction == "POST /checkout"
    assert json.loads(event.extra_json)["cart"] == {"items": [0, 1, 2]}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_compressed_real_envelopes(encoding: str) -> None:
    (body,) = se.capture(se.explicit_chain)
    encode = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[encoding]
    assert parse_envelope(encode(body), encoding) == parse_envelope(body)


# --- normalize_event on hand-made payloads -----------------------------------------------------

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"


def test_event_id_sources() -> None:
    other = "0123456789abcdef0123456789abcdef"
    assert normalize_event({"event_id": other}, EVENT_ID).client_event_id == UUID(EVENT_ID)
    assert normalize_event({"event_id": other}).client_event_id == UUID(other)
    assert normalize_event({"event_id": "nope"}, "bad").client_event_id.version == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2031-01-02T03:04:05.5Z", "2031-01-02T03:04:05.500000+00:00"),
        ("2031-01-02T05:04:05+02:00", "2031-01-02T03:04:05+00:00"),
        ("2031-01-02T03:04:05", "2031-01-02T03:04:05+00:00"),
        (1924916645.25, "2030-12-31T03:04:05.250000+00:00"),
        (1924916645, "2030-12-31T03:04:05+00:00"),
        ("yesterday", None),
        (1e300, None),
        (True, None),
    ],
)
def test_timestamps(value: Any, expected: str | None) -> None:
    event = normalize_event({"timestamp": value})
    assert (event.occurred_at.isoformat() if event.occurred_at else None) == expected


def test_mapping_is_not_changed_and_nul_and_surrogates_are_removed() -> None:
    payload: dict[str, Any] = {
        "message": "a\x00b\ud800c",
        "extra": {"k\x00": ["x" * 9000, "\udfff"], "n": float("nan")},
        "tags": {"t": "v\x00"},
        "exception": {"values": [{"type": "E\x00", "value": 5, "stacktrace": {"frames": [None]}}]},
    }
    before = json.dumps(payload)
    event = normalize_event(payload)
    assert json.dumps(payload) == before
    assert_storable(event)
    assert event.message == "ab\ufffdc" and event.tags == {"t": "v"}
    extra = json.loads(event.extra_json)
    assert extra == {"k": ["x" * (MAX_STRING - 3) + "...", "\ufffd"], "n": None}
    assert json.loads(event.exception_json or "") == {
        "type_name": "E",
        "value": "5",
        "module": None,
    }
    # the same from bytes, with the NUL and the surrogate as JSON escapes
    assert_storable(normalize_event(before.encode()))


def test_odd_shapes_are_tolerated() -> None:
    event = normalize_event(
        {
            "exception": "boom",
            "contexts": [1, 2],
            "breadcrumbs": {"values": [1, {"message": 2, "timestamp": "bad"}]},
            "tags": [["a", "1"], ["b"], "c", [1, "x"]],
            "user": "ada",
            "extra": [],
            "threads": {"values": "x"},
            "fingerprint": "literal",
            "level": 40,
            "release": "a\nb",
            "environment": "x" * 65,
            "sdk": {"name": 3},
            "unknown_field": {"kept": True},
            "_meta": {"extra": {"": {"len": 5}}},
        }
    )
    assert_storable(event)
    assert event.tags == {"a": "1"} and event.level is Severity.ERROR
    assert event.release is None and event.environment is None and event.sdk_name == "3"
    assert json.loads(event.breadcrumbs_json) == [{"message": "2"}]
    data = json.loads(event.data_json)
    assert data["unknown_field"] == {"kept": True}
    meta = data["_meta"]
    assert meta["extra"] == {"": {"len": 5, "err": ["invalid_data"], "val": []}}
    for key in ("exception", "contexts", "user", "fingerprint", "level", "release", "environment"):
        assert meta[key][""]["err"] == ["invalid_data"], key
    assert set(meta["tags"]) == {"1", "2", "3"}


def test_free_form_data_is_bounded() -> None:
    deep: Any = "bottom"
    for _ in range(30):
        deep = {"d": deep}
    event = normalize_event({"extra": {"deep": deep, "wide": list(range(1000))}})
    extra = json.loads(event.extra_json)
    assert len(extra["wide"]) == 200
    depth, node = 0, extra["deep"]
    while isinstance(node, dict):
        depth, node = depth + 1, node["d"]
    assert node is None and depth < 10
    meta = json.loads(event.data_json)["_meta"]["extra"]
    assert meta["wide"] == {"": {"len": 1000}}
    assert '"rem":[["!limit","x"]]' in json.dumps(meta, separators=(",", ":"))


def test_frames_are_trimmed_in_the_middle() -> None:
    frames = [{"function": f"f{i}", "filename": "a.py", "in_app": True} for i in range(600)]
    event = normalize_event(
        {"exception": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]}}
    )
    native = json.loads(event.stacktrace_json)
    assert len(native) == 250 and native[0]["function_name"] == "f0"
    assert native[-1]["function_name"] == "f599"
    meta = json.loads(event.data_json)["_meta"]
    assert meta["exception"]["values"]["0"]["stacktrace"]["frames"] == {"": {"len": 600}}


@pytest.mark.parametrize(
    "payload", [b"[]", b"nope", b'"x"', b"\xff", b"[" * 100_000, b"{" + b" " * (1024 * 1024)]
)
def test_unparseable_events(payload: bytes) -> None:
    with pytest.raises(InvalidInput, match="event"):
        normalize_event(payload)


# --- fuzz --------------------------------------------------------------------------------------

_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=5),
    max_leaves=30,
)
_KEYS = [
    "event_id", "timestamp", "level", "message", "logentry", "exception", "threads",
    "breadcrumbs", "tags", "extra", "user", "contexts", "request", "sdk", "release",
    "environment", "dist", "platform", "server_name", "logger", "transaction",
    "fingerprint", "modules", "_meta",
]  # fmt: skip
_frame = st.fixed_dictionaries(
    {},
    optional={k: _json for k in ("filename", "function", "module", "lineno", "in_app", "vars")},
)
_exception = st.fixed_dictionaries(
    {},
    optional={
        "type": _json,
        "value": _json,
        "mechanism": _json,
        "stacktrace": st.fixed_dictionaries({"frames": st.lists(_frame | _json, max_size=4)}),
    },
)
_event = st.fixed_dictionaries(
    {},
    optional={
        **{k: _json for k in _KEYS},
        "exception": st.fixed_dictionaries({"values": st.lists(_exception, max_size=3)}) | _json,
    },
) | st.dictionaries(_text, _json)


# CI runs the same cases every time, as tests/test_hostile.py does;
# MESHER_HYPOTHESIS_RANDOM=1 explores new ones.
RANDOM = os.environ.get("MESHER_HYPOTHESIS_RANDOM") == "1"


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=not RANDOM,
)
@given(_event, st.booleans())
@example({"\udc00": []}, True)  # a lone low surrogate, escaped: found by this test
def test_fuzz_never_crashes(payload: dict[str, Any], as_bytes: bool) -> None:
    if as_bytes:
        raw = json.dumps(payload).encode()  # NaN, surrogates and NUL as the SDKs write them
        event = normalize_event(raw)
    else:
        event = normalize_event(payload)
    assert_storable(event)


@settings(max_examples=200, deadline=None, derandomize=not RANDOM)
@given(st.binary(max_size=200))
def test_fuzz_bytes(payload: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        assert_storable(normalize_event(payload))


def test_logging_module_is_quiet() -> None:
    # the logging integration must not have changed the root logger's level
    assert logging.getLogger().level in (logging.WARNING, logging.NOTSET, logging.DEBUG)


# --- inputs a review found (raw errors, allocations, secrets) ---------------------


@pytest.mark.parametrize(
    ("template", "params", "message"),
    [
        ("%c", [10**10], "10000000000"),  # %c of a huge int: OverflowError in Python
        ("%d x", [1e400], "null x"),  # 1e400 parses as no number, not Infinity
        ("{:>300000000}", [1], "1"),  # a width is not honoured: no 300 MB string
        ("%*d", [10**9, 1], "1000000000"),
        ("payment %s failed, %d%% done, %(n)s", ["A", 3], "payment A failed, 3% done, %(n)s"),
        ("%(who)s paid %(amount).2f", {"who": "ada", "amount": 3.5}, "ada paid 3.5"),
        ("user {} did {name}", ["ada"], "user ada did {name}"),
        ("%s" * 5000, ["x" * 100] * 1000, None),  # 100 KB of params: the message is cut
    ],
)
def test_log_templates_are_formatted_safely(
    template: str, params: Any, message: str | None
) -> None:
    payload = json.dumps({"logentry": {"message": template, "params": params}}).encode()
    event = normalize_event(payload.replace(b"1e+400", b"1e400"))
    if message is None:
        assert len(event.message) <= 8192
    else:
        assert event.message == message


def test_non_finite_numbers_become_null() -> None:
    event = normalize_event(
        b'{"extra": {"big": 1e400, "fine": 1.5}, "contexts": {"x": {"n": -1e999}}}'
    )
    assert json.loads(event.extra_json) == {"big": None, "fine": 1.5}
    assert json.loads(event.data_json)["contexts"] == {"x": {"n": None}}


def test_a_deeply_nested_invalid_value_is_dropped_not_crashing() -> None:
    deep: Any = 1
    for _ in range(500):
        deep = [deep]
    event = normalize_event({"level": deep, "message": "x"})
    assert event.level.value == "error"
    assert json.loads(event.data_json)["_meta"]["level"][""]["err"] == ["invalid_data"]


def test_secrets_in_free_form_data_are_filtered() -> None:
    event = normalize_event(
        {
            "extra": {
                "password": "hunter2",
                "note": "ok",
                "nested": {"api_key": "k1", "author": "a"},
            },
            "request": {"headers": {"Authorization": "Bearer t", "Cookie": "s=1", "Accept": "*/*"}},
            "exception": {
                "values": [
                    {
                        "type": "E",
                        "stacktrace": {
                            "frames": [{"function": "f", "vars": {"token": "t0", "n": 1}}]
                        },
                    }
                ]
            },
        }
    )
    assert json.loads(event.extra_json) == {
        "password": "[Filtered]",
        "note": "ok",
        "nested": {"api_key": "[Filtered]", "author": "a"},
    }
    data = json.loads(event.data_json)
    assert data["request"]["headers"] == {
        "Authorization": "[Filtered]",
        "Cookie": "[Filtered]",
        "Accept": "*/*",
    }
    frames = json.loads(event.exceptions_json or "[]")[0]["stacktrace"]["frames"]
    assert frames[0]["vars"] == {"token": "[Filtered]", "n": 1}
    for text in (event.extra_json, event.data_json, event.exceptions_json or ""):
        assert "hunter2" not in text and "Bearer t" not in text and "t0" not in text
    assert data["_meta"]["extra"]["password"][""] == {"rem": [["@password:filter", "s"]]}


def test_secret_keys_are_filtered_again_from_the_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Key verdicts are memoized (keys repeat from event to event): a key
    seen before is filtered again, and a full memo still filters new keys."""
    from mesher import _sentry_event

    def extra(key: str) -> Any:
        return json.loads(normalize_event({"extra": {key: "s3cret"}}).extra_json)[key]

    assert [extra("db_password"), extra("db_password"), extra("plain")] == [
        "[Filtered]",
        "[Filtered]",
        "s3cret",
    ]
    assert _sentry_event._SENSITIVE_SEEN["db_password"] is True
    monkeypatch.setattr(_sentry_event, "_SENSITIVE_SEEN", {})
    monkeypatch.setattr(_sentry_event, "_SENSITIVE_SEEN_MAX", 2)
    for i in range(5):
        assert extra(f"token_{i}") == "[Filtered]"
        assert extra(f"name_{i}") == "s3cret"
    assert len(_sentry_event._SENSITIVE_SEEN) == 2


def test_parse_auth_takes_bytes_as_asgi_gives_them() -> None:
    auth = parse_auth([(b"X-Sentry-Auth", b"Sentry sentry_key=k1, sentry_client=py/2")], b"")
    assert (auth.public_key, auth.client) == ("k1", "py/2")
    assert parse_auth({}, b"sentry_key=k2&sentry_version=7").version == "7"
    for bad in (None, [("x",)], 5):
        with pytest.raises(InvalidInput, match="headers must be"):
            parse_auth(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="query_string"):
        parse_auth({}, 5)  # type: ignore[arg-type]


def test_the_column_encoder_writes_what_json_writes() -> None:
    """pydantic-core's serializer, where json's C encoder was: the same text
    (a float's exponent aside, the same number), and the json encoder for
    what pydantic-core refuses (a lone surrogate)."""
    from mesher._sentry_event import _dumps

    tree = {"é": ["\u2028\x01", 2**70, 0.1, 1e16, -0.0, None, True], "": {"a": []}}
    expected = json.dumps(tree, ensure_ascii=False, separators=(",", ":"))
    assert _dumps(tree) == expected
    assert json.loads(_dumps([1.5e-7])) == [1.5e-7]
    assert _dumps({"s": "\ud800"}) == json.dumps(
        {"s": "\ud800"}, ensure_ascii=False, separators=(",", ":")
    )
