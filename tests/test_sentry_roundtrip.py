"""A round trip through PostgreSQL: events from the real ``sentry_sdk`` (over
the envelope path) and hand-written payloads in the shapes other SDKs send,
old ones included (over the ``/store/`` path), come back field for field.

The event is rebuilt in Sentry's shape from the stored row (``as_sentry``) and
compared with what was sent, changed only in the ways the README documents
(``expected``): the ``sentry.interfaces.*`` names read under their current
ones, the older shapes in the current ones (bare lists in ``values``,
``logentry`` as text, a breadcrumb's ``ty``), timestamps parsed, tags as text,
and the values of secret keys ``[Filtered]``, each noted in ``_meta``.
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import sentry_sdk

from mesher import queries as q
from mesher import sentry
from mesher.models import Event, IngestedEvent

from .sentry_envelopes import (
    LOGGER,
    capture,
    deep_stack,
    event_payloads,
    explicit_chain,
    implicit_chain,
    realistic,
    thread_crash,
)

pytestmark = pytest.mark.citus

Conn = psycopg.Connection[Any]
Path = tuple[str | int, ...]

_COLUMNS = ("release", "environment", "dist", "platform", "server_name", "logger", "transaction")
_ALIASES = {
    "sentry.interfaces.Exception": "exception",
    "sentry.interfaces.Message": "logentry",
    "sentry.interfaces.User": "user",
    "sentry.interfaces.Http": "request",
    "sentry.interfaces.Breadcrumbs": "breadcrumbs",
    "sentry.interfaces.Stacktrace": "stacktrace",
}
_LEVELS = {"warn": "warning", "critical": "fatal", "log": "info"}


# --- the stored event, in Sentry's shape ---------------------------------------------------


def as_sentry(event: Event) -> dict[str, Any]:
    """The stored event as a Sentry event (``_meta`` left out: see meta_notes)."""
    out = {k: v for k, v in event.data.items() if k != "_meta"}
    assert event.client_event_id is not None
    out["event_id"] = event.client_event_id.hex
    out["level"] = event.level.value
    if event.occurred_at is not None:
        out["timestamp"] = event.occurred_at
    if event.message:
        out["message"] = event.message
    if event.exceptions:
        out["exception"] = {"values": event.exceptions}
    if event.breadcrumbs:
        out["breadcrumbs"] = {"values": [dict(c) for c in event.breadcrumbs]}
    for key, value in (("tags", event.tags), ("extra", event.extra), ("user", event.user_context)):
        if value:
            out[key] = value
    for column in _COLUMNS:
        if getattr(event, column) is not None:
            out[column] = getattr(event, column)
    return out


def meta_notes(event: Event) -> set[tuple[str, str]]:
    """(path, first note) of every ``_meta`` entry: ``"@password:filter"``,
    ``"!limit"``, an SDK's ``"!config"``, or an error code."""
    notes: set[tuple[str, str]] = set()

    def walk(node: dict[str, Any], path: str) -> None:
        for key, value in node.items():
            if key == "":
                first = (value.get("rem") or [[None]])[0][0] or (value.get("err") or ["len"])[0]
                notes.add((path, first))
            else:
                walk(value, f"{path}.{key}" if path else key)

    walk(event.data.get("_meta", {}), "")
    return notes


# --- what was sent, as the README says it is stored ------------------------------------------


def _when(value: Any) -> datetime:
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    return datetime.fromtimestamp(value, UTC)


