"""Property-based: every public helper and the write path, driven with
hostile values. Each call ends in a result or a mesher.errors exception that
says what was wrong; a failed call leaves the database as it was.

Then the ingest server over HTTP: every status it answers, and requests that
are slow, truncated, lie about their length, are bombs, or hold too many
items."""

from __future__ import annotations

import datetime as dt
import gzip
import inspect
import json
import os
import socket
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import brotli  # type: ignore[import-untyped]
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesher import ingest
from mesher import queries as q
from mesher.errors import MesherError

from .server_helpers import Running, auth, envelope, running_server

Conn = psycopg.Connection[Any]

NASTY = [
    "'; DROP TABLE users; --", "' OR '1'='1", "%s", "%(id)s", ":id", "$1", "\\", "\x00",
    "a\x00b", "\udc80", "\ud800x", "🔥" * 500, "x" * 100_000, "", " ", "NULL", "null",
    "0" * 64, "mshr_" + "0" * 48, "00000000-0000-0000-0000-000000000000",
]  # fmt: skip
#: Issue searches that parse, and the keys a hostile value is tried under.
SEARCHES = [
    "", "is:unresolved level:[error, fatal] !environment:prod lastSeen:-24h timeout",
    "assigned:ada@example.com !is:resolved times_seen:>1", "env:prod", "!env:[prod, '; --]",
    '"\'; DROP TABLE issues; --"', "100% a_b \\", "firstSeen:>=2026-01-01 times_seen:0",
    "tags[sentry:user]:id:1 release:\"1.0\"", "assigned:[nobody@example.com, " + "0" * 32 + "]",
]  # fmt: skip
SEARCH_KEYS = ["env", "message", "release", "level", "assigned", "is", "tags[a:b]", "!env"]
text = st.one_of(st.sampled_from(NASTY), st.text(max_size=300),
                 st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                                       categories=None), max_size=50))  # fmt: skip
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=30,
)
anything = st.one_of(
    text, st.integers(), st.integers(min_value=2**63), st.floats(), st.none(), st.booleans(),
    st.binary(max_size=40), st.uuids(), st.dates(), st.datetimes(),
    st.datetimes(timezones=st.just(dt.UTC)), st.lists(st.integers(), max_size=3), json_like,
)  # fmt: skip


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"n": value}
    return value


payload = st.one_of(
    json_like,
    st.fixed_dictionaries(
        {"message": text},
        optional={
            "level": st.one_of(st.sampled_from(["error", "fatal", "LOUD"]), anything),
            "fingerprint": text,
            "exception": st.one_of(st.fixed_dictionaries({"type_name": text}), anything),
            "stacktrace": st.lists(st.fixed_dictionaries(
                {"filename": text, "function_name": text}, optional={"lineno": anything}),
                max_size=3) | anything,
            "breadcrumbs": st.lists(st.dictionaries(st.sampled_from(
                ["timestamp", "category", "data", "level"]), anything), max_size=3) | anything,
            "tags": st.dictionaries(text, anything, max_size=40),
            "extra": st.one_of(st.dictionaries(text, json_like, max_size=5),
                               st.just({"deep": _deep(300)}), st.just({"deeper": _deep(3000)})),
            "user_context": st.dictionaries(text, anything, max_size=3),
            "surprise": anything,
        },
    ),
)  # fmt: skip


