"""A running ``mesher.server`` for tests: uvicorn in a thread of the test
process, on a free loopback port, over the test's database."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mesher.embedded import free_port
from mesher.server import Server, create_app, server_config


def envelope(message: str, event_id: str | None = None) -> bytes:
    """An envelope of one event with this message."""
    eid = event_id or uuid.uuid4().hex
    payload = json.dumps({"event_id": eid, "message": message, "level": "error"}).encode()
    item = json.dumps({"type": "event", "length": len(payload)}).encode()
    return b"\n".join([json.dumps({"event_id": eid}).encode(), item, payload]) + b"\n"


def auth(key: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key}, sentry_client=test/1"}


@dataclass(frozen=True)
class Running:
    server: Server
    host: str
    port: int

    def dsn(self, key: str, dsn_id: int) -> str:
        return f"http://{key}@{self.host}:{self.port}/{dsn_id}"

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a connection of its own: (status, headers, body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body, headers or {})
            response = conn.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()


@contextmanager
def running_server(
    database_url: str, header_timeout: float = 10.0, **options: Any
) -> Iterator[Running]:
    """The server, started and listening (configured as ``python -m
    mesher.server`` configures it); stopped (as by SIGTERM) on exit.
    ``options`` go to ``create_app``."""
    port = free_port()
    app = create_app(database_url, **{"max_wait": 0.002, **options})
    config = server_config(app, port=port, header_timeout=header_timeout, log_level="warning")
    server = Server(config)
    thread = threading.Thread(target=server.run, daemon=True)  # no signal handlers in a thread
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield Running(server, "127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(30)
