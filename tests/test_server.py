"""mesher.server over HTTP: the real sentry_sdk through its own transport,
and hand-made requests for every status and hostile input."""

from __future__ import annotations

import datetime as dt
import gzip
import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sentry_sdk

from mesher import queries as q
from mesher.embedded import free_port

from .sentry_envelopes import explicit_chain, implicit_chain
from .server_helpers import Running, auth, envelope, running_server

Conn = psycopg.Connection[Any]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def key(conn: Conn, project_id: uuid.UUID) -> str:
    value = q.create_api_key(conn, project_id, "sdk")
    conn.commit()
    return value


@pytest.fixture
def dsn_id(conn: Conn, project_id: uuid.UUID) -> int:
    return q.get_project(conn, project_id).dsn_id


@pytest.fixture
def running(app_url: str) -> Iterator[Running]:
    with running_server(app_url) as server:
        yield server


def messages(conn: Conn) -> list[str]:
    rows = conn.execute("SELECT message FROM events ORDER BY message").fetchall()
    conn.commit()
    return [r[0] for r in rows]


class sdk_client:  # noqa: N801 - used as a context manager, like a function
    """sentry_sdk, initialized with its real HTTP transport; flushed and closed on exit."""

    def __init__(self, dsn: str, **options: Any) -> None:
        self.dsn, self.options = dsn, options

    def __enter__(self) -> None:
        # No auto-enabled integrations: the SDK would instrument the server
        # itself (Starlette, in this process) and send its own traces to it.
        options = {"auto_enabling_integrations": False, **self.options}
        sentry_sdk.init(dsn=self.dsn, release="shop@1.2.3", **options)
        self.isolation = sentry_sdk.isolation_scope()
        self.isolation.__enter__().clear()

    def __exit__(self, *exc: object) -> None:
        self.isolation.__exit__(None, None, None)
        sentry_sdk.flush(timeout=30)
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)


# --- the real SDK ------------------------------------------------------------------------


def test_sdk_exception_chains_and_messages(
    running: Running, conn: Conn, project_id: uuid.UUID, key: str, dsn_id: int
) -> None:
    with sdk_client(running.dsn(key, dsn_id)):
        explicit_chain()
        implicit_chain()
        message_id = sentry_sdk.capture_message("disk almost full", level="warning")
        logging.getLogger("tests.server_app").error("payment gateway timed out")
    rows = conn.execute(
        "SELECT client_event_id, message, level, exceptions FROM events ORDER BY received_at"
    ).fetchall()
    conn.commit()
    assert len(rows) == 4
    chains = [[e["type"] for e in r[3]] for r in rows if r[3]]
    assert chains == [["KeyError", "PaymentError"], ["ValueError", "AttributeError"]]
    by_message = {r[1]: r for r in rows}
    assert by_message["disk almost full"][0] == uuid.UUID(message_id)
    assert by_message["disk almost full"][2] == "warning"
    assert by_message["payment gateway timed out"][2] == "error"  # the logging integration


def test_sdk_transactions_sessions_and_attachments_are_skipped(
    app_url: str, conn: Conn, project_id: uuid.UUID, key: str, dsn_id: int
) -> None:
    """Not stored, but counted in the outcomes (written at shutdown)."""
    with running_server(app_url) as running:
        dsn = running.dsn(key, dsn_id)
        with sdk_client(dsn, traces_sample_rate=1.0):
            with sentry_sdk.start_transaction(name="checkout"), sentry_sdk.start_span(op="db"):
                pass
            scope = sentry_sdk.get_isolation_scope()
            scope.start_session()
            scope.add_attachment(bytes=b"log line", filename="app.log")
            sentry_sdk.capture_message("inside a session, with an attachment")
            scope.end_session()
    assert messages(conn) == ["inside a session, with an attachment"]
    counts = _outcomes(conn, project_id)
    assert counts[("error", "accepted", "")] == 1
    for category in ("transaction", "session", "attachment"):
        assert counts[(category, "filtered", "item_type")] >= 1, counts


@pytest.mark.parametrize(
    "experiments",
    [
        {"transport_compression_level": 0},  # identity
        {"transport_compression_algo": "gzip"},
        {"transport_compression_algo": "br"},
    ],
    ids=["identity", "gzip", "br"],
)
def test_sdk_compression_on_and_off(
    running: Running, conn: Conn, key: str, dsn_id: int, experiments: dict[str, Any]
) -> None:
    with sdk_client(running.dsn(key, dsn_id), _experiments=experiments):
        sentry_sdk.capture_message("compressed or not")
    assert messages(conn) == ["compressed or not"]


