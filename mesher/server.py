"""Mesher's ingest server: point any Sentry SDK at it by its DSN.

A thin ASGI application (Starlette, served by uvicorn) over the library; it
only authenticates, caps and reads bodies, and hands envelopes to an
:class:`~mesher.aio.writer.EnvelopeWriter`, which stores the events of
concurrent requests in shared transactions and answers each request after
its commit. Install it with ``pip install 'mesher[server]'``; run it with::

    python -m mesher.server [--database-url URL] [--host 127.0.0.1] [--port 8000]

The URL comes from ``--database-url``, else ``$DATABASE_URL``, else the
embedded PostgreSQL 18 (``mesher.embedded``), which is migrated first and
gets a demo project on an empty database; its DSN is printed. A given
database is not migrated: run ``python -m mesher.migrate`` first.

Routes, as Sentry serves them:

- ``POST /api/<dsn_id>/envelope/`` and ``POST /api/<dsn_id>/store/``: the key
  from ``X-Sentry-Auth`` (or ``Authorization: Sentry ...``) or the
  ``sentry_key`` query parameter; bodies gzip, deflate, br or identity,
  chunked or not. ``OPTIONS`` answers CORS preflights, and every answer
  carries CORS headers, so browser SDKs work.
- ``GET /healthz``: 200 when the database answers, else 503.

Replies: 200 ``{"id": "<32 hex>"}`` (the SDK's id of the stored event; ``{}``
when the envelope held none to store), 401 no usable key, 403 a key that is
unknown, revoked or another project's, 400 a body that is not an envelope
(or event), 413 a body over ``MAX_COMPRESSED_BYTES`` (refused from its
Content-Length before it is read, or as soon as a chunked body passes the
cap; the connection is then closed, so the body is never read), 408 a body
not received within ``body_timeout`` (closed too), 429 over the
project's rate limit (with ``Retry-After`` and ``X-Sentry-Rate-Limits``, so
the SDK backs off), 503 the database failed. An error's reason is in the
JSON ``detail`` and the ``X-Sentry-Error`` header.

Rate limits (``queries.set_project_rate_limit``: events per minute) are
read at start and every ``refresh_every`` seconds, never per request; a
project's window starts with its first event and lasts a minute, and an
envelope whose events would pass the limit is refused whole, so stored
events never exceed it. Client reports and items that are not stored are
read even then. Outcomes (``mesher.outcomes``: accepted, filtered,
rate_limited, invalid, and the SDKs' client reports) are counted in memory
and written at the same times and at shutdown, one statement per project
(``queries.project_outcomes`` reads them); a server killed with SIGKILL
loses the counts of its last seconds, never an acknowledged event. Limits
and windows are per server process.

A key's project is looked up once per ``auth_ttl`` seconds (a revoked key
works for at most that long). SIGTERM (or Ctrl-C) stops accepting
connections, finishes the requests in flight, commits what is pending, and
exits 0. Keys never reach the logs: uvicorn's access log (which prints the
query string) is off, and no message repeats a key or a password.
asyncio and uvloop set TCP_NODELAY on every connection they accept.

Slow clients hold nothing for long: a request's line and headers must all
arrive within ``--header-timeout`` seconds (10) of the connection or of the
previous answer, else the connection is closed (uvicorn alone would keep a
connection that sends nothing, or a byte at a time, forever); a head over
``MAX_HEAD_BYTES`` is refused (400); the body then has ``--body-timeout``
seconds (30), else 408. Idle keep-alive connections close after 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

from ._sentry_envelope import MAX_COMPRESSED_BYTES
from .errors import InvalidCredentials, InvalidInput, MesherError, NotFound, translate
from .models import EnvelopeResult, IngestedEvent
from .outcomes import OutcomeCounter

try:
    import uvicorn
    from psycopg_pool import AsyncConnectionPool
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"mesher.server needs the 'server' extra: pip install 'mesher[server]' ({exc})"
    ) from None

from .aio import queries as aq
from .aio.sentry import parse_auth
from .aio.writer import EnvelopeWriter, RateLimited

__all__ = ["MAX_HEAD_BYTES", "Server", "create_app", "main", "server_config"]

log = logging.getLogger("mesher.server")

#: The largest dsn_id (a bigint); a bigger one names no project.
_MAX_DSN_ID = 2**63 - 1
#: Cached key lookups kept at most; the cache is emptied when full.
_MAX_CACHED_KEYS = 10_000
#: A rate limit's window, in seconds: limits are events per minute.
_WINDOW = 60.0

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After",
}
_PREFLIGHT = {
    **_CORS,
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": (
        "X-Sentry-Auth, X-Requested-With, Origin, Accept, Content-Type, Content-Encoding,"
        " Authentication, Authorization, sentry-trace, baggage"
    ),
    "Access-Control-Max-Age": "3600",
}


class _Refused(Exception):
    """A request answered with an error status; ``unread``: before its whole
    body was read (the connection is closed after the answer)."""

    def __init__(self, status: int, detail: str, unread: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.unread = unread


def _error(status: int, detail: str, close: bool = False) -> Response:
    """The error's answer; ``close`` ends the connection after it (the body
    was not read, or not all of it: what is left of it is no request)."""
    # Header values are latin-1: keep the reason ASCII there.
    header = detail.encode("ascii", "backslashreplace").decode("ascii")[:200]
    headers = {**_CORS, "X-Sentry-Error": header}
    if close:
        headers["Connection"] = "close"
    return JSONResponse({"detail": detail}, status, headers=headers)


@dataclass
class _State:
    """What the application holds while it runs."""

    pool: AsyncConnectionPool
    writer: EnvelopeWriter
    outcomes: OutcomeCounter
    auth_ttl: float
    max_body_bytes: int
    body_timeout: float
    #: (dsn_id, key) -> (project id or None, when the answer expires).
    keys: dict[tuple[int, str], tuple[UUID | None, float]] = field(
        default_factory=dict,
        repr=False,  # keys are credentials
    )
    #: Events per minute of the limited projects (refreshed every few seconds).
    limits: dict[UUID, int] = field(default_factory=dict)
    #: A limited project's current window: [its start (monotonic), events in it].
    windows: dict[UUID, list[float]] = field(default_factory=dict)

    def _window(self, project_id: UUID) -> list[float]:
        now = time.monotonic()
        window = self.windows.get(project_id)
        if window is None or now - window[0] >= _WINDOW:
            window = self.windows[project_id] = [now, 0]
        return window

    def admit(self, project_id: UUID, events: int) -> bool:
        """Whether the project may store this many events now (then they count)."""
        limit = self.limits.get(project_id)
        if limit is None:
            return True
        window = self._window(project_id)
        if window[1] + events > limit:
            return False
        window[1] += events
        return True

    def retry_after(self, project_id: UUID) -> int:
        """Seconds until the project's window ends (at least 1)."""
        window = self._window(project_id)
        return max(1, math.ceil(_WINDOW - (time.monotonic() - window[0])))

    def settle(self, project_id: UUID, admitted: int, stored: int) -> None:
        """Count the events a request stored instead of those it was admitted for."""
        window = self.windows.get(project_id)
        if window is not None and admitted != stored:
            window[1] = max(0, window[1] + stored - admitted)

    async def refresh(self) -> None:
        """Reload the limits and write the outcomes counted so far; a failure
        keeps the old limits and the counts (tried again next time)."""
        counts = self.outcomes.take()
        unwritten = dict(counts)
        try:
            async with self.pool.connection() as conn:
                self.limits = await aq.list_project_rate_limits(conn)
                for project_id, keys in counts.items():
                    with contextlib.suppress(NotFound):  # a project gone, with its outcomes
                        await aq.record_outcomes(conn, project_id, keys)
                    del unwritten[project_id]
        except Exception as exc:
            log.warning("could not refresh the rate limits or write outcomes: %s", translate(exc))
        finally:  # cancelled at shutdown too: the final refresh writes them
            self.outcomes.restore(unwritten)

    async def project(self, dsn_id: int, key: str) -> UUID | None:
        """The project of a DSN whose key is live, or None; cached."""
        now = time.monotonic()
        cached = self.keys.get((dsn_id, key))
        if cached is not None and cached[1] > now:
            return cached[0]
        project_id: UUID | None = None
        if dsn_id <= _MAX_DSN_ID:
            async with self.pool.connection() as conn:
                try:
                    project_id = (await aq.get_project_by_dsn(conn, dsn_id, key)).id
                except NotFound:
                    project_id = None
        if len(self.keys) >= _MAX_CACHED_KEYS:
            self.keys.clear()
        self.keys[(dsn_id, key)] = (project_id, now + self.auth_ttl)
        return project_id


