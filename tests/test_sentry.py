"""The Sentry path end to end: real envelopes from the official sentry_sdk,
through ``mesher.sentry``, into PostgreSQL, and read back."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

import brotli
import psycopg
import pytest
import sentry_sdk
import sentry_sdk.crons

from mesher import queries as q
from mesher import sentry
from mesher.aio import sentry as asentry
from mesher.errors import InvalidCredentials, InvalidInput, NotFound
from mesher.models import IngestedEvent, Severity, SkippedItem, SkipReason

from .helpers import run_concurrently
from .sentry_envelopes import (
    LOGGER,
    at_depth,
    capture,
    combine,
    explicit_chain,
    items,
    thread_crash,
)

pytestmark = pytest.mark.citus  # also on the Citus cluster (tests/citus_cluster.py)

Conn = psycopg.Connection[Any]


def _event_id(envelope: bytes) -> uuid.UUID:
    return uuid.UUID(json.loads(envelope.partition(b"\n")[0])["event_id"])


def _counts(conn: Conn) -> tuple[int, int]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM issues)"
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def _store(conn: Conn, project_id: uuid.UUID, fn: Any, **options: Any) -> Any:
    (envelope,) = [e for e in capture(fn, **options) if b'"type":"event"' in e]
    result = sentry.ingest_envelope(conn, project_id, gzip.compress(envelope), "gzip")
    conn.commit()
    return envelope, result


def test_exception_chain_is_stored_faithfully(conn: Conn, project_id: uuid.UUID) -> None:
    envelope, result = _store(conn, project_id, explicit_chain, server_name="web-7")
    assert result.skipped == []
    (stored,) = result.events
    assert stored.new_issue and not stored.regressed
    event = q.get_event(conn, project_id, stored.event_id)
    assert event.client_event_id == _event_id(envelope)
    assert (event.release, event.environment) == ("shop@1.2.3", "production")
    assert (event.platform, event.server_name) == ("python", "web-7")
    assert event.occurred_at is not None and event.handled is True
    assert [e["type"] for e in event.exceptions] == ["KeyError", "PaymentError"]
    assert event.exception is not None
    assert event.exception.type_name == "PaymentError"  # the main one: last in the chain
    assert event.exception.value == "card declined for order 1042"
    assert all(e["stacktrace"]["frames"] for e in event.exceptions)
    assert event.stacktrace and event.stacktrace[-1]["function_name"] == "explicit_chain"
    assert event.sdk_name == "sentry.python"
    assert event.data["sdk"]["name"] == "sentry.python"
    assert "runtime" in event.data["contexts"]
    assert event.fingerprint.startswith("v2:") and len(event.fingerprint) == 67
    issue = q.get_issue(conn, stored.issue_id)
    assert issue.title == "PaymentError: card declined for order 1042"
    assert (issue.first_release, issue.last_release) == ("shop@1.2.3", "shop@1.2.3")
    assert issue.level is Severity.ERROR


def test_a_retried_envelope_stores_and_counts_nothing(conn: Conn, project_id: uuid.UUID) -> None:
    envelope, first = _store(conn, project_id, explicit_chain)
    again = sentry.ingest_envelope(conn, project_id, envelope)
    conn.commit()
    assert again.events == [e._replace(duplicate=True) for e in first.events]
    assert q.fire_issue_rules(conn, project_id, again.events) == []  # nothing fires twice
    assert _counts(conn) == (1, 1)
    assert q.get_issue(conn, first.events[0].issue_id).event_count == 1


def test_concurrent_arrivals_of_one_event_store_it_once(
    app_url: str, project_id: uuid.UUID
) -> None:
    (envelope,) = capture(explicit_chain)

    def send(_: int) -> Any:
        with psycopg.connect(app_url, autocommit=True) as c:
            return sentry.ingest_envelope(c, project_id, envelope).events

    results = run_concurrently(4, send)
    assert sorted(r[0].duplicate for r in results) == [False, True, True, True]
    first = [e._replace(duplicate=False) for e in results[0]]
    assert all([e._replace(duplicate=False) for e in r] == first for r in results)
    with psycopg.connect(app_url) as c:
        assert _counts(c) == (1, 1)


def test_other_items_are_skipped_and_reported(conn: Conn, project_id: uuid.UUID) -> None:
    def everything() -> None:
        with sentry_sdk.start_transaction(name="checkout"):
            sentry_sdk.capture_message("inside a transaction", level="warning")
        sentry_sdk.crons.capture_checkin(monitor_slug="nightly", status="ok")

    envelopes = capture(everything, traces_sample_rate=1.0)
    session = (
        b'{}\n{"type":"session"}\n{"sid":"' + str(uuid.uuid4()).encode() + b'","status":"ok"}\n'
    )
    body = combine(*envelopes, session, b'{}\n{"type":"client_report","length":2}\n{}\n')
    kinds = {h["type"] for e in envelopes for h, _ in items(e)}
    assert {"event", "transaction", "check_in"} <= kinds
    result = sentry.ingest_envelope(conn, project_id, zlib.compress(body), "deflate")
    assert len(result.events) == 1
    skipped = [s.item_type for s in result.skipped]
    assert {"transaction", "check_in", "session", "client_report"} <= set(skipped)
    assert all("not stored" in s.reason for s in result.skipped)
    assert {s.code for s in result.skipped} == {SkipReason.ITEM_TYPE}
    event = q.get_event(conn, project_id, result.events[0].event_id)
    assert (event.message, event.level) == ("inside a transaction", Severity.WARNING)
    assert event.transaction == "checkout"


def test_an_unparseable_event_is_skipped_the_others_stored(
    conn: Conn, project_id: uuid.UUID
) -> None:
    (good,) = capture(lambda: sentry_sdk.capture_message("fine"))
    broken = b'{}\n{"type":"event","length":9}\n{not json\n'
    result = sentry.ingest_envelope(conn, project_id, combine(good, broken))
    assert len(result.events) == 1
    ((item_type, reason, code),) = result.skipped
    assert item_type == "event" and "JSON" in reason and code is SkipReason.INVALID


def test_hostile_bodies_write_nothing(conn: Conn, project_id: uuid.UUID) -> None:
    (good,) = capture(lambda: sentry_sdk.capture_message("fine"))
    for body, encoding in [
        (good[:-40], None),  # truncated inside the payload
        (b"not json\n", None),
        (b'{}\n{"type":"event","length":999}\n{}\n', None),
        (gzip.compress(b"\0" * (101 * 1024 * 1024)), "gzip"),
        (b"\xff\xfe" + good, None),
        (good, "zstd"),
        (b"\x1f\x8b garbage", "gzip"),
    ]:
        with pytest.raises(InvalidInput):
            sentry.ingest_envelope(conn, project_id, body, encoding)
        conn.rollback()
    assert _counts(conn) == (0, 0)
    with pytest.raises(InvalidInput, match="body must be bytes"):
        sentry.ingest_envelope(conn, project_id, good.decode(), None)  # type: ignore[arg-type]


def test_unknown_project_is_not_found_and_writes_nothing(conn: Conn) -> None:
    (envelope,) = capture(explicit_chain)
    with pytest.raises(NotFound, match="project not found"):
        sentry.ingest_envelope(conn, uuid.uuid4(), envelope)
    conn.rollback()
    assert _counts(conn) == (0, 0)


def test_same_crash_at_two_recursion_depths_is_one_issue(conn: Conn, project_id: uuid.UUID) -> None:
    _, shallow = _store(conn, project_id, at_depth(3))
    _, deep = _store(conn, project_id, at_depth(9))
    assert shallow.events[0].issue_id == deep.events[0].issue_id
    assert q.get_issue(conn, deep.events[0].issue_id).event_count == 2


def test_logging_template_groups_across_params(conn: Conn, project_id: uuid.UUID) -> None:
    _, first = _store(conn, project_id, lambda: LOGGER.error("payment %s failed", "A-17"))
    _, second = _store(conn, project_id, lambda: LOGGER.error("payment %s failed", "B-99"))
    assert first.events[0].issue_id == second.events[0].issue_id
    event = q.get_event(conn, project_id, second.events[0].event_id)
    assert event.message == "payment B-99 failed"
    assert event.data["logentry"]["message"] == "payment %s failed"
    assert event.logger == LOGGER.name


def test_fingerprint_lists(conn: Conn, project_id: uuid.UUID) -> None:
    def with_fingerprint(fingerprint: list[str] | None) -> Any:
        def run() -> None:
            with sentry_sdk.new_scope() as scope:
                if fingerprint is not None:
                    scope.fingerprint = fingerprint
                explicit_chain()

        return _store(conn, project_id, run)[1].events[0].issue_id

    default = with_fingerprint(None)
    tenant_42 = with_fingerprint(["{{ default }}", "tenant-42"])
    tenant_43 = with_fingerprint(["{{ default }}", "tenant-43"])
    assert len({default, tenant_42, tenant_43}) == 3
    assert with_fingerprint(["{{ default }}", "tenant-42"]) == tenant_42
    fixed = with_fingerprint(["payments"])
    assert fixed not in {default, tenant_42, tenant_43}


def test_trimmed_not_refused(conn: Conn, project_id: uuid.UUID) -> None:
    def noisy() -> None:
        sentry_sdk.set_tag("attempt", 3)  # type: ignore[arg-type]
        sentry_sdk.set_tag("retried", True)  # type: ignore[arg-type]
        sentry_sdk.set_tag("k" * 40, "too long a key")
        sentry_sdk.set_tag("fine", "ok")
        sentry_sdk.capture_message("é" + "x" * 20_000, level="critical")  # type: ignore[arg-type]

    _, result = _store(conn, project_id, noisy, max_value_length=100_000)
    event = q.get_event(conn, project_id, result.events[0].event_id)
    assert event.level is Severity.FATAL
    assert event.message.startswith("éxxx") and len(event.message) <= 8192
    assert event.tags["attempt"] == "3" and event.tags["retried"] == "true"
    assert event.tags["fine"] == "ok" and "k" * 40 not in event.tags
    assert event.data["_meta"]  # what was cut or dropped is recorded


def test_releases_first_and_last(conn: Conn, project_id: uuid.UUID) -> None:
    _, old = _store(conn, project_id, explicit_chain, release="shop@1.0")
    _, new = _store(conn, project_id, explicit_chain, release="shop@2.0")
    issue = q.get_issue(conn, new.events[0].issue_id)
    assert old.events[0].issue_id == issue.id
    assert (issue.first_release, issue.last_release) == ("shop@1.0", "shop@2.0")


def test_a_resolved_issue_regresses(conn: Conn, project_id: uuid.UUID) -> None:
    _, first = _store(conn, project_id, explicit_chain)
    q.resolve_issue(conn, first.events[0].issue_id)
    conn.commit()
    _, again = _store(conn, project_id, explicit_chain)
    assert again.events[0].regressed and not again.events[0].new_issue


def test_a_thread_crash_is_unhandled(conn: Conn, project_id: uuid.UUID) -> None:
    _, result = _store(conn, project_id, thread_crash)
    event = q.get_event(conn, project_id, result.events[0].event_id)
    assert event.handled is False
    assert event.exception is not None and event.exception.type_name == "PaymentError"


def test_brotli_body(conn: Conn, project_id: uuid.UUID) -> None:
    (envelope,) = capture(lambda: sentry_sdk.capture_message("compressed with br"))
    result = sentry.ingest_envelope(conn, project_id, brotli.compress(envelope), "br")
    assert q.get_event(conn, project_id, result.events[0].event_id).message == "compressed with br"


def test_native_and_sentry_events_live_side_by_side(conn: Conn, project_id: uuid.UUID) -> None:
    from mesher.ingest import ingest_event

    native = ingest_event(conn, project_id, {"message": "native", "level": "info"})
    event = q.get_event(conn, project_id, native.event_id)
    assert (event.client_event_id, event.release, event.exceptions, event.data) == (
        None,
        None,
        [],
        {},
    )
    assert event.fingerprint.startswith("v1:")


def test_ingest_store(conn: Conn, project_id: uuid.UUID) -> None:
    (envelope,) = capture(lambda: sentry_sdk.capture_message("legacy store"))
    ((header, payload),) = items(envelope)
    assert header["type"] == "event"
    stored = sentry.ingest_store(conn, project_id, gzip.compress(payload), "gzip")
    assert isinstance(stored, IngestedEvent)
    event = q.get_event(conn, project_id, stored.event_id)
    assert event.message == "legacy store"
    assert event.client_event_id == uuid.UUID(json.loads(payload)["event_id"])
    for bad in (b"", b"[1, 2]", b"{oops"):
        with pytest.raises(InvalidInput):
            sentry.ingest_store(conn, project_id, bad)
        conn.rollback()


def test_dsn_to_project(conn: Conn, project_id: uuid.UUID) -> None:
    key = q.create_api_key(conn, project_id, "sdk")
    project = q.get_project(conn, project_id)
    headers = {"x-sentry-auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=t/1"}
    auth = sentry.parse_auth(headers)
    assert key not in repr(auth)
    assert q.get_project_by_dsn(conn, str(project.dsn_id), auth.public_key).id == project_id
    assert q.get_project_by_api_key(conn, auth.public_key).id == project_id
    with pytest.raises(InvalidCredentials):
        sentry.parse_auth({"X-Other": "x"})


def test_async_twin(app_url: str, project_id: uuid.UUID) -> None:
    (envelope,) = capture(lambda: sentry_sdk.capture_message("async path"))

    async def main() -> Any:
        async with await psycopg.AsyncConnection.connect(app_url, autocommit=True) as c:
            return await asentry.ingest_envelope(c, project_id, envelope)

    result = asyncio.run(main())
    with psycopg.connect(app_url) as c:
        assert q.get_event(c, project_id, result.events[0].event_id).message == "async path"


def test_capture_message_at_every_level(conn: Conn, project_id: uuid.UUID) -> None:
    levels = {"debug": "debug", "info": "info", "warning": "warning", "error": "error"}
    levels |= {"fatal": "fatal", "critical": "fatal", "log": "info"}
    for sent, stored in levels.items():
        _, result = _store(conn, project_id, lambda s=sent: sentry_sdk.capture_message(s, s))
        assert q.get_event(conn, project_id, result.events[0].event_id).level == stored


def test_an_envelope_mixing_a_retry_and_new_events(conn: Conn, project_id: uuid.UUID) -> None:
    old, first = _store(conn, project_id, explicit_chain)
    (new,) = capture(lambda: sentry_sdk.capture_message("a new one"))
    # The retried event, a new one, and the new one again within the envelope.
    body = combine(old, new, new)
    result = sentry.ingest_envelope(conn, project_id, body)
    conn.commit()
    assert result.skipped == []
    assert result.events[0] == first.events[0]._replace(duplicate=True)  # the first's result
    assert result.events[1] == result.events[2] and result.events[1].new_issue
    assert _counts(conn) == (2, 2)
    assert q.get_issue(conn, first.events[0].issue_id).event_count == 1


# --- issue 28: both paths keep, trim and refuse alike ---------------------------------

BIG = {
    "message": "big " + "m" * 2_000_000,
    "extra": {f"blob{i}": "x" * 300_000 for i in range(5)},
}
STILL_TOO_BIG = {"message": "wide", "extra": {f"k{i}": "x" * 8192 for i in range(200)}}


def _envelope(*payloads: dict[str, Any]) -> bytes:
    lines = [b"{}"]
    for payload in payloads:
        body = json.dumps({"event_id": uuid.uuid4().hex, **payload}).encode()
        lines += [json.dumps({"type": "event", "length": len(body)}).encode(), body]
    return b"\n".join(lines) + b"\n"


def test_an_event_over_1_mib_is_trimmed_and_stored_on_both_paths(
    conn: Conn, project_id: uuid.UUID
) -> None:
    body = _envelope(BIG, STILL_TOO_BIG, {"message": "small"})
    result = sentry.ingest_envelope(conn, project_id, gzip.compress(body), "gzip")
    conn.commit()
    big, small = (q.get_event(conn, project_id, e.event_id) for e in result.events)
    assert big.message.startswith("big mmm") and len(big.message) == 8192
    assert big.data["_meta"]["extra"]["blob0"][""]["len"] == 300_000
    assert small.message == "small"
    ((item_type, reason, code),) = result.skipped
    assert (item_type, code) == ("event", SkipReason.TOO_LARGE) and "once trimmed" in reason
    # /store/: the same event is stored the same way; the one still too big is skipped
    stored = sentry.ingest_store(conn, project_id, json.dumps(BIG).encode())
    assert isinstance(stored, IngestedEvent)
    assert q.get_event(conn, project_id, stored.event_id).message == big.message
    skipped = sentry.ingest_store(conn, project_id, json.dumps(STILL_TOO_BIG).encode())
    assert skipped == SkippedItem("event", reason, SkipReason.TOO_LARGE)
    conn.commit()
    assert _counts(conn) == (3, 2)


def test_a_transaction_on_the_store_path_is_skipped(conn: Conn, project_id: uuid.UUID) -> None:
    def checkout() -> None:
        with sentry_sdk.start_transaction(name="checkout"):
            pass

    ((header, payload),) = [
        (h, p) for e in capture(checkout, traces_sample_rate=1.0) for h, p in items(e)
    ]
    assert header["type"] == "transaction" and json.loads(payload)["type"] == "transaction"
    result = sentry.ingest_store(conn, project_id, payload)
    assert isinstance(result, SkippedItem)
    assert (result.item_type, result.code) == ("event", SkipReason.TRANSACTION)
    # as an event item of an envelope: skipped the same way
    envelope = b'{}\n{"type":"event","length":%d}\n' % len(payload) + payload + b"\n"
    ((item_type, _, code),) = sentry.ingest_envelope(conn, project_id, envelope).skipped
    assert (item_type, code) == ("event", SkipReason.TRANSACTION)
    conn.commit()
    assert _counts(conn) == (0, 0)  # no "<unlabeled event>" issue


def test_ingested_events_carry_the_sdks_event_id(conn: Conn, project_id: uuid.UUID) -> None:
    envelope, first = _store(conn, project_id, explicit_chain)
    (ingested,) = first.events
    assert ingested.client_event_id == _event_id(envelope)
    (again,) = sentry.ingest_envelope(conn, project_id, envelope).events
    assert again.duplicate and again.client_event_id == ingested.client_event_id
    payload = json.dumps({"event_id": "fc6d8c0c43fc4630ad850ee518f1b9d0", "message": "m"})
    stored = sentry.ingest_store(conn, project_id, payload.encode())
    assert isinstance(stored, IngestedEvent)
    assert stored.client_event_id == uuid.UUID("fc6d8c0c43fc4630ad850ee518f1b9d0")


def test_breadcrumb_keys_are_stored_and_read_back(conn: Conn, project_id: uuid.UUID) -> None:
    crumb = {
        "timestamp": 946684800,
        "type": "navigation",
        "category": "route",
        "level": "info",
        "message": "to /cart",
        "data": {"from": "/", "to": "/cart"},
        "event_id": "52df9022835246eeb317dbd739ccd059",
        "origin": "auto.navigation",
    }
    payload = {"message": "m", "breadcrumbs": {"values": [crumb]}}
    stored = sentry.ingest_store(conn, project_id, json.dumps(payload).encode())
    assert isinstance(stored, IngestedEvent)
    (read,) = q.get_event(conn, project_id, stored.event_id).breadcrumbs
    assert read == {**crumb, "timestamp": datetime(2000, 1, 1, tzinfo=UTC), "level": Severity.INFO}