# --- hand-made requests -----------------------------------------------------------


def test_accepted_answers_the_event_id(running: Running, conn: Conn, key: str, dsn_id: int) -> None:
    eid = uuid.uuid4().hex
    status, headers, body = running.request(
        "POST", f"/api/{dsn_id}/envelope/", envelope("hello", eid), auth(key)
    )
    assert (status, json.loads(body)) == (200, {"id": eid})
    assert headers["access-control-allow-origin"] == "*"
    assert messages(conn) == ["hello"]


def test_a_retried_envelope_is_stored_once(
    running: Running, conn: Conn, key: str, dsn_id: int
) -> None:
    body = gzip.compress(envelope("again"))
    headers = {**auth(key), "Content-Encoding": "gzip"}
    answers = [running.request("POST", f"/api/{dsn_id}/envelope/", body, headers) for _ in range(3)]
    assert {(status, body) for status, _, body in answers} == {(200, answers[0][2])}
    assert messages(conn) == ["again"]


def test_the_key_in_the_query_string(running: Running, conn: Conn, key: str, dsn_id: int) -> None:
    status, _, _ = running.request(
        "POST", f"/api/{dsn_id}/envelope/?sentry_key={key}&sentry_version=7", envelope("q")
    )
    assert status == 200
    assert messages(conn) == ["q"]


def test_the_store_endpoint(running: Running, conn: Conn, key: str, dsn_id: int) -> None:
    eid = uuid.uuid4().hex
    body = json.dumps({"event_id": eid, "message": "legacy", "level": "info"}).encode()
    status, _, answer = running.request("POST", f"/api/{dsn_id}/store/", body, auth(key))
    assert (status, json.loads(answer)) == (200, {"id": eid})
    assert messages(conn) == ["legacy"]


def test_a_chunked_body(running: Running, conn: Conn, key: str, dsn_id: int) -> None:
    data = gzip.compress(envelope("in chunks"))
    conn_ = socket.create_connection((running.host, running.port), timeout=30)
    with conn_:
        head = (
            f"POST /api/{dsn_id}/envelope/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Encoding: gzip\r\nX-Sentry-Auth: Sentry sentry_key={key}\r\n\r\n"
        )
        conn_.sendall(head.encode())
        for i in range(0, len(data), 50):
            piece = data[i : i + 50]
            conn_.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn_.sendall(b"0\r\n\r\n")
        assert conn_.recv(4096).startswith(b"HTTP/1.1 200 ")
    assert messages(conn) == ["in chunks"]


def test_authentication_statuses(
    running: Running, conn: Conn, project_id: uuid.UUID, key: str, dsn_id: int
) -> None:
    other = q.insert_project(conn, q.get_project(conn, project_id).org_id, "Web", "javascript")
    other_key = q.create_api_key(conn, other)
    conn.commit()
    path = f"/api/{dsn_id}/envelope/"
    body = envelope("never stored")
    cases = [
        ({}, 401),  # no key at all
        ({"X-Sentry-Auth": "Sentry sentry_key"}, 401),  # malformed
        (auth("mshr_" + "0" * 48), 403),  # unknown
        (auth(other_key), 403),  # another project's
    ]
    for headers, expected in cases:
        status, answer_headers, answer = running.request("POST", path, body, headers)
        assert status == expected, headers
        assert json.loads(answer)["detail"] == answer_headers["x-sentry-error"]
        assert key not in answer.decode() and other_key not in answer.decode()
    assert running.request("POST", f"/api/{dsn_id + 1000}/envelope/", body, auth(key))[0] == 403
    assert running.request("POST", f"/api/{2**70}/envelope/", body, auth(key))[0] == 403
    assert messages(conn) == []


def test_cors(running: Running, key: str, dsn_id: int) -> None:
    status, headers, _ = running.request(
        "OPTIONS",
        f"/api/{dsn_id}/envelope/",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-sentry-auth",
        },
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    assert "POST" in headers["access-control-allow-methods"]
    assert "x-sentry-auth" in headers["access-control-allow-headers"].lower()
    status, headers, _ = running.request("POST", f"/api/{dsn_id}/envelope/", b"junk", auth(key))
    assert status == 400 and headers["access-control-allow-origin"] == "*"
    assert "x-sentry-error" in headers["access-control-expose-headers"].lower()