async def _read_body(request: Request, state: _State) -> bytes:
    """The body as sent, refused (413) as soon as it is known to be too big:
    from its Content-Length before any of it is read, else while it streams."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise _Refused(400, "malformed Content-Length", unread=True)
        if int(length) > state.max_body_bytes:
            raise _Refused(413, f"body is over {state.max_body_bytes} bytes", unread=True)
    chunks: list[bytes] = []
    total = 0
    try:
        async with asyncio.timeout(state.body_timeout):
            async for chunk in request.stream():
                total += len(chunk)
                if total > state.max_body_bytes:
                    raise _Refused(413, f"body is over {state.max_body_bytes} bytes", unread=True)
                chunks.append(chunk)
    except TimeoutError:
        detail = f"body not received within {state.body_timeout:g} s"
        raise _Refused(408, detail, unread=True) from None
    return b"".join(chunks)


def _rate_limited(retry_after: int) -> Response:
    detail = "the project's rate limit is reached"
    return JSONResponse(
        {"detail": detail},
        429,
        headers={
            **_CORS,
            "Retry-After": str(retry_after),
            "X-Sentry-Rate-Limits": f"{retry_after}:error;default:project:project_quota",
            "X-Sentry-Error": detail,
        },
    )


def _new_events(result: EnvelopeResult | IngestedEvent | Any) -> list[IngestedEvent]:
    """The events a request stored (not retries of earlier ones)."""
    events = result.events if isinstance(result, EnvelopeResult) else [result]
    return [e for e in events if isinstance(e, IngestedEvent) and not e.duplicate]


def _event_id(result: EnvelopeResult | IngestedEvent | Any) -> dict[str, str]:
    events = result.events if isinstance(result, EnvelopeResult) else [result]
    for event in events:
        if isinstance(event, IngestedEvent) and event.client_event_id is not None:
            return {"id": event.client_event_id.hex}
    return {}


async def _ingest(request: Request, store: bool) -> Response:
    state: _State = request.app.state.mesher
    try:
        try:
            query = request.scope.get("query_string", b"").decode("latin-1")
            auth = parse_auth(request.headers.items(), query)
        except (InvalidCredentials, InvalidInput) as exc:
            raise _Refused(401, str(exc)) from None
        project_id = await state.project(request.path_params["dsn_id"], auth.public_key)
        if project_id is None:
            raise _Refused(403, "unknown key, or not this project's")
        body = await _read_body(request, state)
        encoding = request.headers.get("content-encoding")
        admitted = stored = 0

        def admit(events: int) -> bool:
            nonlocal admitted
            if state.admit(project_id, events):
                admitted = events
                return True
            return False

        try:
            ingest = state.writer.ingest_store if store else state.writer.ingest_envelope
            result = await ingest(project_id, body, encoding, admit=admit)
            stored = len(_new_events(result))
        except RateLimited:
            return _rate_limited(state.retry_after(project_id))
        finally:
            state.settle(project_id, admitted, stored)
    except _Refused as exc:
        return _error(exc.status, exc.detail, close=exc.unread)
    except InvalidInput as exc:
        return _error(400, str(exc))
    except NotFound:
        return _error(403, "unknown project")  # deleted since its key was looked up
    except (MesherError, psycopg.Error) as exc:
        log.warning("request failed: %s", translate(exc))
        return _error(503, "the database failed; retry later")
    except ClientDisconnect:
        return Response(status_code=400)  # nobody reads it
    return JSONResponse(_event_id(result), headers=_CORS)


async def _envelope(request: Request) -> Response:
    return await _ingest(request, store=False)


async def _store(request: Request) -> Response:
    return await _ingest(request, store=True)


async def _preflight(request: Request) -> Response:
    return Response(status_code=200, headers=_PREFLIGHT)


async def _healthz(request: Request) -> Response:
    state: _State = request.app.state.mesher
    try:
        async with state.pool.connection() as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        log.warning("health check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable"}, 503)
    return JSONResponse({"status": "ok"})


def create_app(
    database_url: str,
    *,
    max_events: int = 200,
    max_wait: float = 0.005,
    pool_size: int = 4,
    auth_ttl: float = 10.0,
    max_body_bytes: int = MAX_COMPRESSED_BYTES,
    body_timeout: float = 30.0,
    db_timeout: float = 10.0,
    refresh_every: float = 5.0,
) -> Starlette:
    """The ASGI application over the database at ``database_url`` (already
    migrated). ``max_events`` and ``max_wait`` (seconds) are the writer's;
    ``pool_size`` connections serve the batches and the key lookups; a
    request waits ``db_timeout`` seconds at most for one (then 503). Every
    ``refresh_every`` seconds (and at shutdown) the server reloads the rate
    limits and writes the outcomes it counted."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = AsyncConnectionPool(
            database_url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            open=False,
            name="mesher",
            timeout=db_timeout,
        )
        await pool.open()
        outcomes = OutcomeCounter()
        writer = EnvelopeWriter(pool, max_events=max_events, max_wait=max_wait, outcomes=outcomes)
        state = _State(pool, writer, outcomes, auth_ttl, max_body_bytes, body_timeout)
        app.state.mesher = state
        await state.refresh()  # the limits, before the first request

        async def refresh_forever() -> None:
            while True:
                await asyncio.sleep(refresh_every)
                await state.refresh()

        refresher = asyncio.create_task(refresh_forever())
        try:
            yield
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher  # its counts back in the counter
            await writer.close()  # commits what is pending
            await state.refresh()  # and writes the last outcomes
            await pool.close()

    routes = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/api/{dsn_id:int}/envelope/", _envelope, methods=["POST"]),
        Route("/api/{dsn_id:int}/store/", _store, methods=["POST"]),
        Route("/api/{dsn_id:int}/envelope/", _preflight, methods=["OPTIONS"]),
        Route("/api/{dsn_id:int}/store/", _preflight, methods=["OPTIONS"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


# --- the connections --------------------------------------------------------------------

#: Most bytes of a request's line and headers (uvicorn's h11 parser has its own cap).
MAX_HEAD_BYTES = 64 * 1024


class _Corked:
    """A transport whose writes of one event-loop step go out as one: uvicorn
    writes an answer's head and its body separately, two packets (Nagle is
    off) and two wake-ups of the client. Measured on a request that stores
    nothing: 96-105 us of the server's CPU per request instead of 127-131."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            data, self._pending = b"".join(self._pending), []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, ...
        return getattr(self._transport, name)


def _protocol(header_timeout: float, max_head_bytes: int) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools', else h11's), with a deadline for
    each request's head: a connection is closed when a request's line and
    headers are not all received within ``header_timeout`` seconds of the
    connection's start or of the previous answer (uvicorn's own keep-alive
    timeout starts only after an answer and stops at the first byte, so a
    client sending nothing, or a byte at a time, would hold its connection
    forever). The body has the application's ``body_timeout``. With
    httptools, a head over ``max_head_bytes`` is refused (400, closed).
    An answer's head and body go out in one write (:class:`_Corked`)."""
    base: type[Any]
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    except ImportError:  # pragma: no cover - the extra installs httptools
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol

    class Protocol(base):  # type: ignore[misc]
        _head_timer: asyncio.TimerHandle | None = None
        _awaited_after: Any = None  # the request whose successor's head is awaited
        _head_bytes = 0

        def _arm(self) -> None:
            self._disarm()
            self._awaited_after = self.cycle
            self._head_timer = self.loop.call_later(header_timeout, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                log.info("closed a connection whose request head took over %g s", header_timeout)
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self.transport = _Corked(transport, self.loop)  # the cycles write through it
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._head_timer is not None and self.cycle is not self._awaited_after:
                self._disarm()  # the next request's head is complete

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and (
                self.cycle is None or self.cycle.response_complete
            ):  # no request (pipelined) is waiting for an answer
                self._arm()

        # httptools' parser callbacks: the head's size.
        def on_message_begin(self) -> None:
            self._head_bytes = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def _count(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > max_head_bytes:  # the parser answers 400 and closes
                raise ValueError(f"request head over {max_head_bytes} bytes")

    return Protocol


class Server(uvicorn.Server):
    """uvicorn's server, whose shutdown first tells the application's writer
    to stop waiting for more events (:meth:`EnvelopeWriter.stop_waiting`):
    the requests in flight are committed and answered at once, not after
    ``max_wait``; then uvicorn waits for them, and the lifespan closes the
    writer."""

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        state = getattr(getattr(self.config.app, "state", None), "mesher", None)
        if isinstance(state, _State):
            state.writer.stop_waiting()
        await super().shutdown(sockets)


def server_config(
    app: Starlette,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    header_timeout: float = 10.0,
    max_head_bytes: int = MAX_HEAD_BYTES,
    log_level: str = "info",
) -> uvicorn.Config:
    """uvicorn's configuration for the application: the access log off (it
    would print ``sentry_key`` query parameters), no Server header, and
    request heads bounded in time and size (see :func:`_protocol`)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_protocol(header_timeout, max_head_bytes),
        access_log=False,
        server_header=False,
        lifespan="on",
        log_level=log_level,
    )


# --- the command ----------------------------------------------------------------------


def _demo_project(conn: Any) -> Any:
    """The demo organization's first project, or None."""
    from . import queries

    for org in queries.list_orgs(conn):
        if org.slug == "demo":
            return next(iter(queries.list_projects_by_org(conn, org.id)), None)
    return None


def print_demo_issues(database_url: str) -> None:
    """The demo project's issues, most recently seen first (``--issues``)."""
    from . import queries

    with psycopg.connect(database_url) as conn:
        project = _demo_project(conn)
        if project is None:
            print("no demo project in this database")
            return
        page = queries.list_issues(conn, project.id)
        print(f"{len(page.items)} issue(s) of project {project.name!r}, most recent first:")
        for issue in page.items:
            seen = f"{issue.last_seen:%Y-%m-%d %H:%M:%S}"
            print(f"{seen}  {issue.level.value:7}  {issue.event_count:6} event(s)  {issue.title}")


def demo_dsn(database_url: str, host: str, port: int) -> str:
    """The DSN of the demo project (organization ``demo``), made first on a
    database without organizations; empty if there is none."""
    from . import queries

    with psycopg.connect(database_url) as conn:
        if not queries.list_orgs(conn):
            org_id = queries.insert_org(conn, "Demo", "demo")
            project_id = queries.insert_project(conn, org_id, "Demo", "python")
            queries.create_api_key(conn, project_id, "demo")
            conn.commit()
        project = _demo_project(conn)
        keys = queries.list_api_keys(conn, project.id) if project is not None else []
        for key in keys:
            if key.revoked_at is None:
                where = f"[{host}]" if ":" in host else host
                secret = key.key_value.get_secret_value()
                return f"http://{secret}@{where}:{port}/{project.dsn_id}"
    return ""


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mesher.server", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL, already migrated (default: $DATABASE_URL, else the embedded"
        " server, migrated here, with a demo project)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    parser.add_argument(
        "--max-events", type=int, default=200, help="most events per transaction (200)"
    )
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=5.0,
        help="longest wait of a batch for more events, in ms (5)",
    )
    parser.add_argument("--pool-size", type=int, default=4, help="database connections (4)")
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a request's line and headers may take, then the connection is closed (10)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=30.0,
        help="seconds a request's body may take, then 408 (30)",
    )
    parser.add_argument(
        "--issues",
        action="store_true",
        help="print the demo project's issues and exit (the quick start's last step)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be from 0 to 65535")
    if not 1 <= args.max_events <= 1000:
        parser.error("--max-events must be from 1 to 1000")
    if not 0 <= args.max_wait_ms <= 10_000:
        parser.error("--max-wait-ms must be from 0 to 10000")
    if not 1 <= args.pool_size <= 100:
        parser.error("--pool-size must be from 1 to 100")
    for name in ("header_timeout", "body_timeout"):
        if not 0 < getattr(args, name) <= 3600:
            parser.error(f"--{name.replace('_', '-')} must be over 0 and at most 3600")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    url = args.database_url or os.environ.get("DATABASE_URL", "")
    try:
        if not url:
            from .embedded import EmbeddedError, ensure_dev_server
            from .migrate import migrate

            try:
                cluster = ensure_dev_server()
            except EmbeddedError as exc:
                raise EmbeddedError(f"embedded PostgreSQL: {exc}") from exc
            url = cluster.url()
            print(f"using the embedded PostgreSQL 18 (data in {cluster.data_dir})", flush=True)
            migrate(url)
            dsn = "" if args.issues else demo_dsn(url, args.host, args.port)
            if dsn:
                print(f"demo project's DSN: {dsn}", flush=True)
        if args.issues:
            print_demo_issues(url)
            return 0
    except (MesherError, psycopg.Error) as exc:
        print(f"mesher.server: {translate(exc)}", file=sys.stderr)
        return 1
    app = create_app(
        url,
        max_events=args.max_events,
        max_wait=args.max_wait_ms / 1000,
        pool_size=args.pool_size,
        body_timeout=args.body_timeout,
    )
    config = server_config(app, host=args.host, port=args.port, header_timeout=args.header_timeout)
    server = Server(config)
    # uvicorn shuts down on SIGTERM and SIGINT, then raises the signal again
    # for the handler it found: let that one return, so a clean stop exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    server.run()
    return 0 if server.started else 1  # it could not listen, or the database failed


if __name__ == "__main__":
    raise SystemExit(main())