def _values(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {"values": value}
    if isinstance(value, dict) and "values" not in value:
        return {"values": [value]}
    return dict(value)


def _crumb(crumb: dict[str, Any]) -> dict[str, Any]:
    crumb = {k: v for k, v in crumb.items() if v is not None}
    if "ty" in crumb:
        crumb.setdefault("type", crumb.pop("ty"))
    if "timestamp" in crumb:
        crumb["timestamp"] = _when(crumb["timestamp"])
    if "level" in crumb:
        crumb["level"] = _LEVELS.get(crumb["level"], crumb["level"])
    if "event_id" in crumb:
        crumb["event_id"] = uuid.UUID(crumb["event_id"]).hex
    return crumb


def _message(sent: dict[str, Any]) -> str:
    logentry = sent.get("logentry") or {}
    text = sent.get("message")
    found = logentry.get("formatted") or (
        text if isinstance(text, str) else logentry.get("message")
    )
    return str(found or "")


def expected(
    payload: dict[str, Any],
    filtered: tuple[Path, ...] = (),
    replaced: dict[Path, Any] | None = None,
) -> dict[str, Any]:
    sent = copy.deepcopy(payload)
    for alias, key in _ALIASES.items():
        if alias in sent:
            value = sent.pop(alias)
            sent.setdefault(key, value)
    if isinstance(sent.get("logentry"), str):
        sent["logentry"] = {"formatted": sent["logentry"]}
    if isinstance(sent.get("message"), dict):
        sent.setdefault("logentry", sent["message"])
    message = _message(sent)
    sent.pop("message", None)
    if message:
        sent["message"] = message
    if "exception" in sent:
        _exceptions(sent)
    if "breadcrumbs" in sent:
        sent["breadcrumbs"] = {
            "values": [_crumb(c) for c in _values(sent["breadcrumbs"])["values"]]
        }
    if "timestamp" in sent:
        sent["timestamp"] = _when(sent["timestamp"])
    sent["level"] = _LEVELS.get(sent.get("level") or "error", sent.get("level") or "error")
    tags = sent.get("tags") or {}
    tags = dict(tags.items() if isinstance(tags, dict) else tags)
    tags |= {k: sent[k] for k in ("environment", "release") if sent.get(k)}
    sent["tags"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in tags.items()}
    for path, value in [*((p, "[Filtered]") for p in filtered), *(replaced or {}).items()]:
        node: Any = sent
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    empty = ("tags", "extra", "user", "breadcrumbs", "exception")
    return {
        k: v
        for k, v in sent.items()
        if v is not None and not (k in empty and v in ({}, [], {"values": []}))
    }


def _exceptions(sent: dict[str, Any]) -> None:
    sent["exception"] = _values(sent["exception"])
    for exc in sent["exception"]["values"]:
        if "sentry.interfaces.Stacktrace" in exc:
            exc.setdefault("stacktrace", exc.pop("sentry.interfaces.Stacktrace"))
    (only, *more) = sent["exception"]["values"]
    if "stacktrace" in sent and not more and not only.get("stacktrace"):
        only["stacktrace"] = sent.pop("stacktrace")  # as Relay does


def differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Where two JSON-like values differ, path by path (for assertion messages)."""
    if isinstance(got, dict) and isinstance(want, dict):
        out = [f"{path}.{k}: stored only" for k in got.keys() - want.keys()]
        out += [f"{path}.{k}: lost" for k in want.keys() - got.keys()]
        for k in got.keys() & want.keys():
            out += differences(got[k], want[k], f"{path}.{k}")
        return out
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in differences(g, w, f"{path}.{i}")
        ]
    return [] if got == want else [f"{path}: {got!r:.80} != {want!r:.80}"]


def assert_round_trip(got: dict[str, Any], want: dict[str, Any]) -> None:
    diff = differences(got, want)
    assert got == want, "\n".join(diff)


def dotted(path: Path) -> str:
    return ".".join(map(str, path))


# --- events from the real sentry_sdk ----------------------------------------------------------


def with_a_secret_local() -> None:
    # Neither name is one the SDK's own scrubber knows. (The values are built,
    # so that the source lines the SDK sends do not hold them.)
    api_token = "-".join(["s3cr3t", "t0ken"])
    order = {"id": 7, "password": "-".join(["hunter", "2"])}
    try:
        raise ValueError(f"bad order {order['id']} ({len(api_token)})")
    except ValueError:
        sentry_sdk.capture_exception()


def breadcrumbs_of_every_kind() -> None:
    sentry_sdk.add_breadcrumb(category="auth", message="login", level="info", type="user")
    sentry_sdk.add_breadcrumb(type="http", category="httplib", data={"url": "/x", "status": 500})
    sentry_sdk.add_breadcrumb(type="navigation", data={"from": "/", "to": "/cart"}, level="debug")
    LOGGER.warning("cart %s emptied", 7)
    sentry_sdk.set_context("cart", {"items": 3, "currency": "EUR"})
    sentry_sdk.set_user({"id": "42", "email": "ada@example.com"})
    sentry_sdk.set_tag("tenant", "t7")
    sentry_sdk.capture_message("checkout failed", level="warning")


SDK_CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    "explicit chain": (explicit_chain, {"server_name": "web-7", "dist": "42"}),
    "implicit chain": (implicit_chain, {}),
    "thread crash": (thread_crash, {}),
    "logging": (lambda: LOGGER.error("payment %s failed", "A-17"), {}),
    "breadcrumbs": (breadcrumbs_of_every_kind, {}),
    "local variables": (deep_stack(6), {"include_local_variables": True}),
    "realistic": (realistic(3), {"include_local_variables": True}),
    "attach_stacktrace": (
        lambda: sentry_sdk.capture_message("disk full"), {"attach_stacktrace": True}
    ),
    "secret local": (with_a_secret_local, {"include_local_variables": True}),
}  # fmt: skip


def _read(conn: Conn, project_id: uuid.UUID, ingested: Any) -> Event:
    assert isinstance(ingested, IngestedEvent)
    return q.get_event(conn, project_id, ingested.event_id)


_VARS: Path = ("exception", "values", 0, "stacktrace", "frames", 0, "vars")
SDK_FILTERED: dict[str, tuple[Path, ...]] = {
    "secret local": ((*_VARS, "api_token"), (*_VARS, "order", "password")),
}


@pytest.mark.parametrize("case", list(SDK_CASES))
def test_real_sdk_events_come_back_field_for_field(
    conn: Conn, project_id: uuid.UUID, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["pytest"])  # the SDK sends it in extra
    fn, options = SDK_CASES[case]
    envelopes = [e for e in capture(fn, **options) if b'"type":"event"' in e]
    (payload,) = (json.loads(p) for p in event_payloads(envelopes))
    result = sentry.ingest_envelope(conn, project_id, envelopes[0])
    assert result.skipped == []
    event = _read(conn, project_id, result.events[0])
    filtered = SDK_FILTERED.get(case, ())
    sent = {k: v for k, v in payload.items() if k != "_meta"}
    assert_round_trip(as_sentry(event), expected(sent, filtered))
    # Nothing was cut here: the only notes are the SDK's own, as it sent
    # them (its scrubber's "!config"), and the filtered values'.
    sdk_notes = {(p, n) for p, n in meta_notes(event) if n == "!config"}
    assert meta_notes(event) == sdk_notes | {(dotted(p), "@password:filter") for p in filtered}
    if not filtered:
        assert event.data.get("_meta", {}) == payload.get("_meta", {})
    if case == "attach_stacktrace":  # pytest's "session" locals
        assert sdk_notes and payload["_meta"]
    text = json.dumps(event.exceptions)
    assert "hunter-2" not in text and "s3cr3t-t0ken" not in text


# --- hand-written payloads in the shapes other SDKs send -------------------------------------

ID = "fc6d8c0c43fc4630ad850ee518f1b9d0"

RAVEN_PYTHON = {  # raven-python 6: every interface under its sentry.interfaces.* name
    "event_id": ID, "project": "1", "platform": "python", "logger": "django.request",
    "level": "error", "culprit": "shop.views in checkout", "server_name": "web-1",
    "timestamp": "2019-01-02T03:04:05", "time_spent": None,
    "message": "ZeroDivisionError: division by zero",
    "sentry.interfaces.Exception": {"values": [{
        "type": "ZeroDivisionError", "value": "division by zero", "module": "exceptions",
        "stacktrace": {"frames": [{
            "abs_path": "/srv/shop/views.py", "filename": "shop/views.py",
            "function": "checkout", "module": "shop.views", "lineno": 12, "in_app": True,
            "context_line": "    total = price / count", "pre_context": ["def checkout():"],
            "post_context": ["    return total"],
            "vars": {"price": "10", "count": "0", "password": "hunter2"},
        }]},
    }]},
    "sentry.interfaces.Http": {
        "url": "https://shop.example/checkout", "method": "POST",
        "query_string": "step=2&token=abc", "cookies": "sessionid=xyz; theme=dark",
        "headers": {"Host": "shop.example", "Authorization": "Basic dXNlcjpwYXNz",
                    "Content-Type": "application/x-www-form-urlencoded"},
        "data": {"item": "42", "csrfmiddlewaretoken": "t0k"},
        "env": {"REMOTE_ADDR": "10.0.0.1", "SERVER_NAME": "web-1"},
    },
    "sentry.interfaces.User": {"id": "42", "username": "ada", "ip_address": "10.0.0.1"},
    "sentry.interfaces.Breadcrumbs": {"values": [
        {"timestamp": 1546398245.5, "type": "default", "category": "query",
         "message": "SELECT 1", "level": "info", "data": {}},
        {"timestamp": 1546398246, "ty": "http", "category": "requests",
         "data": {"url": "https://api.example/", "status_code": 500}},
    ]},
    "tags": [["site", "shop"], ["url", "/checkout"]],
    "extra": {"sys.argv": ["manage.py", "runserver"], "order_id": 1042},
    "modules": {"django": "1.11.29", "secretstorage": "3.3.1", "cookiecutter": "2.1.1"},
    "sdk": {"name": "raven-python", "version": "6.10.0"},
}  # fmt: skip
RAVEN_PYTHON_FILTERED: tuple[Path, ...] = (
    ("exception", "values", 0, "stacktrace", "frames", 0, "vars", "password"),
    ("request", "cookies"),
    ("request", "headers", "Authorization"),
    ("request", "data", "csrfmiddlewaretoken"),
)

RAVEN_JS = {  # raven-js 3: a browser error, breadcrumbs without a type
    "event_id": ID, "project": "1", "logger": "javascript", "platform": "javascript",
    "culprit": "https://shop.example/app.js",
    "request": {"url": "https://shop.example/cart",
                "headers": {"User-Agent": "Mozilla/5.0", "Referer": "https://shop.example/"}},
    "exception": {"values": [{
        "type": "TypeError", "value": "Cannot read property 'id' of undefined",
        "stacktrace": {"frames": [{"filename": "https://shop.example/app.js", "lineno": 10,
                                   "colno": 20, "function": "onClick", "in_app": True}]},
    }]},
    "extra": {"session:duration": 1234},
    "breadcrumbs": {"values": [
        {"timestamp": 1546398245.123, "category": "navigation",
         "data": {"from": "/", "to": "/cart"}},
        {"timestamp": 1546398246.0, "category": "ui.click", "message": "button#pay"},
        {"timestamp": 1546398247.0, "type": "http", "category": "xhr",
         "data": {"method": "GET", "url": "/api/cart", "status_code": 500}},
    ]},
}  # fmt: skip

JAVA_1X = {  # sentry-java 1.7: a bare exception list, a parameterized message
    "event_id": ID, "message": "Query failed", "timestamp": "2019-01-02T03:04:05",
    "level": "warning", "logger": "com.shop.Repo", "platform": "java",
    "release": "1.0.0", "environment": "staging", "server_name": "api-2",
    "sdk": {"name": "sentry-java", "version": "1.7.30", "integrations": ["logback"]},
    "sentry.interfaces.Message": {"message": "Query failed for {}", "params": ["order 7"],
                                  "formatted": "Query failed for order 7"},
    "sentry.interfaces.Exception": [{
        "type": "SQLException", "value": "timeout", "module": "java.sql",
        "stacktrace": {"frames": [
            {"function": "main", "module": "com.shop.App", "lineno": 3, "in_app": True},
            {"function": "query", "module": "com.shop.Repo", "lineno": 7, "in_app": True},
        ]},
    }],
    "tags": {"thread": "main"}, "extra": {"thread_name": "main"},
}  # fmt: skip

COCOA = {  # sentry-cocoa: a synthetic exception from a Mach exception, threads, images
    "event_id": ID, "timestamp": 1546398245, "level": "fatal", "platform": "cocoa",
    "release": "shop-ios@2.1+45", "dist": "45",
    "exception": {"values": [{
        "type": "EXC_BAD_ACCESS", "value": "Attempted to dereference null pointer.",
        "thread_id": 0,
        "mechanism": {"type": "mach", "handled": False, "synthetic": True,
                      "meta": {"signal": {"number": 11, "name": "SIGSEGV"},
                               "mach_exception": {"exception": 1, "code": 1, "subcode": 0,
                                                  "name": "EXC_BAD_ACCESS"}}},
        "stacktrace": {"frames": [
            {"function": "main", "package": "/private/var/Shop", "in_app": True,
             "instruction_addr": "0x100a0b0c0"},
            {"function": "-[CartView pay:]", "package": "/private/var/Shop", "in_app": True,
             "instruction_addr": "0x100a0b1c0"},
        ]},
    }]},
    "threads": {"values": [
        {"id": 0, "crashed": True, "current": True, "name": "main"},
        {"id": 1, "crashed": False,
         "stacktrace": {"frames": [{"function": "worker", "instruction_addr": "0x1"}]}},
    ]},
    "debug_meta": {"images": [{"type": "macho", "code_file": "/private/var/Shop",
                               "debug_id": "2bd2e5a0-9e5b-4b1a-8a3e-3d6a2d3c1f00",
                               "image_addr": "0x100000000", "image_size": 4096}]},
    "contexts": {"device": {"model": "iPhone14,2", "family": "iOS"},
                 "os": {"name": "iOS", "version": "17.1"},
                 "app": {"app_identifier": "com.shop"}},
    "user": {"id": "u1"},
    "sdk": {"name": "sentry.cocoa", "version": "8.17.1"},
}  # fmt: skip

DOTNET = {  # sentry-dotnet: a structured log message, header pairs, a bare crumb list
    "event_id": ID, "level": "error", "platform": "csharp",
    "logentry": {"message": "Order {OrderId} failed", "formatted": "Order 7 failed"},
    "exception": {"values": [{
        "type": "System.InvalidOperationException", "value": "Sequence contains no elements",
        "module": "System.Linq, Version=8.0.0.0",
        "stacktrace": {"frames": [{"function": "Checkout", "module": "Shop.Orders",
                                   "in_app": True, "lineno": 40}]},
        "mechanism": {"type": "generic", "handled": True},
    }]},
    "request": {"url": "https://shop.example/api/orders", "method": "POST",
                "headers": [["Cookie", "a=1"], ["Authorization", "Bearer s3cr3t"],
                            ["Accept", "application/json"]]},
    "breadcrumbs": [{"timestamp": "2019-01-02T03:04:05.123Z", "message": "Started",
                     "category": "app", "level": "info", "type": "default"}],
    "contexts": {"runtime": {"name": ".NET", "version": "8.0.1"}},
    "tags": {"os": "windows"},
}  # fmt: skip
DOTNET_FILTERED: tuple[Path, ...] = (("request", "headers", 0, 1), ("request", "headers", 1, 1))

PHP = {  # sentry-php: header values as lists, cookies as an object, package modules
    "event_id": ID, "platform": "php", "server_name": "php-1", "level": "error",
    "exception": {"values": [{
        "type": "ErrorException", "value": "Undefined variable $cart",
        "stacktrace": {"frames": [{
            "filename": "src/Cart.php", "abs_path": "/var/www/src/Cart.php",
            "function": "Cart::total", "lineno": 42, "in_app": True,
            "pre_context": ["<?php"], "context_line": "return $cart->sum();",
            "post_context": ["}"],
        }]},
        "mechanism": {"type": "generic", "handled": True},
    }]},
    "request": {"url": "https://shop.example/cart", "method": "GET",
                "headers": {"Host": ["shop.example"], "Cookie": ["PHPSESSID=abc"]},
                "cookies": {"PHPSESSID": "abc"}},
    "modules": {"theseer/tokenizer": "1.2.1", "symfony/http-foundation": "v5.4.0"},
}  # fmt: skip
PHP_FILTERED: tuple[Path, ...] = (("request", "headers", "Cookie"), ("request", "cookies"))

RUBY = {  # sentry-ruby: a message and an exception, the thread it ran on
    "event_id": ID, "message": "Redis timeout", "level": "warning", "platform": "ruby",
    "exception": {"values": [{
        "type": "Redis::TimeoutError", "value": "Connection timed out", "module": "Redis",
        "thread_id": 123,
        "stacktrace": {"frames": [{"function": "perform", "filename": "app/jobs/sync.rb",
                                   "lineno": 9, "in_app": True}]},
    }]},
    "threads": {"values": [{"id": 123, "name": "puma 001", "crashed": False, "current": True}]},
    "tags": {"request_id": "r1"}, "user": {"ip_address": "10.0.0.2"},
    "contexts": {"runtime": {"name": "ruby", "version": "ruby 3.2.0"}},
}  # fmt: skip

GO = {  # sentry-go: the exception as a bare list, empty tags and extra
    "event_id": ID, "level": "error", "platform": "go",
    "exception": [{"type": "*errors.errorString", "value": "unexpected EOF",
                   "stacktrace": {"frames": [{"function": "run", "module": "main",
                                              "abs_path": "/app/main.go", "lineno": 30,
                                              "in_app": True}]}}],
    "sdk": {"name": "sentry.go", "version": "0.6.0", "integrations": ["ContextifyFrames"],
            "packages": [{"name": "sentry-go", "version": "0.6.0"}]},
    "contexts": {"device": {"arch": "amd64", "num_cpu": 8},
                 "runtime": {"name": "go", "version": "go1.13"}},
    "request": {"url": "https://api.example/x", "method": "GET",
                "headers": {"Authorization": "Bearer t"}},
    "tags": {}, "extra": {},
}  # fmt: skip
GO_FILTERED: tuple[Path, ...] = (("request", "headers", "Authorization"),)

ELIXIR = {  # sentry-elixir 8: nulls for what it does not know, a bare exception list
    "event_id": ID, "timestamp": "2019-01-02T03:04:05", "breadcrumbs": [],
    "culprit": "Shop.Checkout.pay/1", "environment": "prod", "level": "error",
    "exception": [{"type": "ArithmeticError", "value": "bad argument in arithmetic expression",
                   "module": None,
                   "stacktrace": {"frames": [{
                       "filename": "lib/shop/checkout.ex", "function": "Shop.Checkout.pay/1",
                       "lineno": 12, "module": "Shop.Checkout", "in_app": True,
                       "context_line": None, "pre_context": [], "post_context": [],
                       "vars": {}}]}}],
    "extra": {}, "fingerprint": ["{{ default }}"], "message": None, "platform": "elixir",
    "release": None, "request": {}, "sdk": {"name": "sentry-elixir", "version": "8.0.0"},
    "server_name": "app@host", "tags": {}, "user": {},
    "contexts": {"runtime": {"name": "elixir", "version": "1.10.0"}},
}  # fmt: skip

NODE_SYNTHETIC = {  # @sentry/node captureMessage with attachStacktrace
    "event_id": ID, "message": "Payment provider slow", "level": "info", "platform": "node",
    "exception": {"values": [{
        "value": "Payment provider slow",
        "stacktrace": {"frames": [
            {"filename": "node:internal/process", "function": "processTicks", "in_app": False},
            {"filename": "/app/src/checkout.js", "function": "charge", "lineno": 5,
             "colno": 9, "in_app": True},
        ]},
        "mechanism": {"type": "generic", "handled": True, "synthetic": True},
    }]},
    "breadcrumbs": {"values": [{"timestamp": 1546398245.0, "category": "console",
                                "level": "log", "message": "retrying"}]},
    "contexts": {"trace": {"trace_id": "4c79f60c11214eb38604f4ae0781bfb2",
                           "span_id": "fa90fdead5f74052"}},
    "sdk": {"name": "sentry.javascript.node", "version": "8.0.0"},
}  # fmt: skip

OLD_MESSAGE = {  # logentry as plain text and a top-level stacktrace (older SDKs)
    "event_id": ID, "logentry": "Disk quota exceeded for /var", "platform": "other",
    "stacktrace": {"frames": [{"function": "rotate", "module": "logs", "in_app": True}]},
}  # fmt: skip

# Filtered inside the text: the query string's secret value only.
REPLACED: dict[str, dict[Path, Any]] = {
    "raven-python": {("request", "query_string"): "step=2&token=[Filtered]"},
}

HAND_WRITTEN: dict[str, tuple[dict[str, Any], tuple[Path, ...], str]] = {
    "raven-python": (RAVEN_PYTHON, RAVEN_PYTHON_FILTERED, "ZeroDivisionError: division by zero"),
    "raven-js": (RAVEN_JS, (), "TypeError: Cannot read property 'id' of undefined"),
    "java 1.x": (JAVA_1X, (), "SQLException: timeout"),
    "cocoa": (COCOA, (), "-[CartView pay:]"),
    ".net": (
        DOTNET, DOTNET_FILTERED,
        "System.InvalidOperationException: Sequence contains no elements",
    ),
    "php": (PHP, PHP_FILTERED, "ErrorException: Undefined variable $cart"),
    "ruby": (RUBY, (), "Redis::TimeoutError: Connection timed out"),
    "go": (GO, GO_FILTERED, "*errors.errorString: unexpected EOF"),
    "elixir": (ELIXIR, (), "ArithmeticError: bad argument in arithmetic expression"),
    "node synthetic": (NODE_SYNTHETIC, (), "Payment provider slow"),
    "old message": (OLD_MESSAGE, (), "Disk quota exceeded for /var"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HAND_WRITTEN))
def test_older_and_other_sdk_shapes_come_back_field_for_field(
    conn: Conn, project_id: uuid.UUID, case: str
) -> None:
    payload, filtered, title = HAND_WRITTEN[case]
    replaced = REPLACED.get(case, {})
    stored = sentry.ingest_store(conn, project_id, json.dumps(payload).encode())
    event = _read(conn, project_id, stored)
    assert_round_trip(as_sentry(event), expected(payload, filtered, replaced))
    # every filtered value is noted, and nothing else is
    notes = {(dotted(p), "@password:filter") for p in [*filtered, *replaced]}
    assert meta_notes(event) == notes
    assert q.get_issue(conn, event.issue_id).title == title
    text = json.dumps(event.data) + json.dumps(event.exceptions)
    for secret in ("hunter2", "dXNlcjpwYXNz", "xyz", "t0k", "s3cr3t", "Bearer t", "=abc"):
        assert secret not in text


def test_secrets_in_a_query_string_are_filtered_in_place(conn: Conn, project_id: uuid.UUID) -> None:
    """The one value that is filtered inside a text, not replaced whole."""
    stored = sentry.ingest_store(conn, project_id, json.dumps(RAVEN_PYTHON).encode())
    event = _read(conn, project_id, stored)
    assert event.data["request"]["query_string"] == "step=2&token=[Filtered]"
    assert event.data["_meta"]["request"]["query_string"] == {
        "": {"rem": [["@password:filter", "s"]]}
    }