def _strategy(name: str, ids: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Arguments by parameter name: the valid ones (so that calls reach SQL)
    mixed with anything at all."""
    if name.endswith("_id"):
        valid = st.sampled_from([v for k, v in ids.items() if k == name] or list(ids.values()))
        return st.one_of(valid, valid.map(str), st.uuids(), anything)
    specific: dict[str, st.SearchStrategy[Any]] = {
        "payload": payload,
        "payloads": st.lists(payload, max_size=4) | anything,
        "ingested": st.lists(st.tuples(st.uuids(), st.uuids(), st.booleans(), st.booleans()).map(
            lambda t: ingest.IngestedEvent(*t)), max_size=3) | anything,
        # an API key (get_project_by_api_key) or a tag key (project_tag_values)
        "key": st.one_of(st.just(ids["key"]), st.sampled_from(["env", "%", "_"]), anything),
        "prefix": st.one_of(text, anything),
        "top": st.one_of(st.integers(min_value=-5, max_value=200), anything),
        "issue_ids": st.one_of(
            st.lists(st.one_of(st.just(ids["issue_id"]), st.uuids(), anything), max_size=4),
            anything,
        ),
        "public_key": st.one_of(st.just(ids["key"]), anything),
        "token": st.one_of(st.just(ids["token"]), anything),
        "email": st.one_of(st.just("ada@example.com"), st.emails(), anything),
        "tags": st.dictionaries(text, text, max_size=40) | anything,
        "condition": st.fixed_dictionaries({"condition_type": anything},
                                           optional={"threshold": anything}) | anything,
        "action": st.dictionaries(text, json_like, max_size=3) | anything,
        "bucket": st.sampled_from(["hour", "day", "week"]) | anything,
        "cursor": anything,
        # search_issues: queries that reach SQL, with hostile values, and anything
        "query": st.one_of(
            st.sampled_from(SEARCHES),
            st.builds(lambda k, v: f'{k}:"{v}"', st.sampled_from(SEARCH_KEYS), text),
            st.builds(lambda v: f'"{v}"', text), text, anything,
        ),
        "sort": st.sampled_from(["date", "new", "freq", "priority"]) | anything,
        "now": st.none() | anything,
    }  # fmt: skip
    return specific.get(name, anything)


FUNCTIONS: list[tuple[str, Callable[..., Any]]] = [
    *((name, getattr(q, name)) for name in q.__all__),
    ("ingest_event", ingest.ingest_event),
    ("ingest_events", ingest.ingest_events),
]
SLOW = {"create_user", "authenticate_user"}  # bcrypt: 250 ms per valid call
#: Cases per function; MESHER_HYPOTHESIS_EXAMPLES=1000 MESHER_HYPOTHESIS_RANDOM=1
#: explores further (new random cases each run).
EXAMPLES = int(os.environ.get("MESHER_HYPOTHESIS_EXAMPLES", "60"))
RANDOM = os.environ.get("MESHER_HYPOTHESIS_RANDOM") == "1"


def _counts(conn: Conn) -> tuple[int, ...]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM organizations), (SELECT count(*) FROM projects),"
        " (SELECT count(*) FROM users), (SELECT count(*) FROM api_keys),"
        " (SELECT count(*) FROM sessions), (SELECT count(*) FROM issues),"
        " (SELECT coalesce(sum(event_count), 0) FROM issues), (SELECT count(*) FROM events),"
        " (SELECT count(*) FROM alert_rules), (SELECT count(*) FROM alerts),"
        " (SELECT count(*) FROM org_memberships), (SELECT count(*) FROM ingest_batches),"
        " (SELECT count(*) FROM sentry_event_ids),"
        " (SELECT coalesce(sum(times_seen), 0) FROM issue_tag_values),"
        " (SELECT coalesce(sum(times_seen), 0) FROM project_tag_values),"
        " (SELECT coalesce(sum(event_count), 0) FROM project_hourly_counts),"
        " (SELECT coalesce(sum(event_count), 0) FROM issue_hourly_counts)"
    ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture
def ids(conn: Conn, project_id: uuid.UUID) -> dict[str, Any]:
    org_id = q.get_project(conn, project_id).org_id
    user_id = q.create_user(conn, "ada@example.com", "pw", "Ada")
    done = ingest.ingest_event(conn, project_id, {"message": "boom", "tags": {"env": "prod"}})
    rule = q.create_alert_rule(conn, project_id, "r", {"condition_type": "threshold"}, {})
    (alert,) = q.fire_threshold_rules(conn, project_id)
    key = q.create_api_key(conn, project_id, "k")
    (key_id,) = conn.execute("SELECT id FROM api_keys").fetchone()  # type: ignore[misc]
    values = {
        "org_id": org_id, "project_id": project_id, "user_id": user_id, "issue_id": done.issue_id,
        "event_id": done.event_id, "rule_id": rule.id, "alert_id": alert.id, "key_id": key_id,
        "key": key, "token": q.create_session(conn, user_id),
        "dsn_id": q.get_project(conn, project_id).dsn_id,
    }  # fmt: skip
    conn.commit()
    return values


@pytest.mark.parametrize(("name", "fn"), FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_hostile_arguments(
    conn: Conn, ids: dict[str, Any], name: str, fn: Callable[..., Any]
) -> None:
    signature = inspect.signature(fn).parameters
    params = [p for p in signature if p != "conn"]
    keyword_only = {p for p in params if signature[p].kind is inspect.Parameter.KEYWORD_ONLY}
    before = _counts(conn)
    conn.commit()

    @settings(
        max_examples=EXAMPLES // 3 if name in SLOW else EXAMPLES,
        derandomize=not RANDOM,  # CI runs the same cases every time
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        args = {p: data.draw(_strategy(p, ids), label=p) for p in params}
        positional = [args[p] for p in params if p not in keyword_only]
        with conn.transaction(force_rollback=True):
            try:
                with conn.transaction():
                    fn(conn, *positional, **{p: args[p] for p in keyword_only})
            except MesherError as exc:
                assert str(exc).strip(), "an error must say what was wrong"
                assert _counts(conn) == before, "a refused call wrote something"
        assert _counts(conn) == before

    check()


# --- the ingest server (mesher.server) over HTTP -----------------------------------------
#
# Hand-made requests on raw sockets: every status of the server's table, and
# bodies and heads that are slow, truncated, lying about their length, bombs,
# or too many items. Clocks are moved by short timeouts, never by waiting.


@pytest.fixture
def server_key(conn: Conn, project_id: uuid.UUID) -> str:
    key = q.create_api_key(conn, project_id, "sdk")
    conn.commit()
    return key


@pytest.fixture
def dsn_id(conn: Conn, project_id: uuid.UUID) -> int:
    return q.get_project(conn, project_id).dsn_id


def _stored(conn: Conn) -> list[str]:
    rows = conn.execute("SELECT message FROM events ORDER BY message").fetchall()
    conn.commit()
    return [r[0] for r in rows]


def _head(dsn_id: int, key: str, *headers: str, path: str = "envelope") -> bytes:
    lines = [
        f"POST /api/{dsn_id}/{path}/ HTTP/1.1",
        "Host: x",
        f"X-Sentry-Auth: Sentry sentry_key={key}",
    ]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()


def _connect(running: Running) -> socket.socket:
    return socket.create_connection((running.host, running.port), timeout=10)


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset
    counts as a close); fails if it keeps it open for 10 s."""
    received = b""
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not data:
            return received
        received += data


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closed the connection within ``seconds``, without answering."""
    sock.settimeout(seconds)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_server_every_status(
    app_url: str, conn: Conn, project_id: uuid.UUID, server_key: str, dsn_id: int
) -> None:
    """The issue's table, one case each (and a few ways to get each error)."""
    org_id = q.get_project(conn, project_id).org_id
    limited = q.insert_project(conn, org_id, "Limited", "python")
    limited_key = q.create_api_key(conn, limited)
    q.set_project_rate_limit(conn, limited, 0)
    conn.commit()
    limited_dsn = q.get_project(conn, limited).dsn_id
    path = f"/api/{dsn_id}/envelope/"
    with running_server(app_url, max_body_bytes=10_000, refresh_every=600) as running:
        eid = uuid.uuid4().hex
        status, _, body = running.request("POST", path, envelope("ok", eid), auth(server_key))
        assert (status, json.loads(body)) == (200, {"id": eid})
        refused = [
            (401, path, {}),  # no key
            (401, path, {"X-Sentry-Auth": "Sentry sentry_key"}),  # malformed
            (401, path, {"X-Sentry-Auth": "Basic dXNlcjpwYXNz"}),
            (403, path, auth("mshr_" + "0" * 48)),  # unknown
            (403, f"/api/{limited_dsn}/envelope/", auth(server_key)),  # another project's
            (403, f"/api/{dsn_id + 10_000}/envelope/", auth(server_key)),  # no such project
            (403, f"/api/{2**70}/envelope/", auth(server_key)),  # past a bigint
            (400, path, auth(server_key)),  # the body below is no envelope
        ]
        for expected, where, headers in refused:
            status, answer_headers, answer = running.request("POST", where, b"{not json", headers)
            assert status == expected, (where, headers)
            assert json.loads(answer)["detail"] == answer_headers["x-sentry-error"]
            assert server_key not in answer.decode()
        # 429, with both headers the SDKs back off by.
        status, headers, answer = running.request(
            "POST", f"/api/{limited_dsn}/envelope/", envelope("limited"), auth(limited_key)
        )
        assert status == 429, answer
        retry_after = int(headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert headers["x-sentry-rate-limits"] == (
            f"{retry_after}:error;default:project:project_quota"
        )
        # 413 from the Content-Length alone: not one byte of the body was
        # sent, so the answer did not wait for it; and the server closes the
        # connection after it, so it never reads the body either.
        for length in (10_001, 10**15):
            with _connect(running) as sock:
                sock.sendall(_head(dsn_id, server_key, f"Content-Length: {length}"))
                answer = _answer(sock)
            assert _status(answer) == 413 and b"connection: close" in answer.lower()
        # A chunked body: 413 as soon as it passes the cap, and closed.
        with _connect(running) as sock:
            sock.sendall(_head(dsn_id, server_key, "Transfer-Encoding: chunked"))
            for _ in range(3):
                sock.sendall(b"1000\r\n" + b"x" * 4096 + b"\r\n")
            answer = _answer(sock)
        assert _status(answer) == 413
        # The same size under the cap is read: the cap is what refused it.
        padded = envelope("x" * 9_000)
        assert len(padded) <= 10_000
        assert running.request("POST", path, padded, auth(server_key))[0] == 200
    assert [m[:3] for m in _stored(conn)] == ["ok", "xxx"]


def test_server_slow_bodies(app_url: str, conn: Conn, server_key: str, dsn_id: int) -> None:
    body = envelope("slow but in time")
    with running_server(app_url, body_timeout=1.0) as running:
        # In pieces, within the body's time: stored.
        with _connect(running) as sock:
            sock.sendall(_head(dsn_id, server_key, f"Content-Length: {len(body)}"))
            for i in range(0, len(body), 40):
                sock.sendall(body[i : i + 40])
                time.sleep(0.02)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        # A byte at a time, for longer than the body may take: 408, closed,
        # though bytes kept coming.
        late = envelope("too slow")
        with _connect(running) as sock:
            sock.sendall(_head(dsn_id, server_key, f"Content-Length: {len(late)}"))
            started = time.monotonic()
            sock.settimeout(0.1)
            answer = b""
            for byte in late:
                try:
                    sock.sendall(bytes([byte]))
                    answer = sock.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                break
            answer += _answer(sock)
            elapsed = time.monotonic() - started
        assert _status(answer) == 408 and b"connection: close" in answer.lower()
        assert 1.0 <= elapsed < 5
        # The same, chunked.
        with _connect(running) as sock:
            sock.sendall(_head(dsn_id, server_key, "Transfer-Encoding: chunked"))
            sock.sendall(b"10\r\n" + late[:16] + b"\r\n")  # and no more
            answer = _answer(sock)
        assert _status(answer) == 408
        assert running.request("GET", "/healthz")[0] == 200
    assert _stored(conn) == ["slow but in time"]


def test_server_truncated_bodies(app_url: str, conn: Conn, server_key: str, dsn_id: int) -> None:
    whole = envelope("whole")
    payload_cut = whole[: whole.rindex(b'"level"')]  # the item says it is longer
    cases = [
        (gzip.compress(whole)[:-10], {"Content-Encoding": "gzip"}),
        (zlib.compress(whole)[:-6], {"Content-Encoding": "deflate"}),
        (brotli.compress(whole)[:-3], {"Content-Encoding": "br"}),
        (payload_cut, {}),
        (whole[:-40], {}),
        (b"", {}),
    ]
    with running_server(app_url, body_timeout=1.0) as running:
        path = f"/api/{dsn_id}/envelope/"
        for body, headers in cases:
            status, _, answer = running.request("POST", path, body, {**auth(server_key), **headers})
            assert status == 400, (body[-20:], headers)
            assert json.loads(answer)["detail"]
        # A client that hangs up half-way, chunked or not: nothing stored.
        for head in (
            _head(dsn_id, server_key, f"Content-Length: {len(whole)}"),
            _head(dsn_id, server_key, "Transfer-Encoding: chunked"),
        ):
            with _connect(running) as sock:
                piece = whole[:50]
                chunked = b"chunked" in head
                sock.sendall(head + (b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece))
                sock.shutdown(socket.SHUT_WR)
                _answer(sock)
        assert running.request("POST", path, whole, auth(server_key))[0] == 200
    assert _stored(conn) == ["whole"]


def test_server_decompression_bombs(app_url: str, conn: Conn, server_key: str, dsn_id: int) -> None:
    """120 MiB of zeros, past the 100 MiB cap once decompressed: refused
    (400) in each encoding, and the server serves on."""
    zeros = b"\x00" * (1 << 20)
    gzipper = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    deflater = zlib.compressobj(9)
    packer = brotli.Compressor(quality=1)
    bombs = {
        "gzip": b"".join(gzipper.compress(zeros) for _ in range(120)) + gzipper.flush(),
        "deflate": b"".join(deflater.compress(zeros) for _ in range(120)) + deflater.flush(),
        "br": b"".join(packer.process(zeros) for _ in range(120)) + packer.finish(),
    }
    with running_server(app_url) as running:
        for encoding, bomb in bombs.items():
            assert len(bomb) < 1_000_000, encoding
            headers = {**auth(server_key), "Content-Encoding": encoding}
            status, _, answer = running.request("POST", f"/api/{dsn_id}/envelope/", bomb, headers)
            assert status == 400 and b"decompressed" in answer, encoding
        assert running.request("GET", "/healthz")[0] == 200
    assert _stored(conn) == []


def test_server_wrong_content_length(
    app_url: str, conn: Conn, server_key: str, dsn_id: int
) -> None:
    body = envelope("cut short")
    with running_server(app_url, body_timeout=0.5) as running:
        # Longer than the body: the rest never comes; 408, closed.
        with _connect(running) as sock:
            sock.sendall(_head(dsn_id, server_key, f"Content-Length: {len(body) + 100}") + body)
            answer = _answer(sock)
        assert _status(answer) == 408
        # Shorter than the body: the envelope read is cut short (400), and
        # what follows it is no request (400 from the parser, closed).
        with _connect(running) as sock:
            sock.sendall(_head(dsn_id, server_key, f"Content-Length: {len(body) - 20}") + body)
            answer = _answer(sock)
        assert _status(answer) == 400
        assert answer.count(b"HTTP/1.1 ") <= 2 and b"HTTP/1.1 200" not in answer
        # Not a number, negative, two that disagree, or with chunked (smuggling).
        for headers in (
            ["Content-Length: ten"],
            ["Content-Length: -1"],
            [f"Content-Length: {len(body)}", f"Content-Length: {len(body) + 1}"],
            [f"Content-Length: {len(body)}", "Transfer-Encoding: chunked"],
        ):
            with _connect(running) as sock:
                sock.sendall(_head(dsn_id, server_key, *headers) + body)
                answer = _answer(sock)
            assert _status(answer) == 400, headers
        assert running.request("GET", "/healthz")[0] == 200
    assert _stored(conn) == []


def _items(count: int, item: bytes) -> bytes:
    return b"{}\n" + item * count


def test_server_10000_items(app_url: str, conn: Conn, server_key: str, dsn_id: int) -> None:
    """More than 1,000 items is no envelope the server takes (400), whatever
    they are; 1,000 events (the cap) are stored, in one answer."""

    def event(i: int) -> bytes:
        payload = json.dumps({"message": f"item {i:05}"}).encode()
        return b'{"type":"event","length":%d}\n%s\n' % (len(payload), payload)

    path = f"/api/{dsn_id}/envelope/"
    with running_server(app_url) as running:
        for body in (
            _items(10_000, b'{"type":"session"}\n{}\n'),
            b"{}\n" + b"".join(event(i) for i in range(10_000)),
            b"{}\n" + b"".join(event(i) for i in range(1_001)),
        ):
            status, _, answer = running.request("POST", path, gzip.compress(body), {
                **auth(server_key), "Content-Encoding": "gzip"})  # fmt: skip
            assert status == 400, answer
        assert _stored(conn) == []
        body = b"{}\n" + b"".join(event(i) for i in range(1_000))
        status, _, answer = running.request("POST", path, body, auth(server_key))
        assert status == 200, answer
    assert _stored(conn) == [f"item {i:05}" for i in range(1_000)]


def test_server_slow_heads_are_cut(app_url: str, conn: Conn, server_key: str, dsn_id: int) -> None:
    """A request's line and headers must come within header_timeout (here
    1 s) of the connection or of the previous answer, or the connection is
    closed: nothing sent, a byte at a time (which uvicorn's keep-alive
    timeout alone allows forever), or after a first request; a head over
    the size cap is refused. An honest head in pieces, and a body slower
    than the head's deadline (it has its own), still work."""
    body = envelope("honest")
    with running_server(app_url, header_timeout=1.0, body_timeout=5.0) as running:
        with _connect(running) as sock:  # nothing at all
            assert _closed_within(sock, 5)
        with _connect(running) as sock:  # a byte at a time
            started = time.monotonic()
            closed = False
            for byte in _head(dsn_id, server_key) * 10:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                if _closed_within(sock, 0.05):
                    closed = True
                    break
            assert closed and time.monotonic() - started < 5
        with _connect(running) as sock:  # a first request, then a slow one
            first = envelope("first")
            sock.sendall(_head(dsn_id, server_key, f"Content-Length: {len(first)}") + first)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
            sock.sendall(b"POST /api/")
            assert _closed_within(sock, 5)
        with _connect(running) as sock:  # a huge head
            sock.sendall(_head(dsn_id, server_key, "X-Big: " + "a" * 70_000))
            assert _status(_answer(sock)) == 400
        with _connect(running) as sock:  # an honest head in pieces
            head = _head(dsn_id, server_key, f"Content-Length: {len(body)}")
            for i in range(0, len(head), len(head) // 3):
                sock.sendall(head[i : i + len(head) // 3])
                time.sleep(0.05)
            sock.sendall(body[:10])
            time.sleep(1.3)  # past the head's deadline: the body has its own
            sock.sendall(body[10:])
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
    assert _stored(conn) == ["first", "honest"]