def test_healthz(running: Running) -> None:
    status, _, body = running.request("GET", "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_healthz_when_the_database_is_gone() -> None:
    gone = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    with running_server(gone, db_timeout=1.0) as running:
        status, _, body = running.request("GET", "/healthz")
    assert (status, json.loads(body)) == (503, {"status": "unavailable"})


def test_connections_have_nagle_off(running: Running) -> None:
    sock = socket.create_connection((running.host, running.port), timeout=30)
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        (protocol,) = running.server.server_state.connections
        server_side = protocol.transport.get_extra_info("socket")  # type: ignore[attr-defined]
        assert server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_keys_never_reach_the_logs(
    app_url: str, key: str, dsn_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Not when it works, and not when the database is gone (503, logged);
    nor in the application's reprs."""
    paths = (f"/api/{dsn_id}/envelope/?sentry_key={key}", f"/api/{dsn_id}/envelope/")
    with caplog.at_level(logging.DEBUG):
        with running_server(app_url) as running:
            for path in paths:
                assert running.request("POST", path, b"junk", auth(key))[0] == 400
                assert running.request("POST", path, envelope("x"), auth(key + "x"))[0] == 403
            state = running.server.config.app.state.mesher  # holds the key, cached
            assert key not in repr(state) and key not in repr(running.server.config.app)
        gone = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
        with running_server(gone, db_timeout=1.0) as running:
            for path in paths:
                status, headers, body = running.request("POST", path, envelope("x"), auth(key))
                assert status == 503 and key not in body.decode() and key not in str(headers)
    assert any("request failed" in r.getMessage() for r in caplog.records)
    assert key not in caplog.text


# --- the command -------------------------------------------------------------------


def _start(app_url: str, port: int, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "mesher.server", "--database-url", app_url]
    process = subprocess.Popen(
        [*command, "--port", str(port), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the server did not start: {process.communicate()[0]}")


def _read_by_server(server_port: int, client_port: int) -> bool:
    """Whether the server's end of this loopback connection has read all
    that the client sent (its receive queue, from /proc/net/tcp, is empty)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, queues = fields[1], fields[2], fields[4]
        if int(local.split(":")[1], 16) == server_port and (
            int(remote.split(":")[1], 16) == client_port
        ):
            return int(queues.split(":")[1], 16) == 0
    return False


def test_sigterm_commits_what_is_pending_and_exits_0(
    app_url: str, conn: Conn, key: str, dsn_id: int
) -> None:
    port = free_port()
    process = _start(app_url, port, "--max-wait-ms", "10000")
    body = envelope("pending")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST /api/{dsn_id}/envelope/ HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Sentry-Auth: Sentry sentry_key={key}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 30
        while not _read_by_server(port, sock.getsockname()[1]):  # then it waits in its batch
            assert time.monotonic() < deadline, "the server never read the request"
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        answer = sock.recv(4096)
        answered = time.monotonic() - signalled
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert answered < 5  # committed at once, not after the batch's 10 s
    assert messages(conn) == ["pending"]
    assert key not in output
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_the_command_refuses_bad_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mesher.server", "--max-events", "0"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "--max-events" in result.stderr
    from mesher.server import _parse_args

    assert _parse_args(["--header-timeout", "0.5", "--body-timeout", "2"]).header_timeout == 0.5
    for option in ("--header-timeout", "--body-timeout"):
        for value in ("0", "-1", "3601"):
            with pytest.raises(SystemExit):
                _parse_args([option, value])


def test_the_demo_project(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """What ./dev serve prints on an empty database, and --issues after one event."""
    from mesher.server import demo_dsn, print_demo_issues

    print_demo_issues(db_url)
    assert capsys.readouterr().out == "no demo project in this database\n"
    dsn = demo_dsn(db_url, "127.0.0.1", 8000)
    assert dsn.startswith("http://mshr_") and dsn.endswith("@127.0.0.1:8000/1")
    assert demo_dsn(db_url, "127.0.0.1", 8000) == dsn  # made once
    with running_server(db_url) as running:
        key, rest = dsn.removeprefix("http://").split("@")
        status, _, _ = running.request(
            "POST", f"/api/{rest.rsplit('/')[-1]}/envelope/", envelope("demo event"), auth(key)
        )
        assert status == 200
    print_demo_issues(db_url)
    out = capsys.readouterr().out
    assert "1 issue(s) of project 'Demo'" in out and "demo event" in out


def test_sigkill_under_load_loses_no_acknowledged_event(
    app_url: str, conn: Conn, key: str, dsn_id: int
) -> None:
    """Every id answered 200 is stored exactly once, and retries of those
    that got no answer (as an SDK retries) add no duplicates."""
    port = free_port()
    process = _start(app_url, port, "--max-wait-ms", "20")
    running = Running(None, "127.0.0.1", port)  # type: ignore[arg-type]
    path = f"/api/{dsn_id}/envelope/"
    acknowledged: list[str] = []
    unanswered: list[str] = []
    stop = threading.Event()

    def client(n: int) -> None:
        while not stop.is_set():
            eid = uuid.uuid4().hex
            try:
                status, _, _ = running.request("POST", path, envelope(f"load {n}", eid), auth(key))
            except (OSError, http.client.HTTPException):
                unanswered.append(eid)
                return
            (acknowledged if status == 200 else unanswered).append(eid)

    clients = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for thread in clients:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()  # SIGKILL: no shutdown at all
    process.communicate(timeout=30)
    stop.set()
    for thread in clients:
        thread.join(30)
    assert len(acknowledged) >= 60
    process = _start(app_url, port)
    try:
        for eid in unanswered + acknowledged[:5]:  # the SDK's retries
            status, _, _ = running.request("POST", path, envelope("retry", eid), auth(key))
            assert status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    rows = conn.execute("SELECT client_event_id, count(*) FROM events GROUP BY 1").fetchall()
    conn.commit()
    counts = {r[0].hex: r[1] for r in rows}
    assert all(counts.get(eid) == 1 for eid in acknowledged)
    assert set(counts.values()) == {1}
    assert set(counts) == set(acknowledged) | set(unanswered)


def _outcomes(conn: Conn, project_id: uuid.UUID) -> dict[tuple[str, str, str], int]:
    """A project's outcome counts of the last two hours, hours summed."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    counts: dict[tuple[str, str, str], int] = {}
    for o in q.project_outcomes(conn, project_id, since):
        key = (o.category, o.outcome, o.reason)
        counts[key] = counts.get(key, 0) + o.quantity
    conn.commit()
    return counts


def test_the_rate_limit_and_its_outcomes(
    app_url: str, conn: Conn, project_id: uuid.UUID, key: str, dsn_id: int
) -> None:
    q.set_project_rate_limit(conn, project_id, 60)
    conn.commit()
    report = json.dumps(
        {"discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 277}]}
    ).encode()
    report_envelope = (
        (b"{}\n" + json.dumps({"type": "client_report", "length": len(report)}).encode())
        + b"\n"
        + report
        + b"\n"
    )
    answers: list[tuple[int, dict[str, str]]] = []
    with running_server(app_url, refresh_every=600) as running:

        def client(n: int) -> None:
            for i in range(25):
                status, headers, _ = running.request(
                    "POST", f"/api/{dsn_id}/envelope/", envelope(f"e{n}-{i}"), auth(key)
                )
                answers.append((status, headers))

        clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(60)
        # Over the limit, a client report (no event) is still read.
        status, _, _ = running.request(
            "POST", f"/api/{dsn_id}/envelope/", report_envelope, auth(key)
        )
        assert status == 200
    statuses = [status for status, _ in answers]
    assert len(statuses) == 200 and set(statuses) == {200, 429}
    assert statuses.count(200) == 60  # each envelope holds one event: exactly the limit
    for status, headers in answers:
        if status == 429:
            retry_after = int(headers["retry-after"])
            assert 1 <= retry_after <= 60
            assert headers["x-sentry-rate-limits"].startswith(f"{retry_after}:error;default:")
    assert len(messages(conn)) == 60
    assert _outcomes(conn, project_id) == {
        ("error", "accepted", ""): 60,
        ("error", "rate_limited", "project_quota"): 140,
        ("error", "client_discard", "queue_overflow"): 277,
    }


def test_the_sdk_backs_off_when_rate_limited(
    app_url: str, conn: Conn, project_id: uuid.UUID, key: str, dsn_id: int
) -> None:
    q.set_project_rate_limit(conn, project_id, 0)
    conn.commit()
    with running_server(app_url, refresh_every=600) as running:
        dsn = running.dsn(key, dsn_id)
        with sdk_client(dsn):
            sentry_sdk.capture_message("first")
            sentry_sdk.flush(timeout=30)  # answered 429
            for i in range(3):
                sentry_sdk.capture_message(f"dropped by the SDK {i}")
    assert messages(conn) == []
    counts = _outcomes(conn, project_id)
    assert counts[("error", "rate_limited", "project_quota")] == 1  # the SDK sent no more
    assert counts[("error", "client_discard", "ratelimit_backoff")] == 3  # and said so
