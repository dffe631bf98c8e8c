"""Scenario 14: the ingest server over HTTP (``mesher.server``).

Envelopes that the real ``sentry_sdk`` captured (1.2-2.1 KB gzipped, as sent, half
exceptions and half messages) are POSTed by concurrent keep-alive clients
(asyncio, in this process) to the server, run as a process of its own on
the same machine, over a database of the benchmark's PostgreSQL. Mesher's
side is the server as shipped (group commit: up to ``MAX_EVENTS`` events a
transaction); the baseline is the same server with one transaction per
request (``--max-events 1``), as an endpoint over ``ingest_envelope`` would
be. Both run for ``seconds`` with the same clients, alternating.

Rows: the events per second each side stored; the p99 latency of the
shipped server when the clients send at 80 % of the rate it reached; the
server's and PostgreSQL's CPU time per event (from /proc, so on Linux only).

Run it alone with ``python -m bench --only 14``; ``python -m bench.http_scenario
[--seconds S] [--clients N]`` prints the figures without the table.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import psycopg

from mesher import queries as q

from .figures import EVENTS_PER_S, MS, Result, Unit, at_least, below
from .scenarios import Context

ROOT = Path(__file__).resolve().parent.parent
MAX_EVENTS = 200
CLIENTS = 32
MS_PER_EVENT = Unit("ms/event", False, 3)


def captured(count: int) -> list[bytes]:
    """``count`` gzipped envelopes of 1.2-2.1 KB from the real sentry_sdk, as the
    issue's scenario has them: half exceptions (a chain of two raised three
    calls deep, with the SDK's default local variables and source context),
    half messages, each with tags, a user and breadcrumbs."""
    import sentry_sdk

    from tests.sentry_envelopes import capture

    def lookup(order: dict[str, int], sku: str) -> int:
        return order[sku]

    def charge(i: int) -> None:
        try:
            lookup({"sku-1": 3}, f"sku-{i}")
        except KeyError as exc:
            raise RuntimeError(f"order {1000 + i} failed") from exc

    def run() -> None:
        for i in range(count):
            sentry_sdk.set_tag("tenant", f"t{i % 7}")
            sentry_sdk.set_user({"id": str(i % 50), "email": f"u{i % 50}@example.com"})
            sentry_sdk.add_breadcrumb(category="http", message=f"GET /api/{i}")
            if i % 2:
                sentry_sdk.capture_message(f"cache miss rate high on shard {i % 13}", "warning")
                continue
            try:
                charge(i)
            except RuntimeError:
                sentry_sdk.capture_exception()

    envelopes = capture(run, max_breadcrumbs=3)
    events = [e for e in envelopes if b'"type":"event"' in e]
    assert len(events) == count, len(events)
    return [gzip.compress(e, 6) for e in events]


def _fresh_ids(body: bytes) -> bytes:
    """The envelope with a new event id (so that every POST stores an event)."""
    raw = gzip.decompress(body)
    header = raw.partition(b"\n")[0]
    old = header.split(b'"event_id":"', 1)[1][:32]
    new = uuid4().hex.encode()
    return gzip.compress(raw.replace(old, new), 1)


# --- CPU from /proc -----------------------------------------------------------------------


def _cpu(pid: int) -> float:
    """User + system seconds of a process, 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu(data_dir: Path) -> dict[int, float]:
    """CPU seconds of the cluster's processes (the postmaster's children)."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children")
    pids = [postmaster, *map(int, children.read_text().split())]
    return {pid: _cpu(pid) for pid in pids}


# --- the load -----------------------------------------------------------------------------


@dataclass
class Load:
    events: int
    distinct: int  # events whose envelope was sent for the first time
    seconds: float
    latencies: list[float]  # seconds, per request
    server_cpu: float
    postgres_cpu: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=100)[98] * 1000

    def cpu_ms(self, seconds: float) -> float:
        return seconds / max(1, self.events) * 1000


async def _client(
    port: int,
    path: str,
    headers: bytes,
    bodies: list[bytes],
    until: float,
    interval: float,
    latencies: list[float],
) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent = 0
    next_at = time.perf_counter()
    try:
        while time.perf_counter() < until:
            if interval:
                next_at += interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            body = bodies[sent % len(bodies)]
            started = time.perf_counter()
            writer.write(
                b"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Encoding: gzip\r\n%s"
                b"Content-Length: %d\r\n\r\n%s" % (path.encode(), headers, len(body), body)
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"the server answered {head[:40]!r}")
            length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            sent += 1
    finally:
        writer.close()
    return sent, min(sent, len(bodies))  # requests, and distinct envelopes sent


def run_load(
    server_pid: int,
    data_dir: Path,
    port: int,
    dsn: tuple[int, str],
    bodies: list[bytes],
    seconds: float,
    clients: int,
    rate: float | None = None,
) -> Load:
    """``clients`` keep-alive connections posting for ``seconds``, as fast as
    answered, or paced to ``rate`` requests per second in all."""
    dsn_id, key = dsn
    path = f"/api/{dsn_id}/envelope/"
    headers = f"X-Sentry-Auth: Sentry sentry_version=7, sentry_key={key}\r\n".encode()
    latencies: list[float] = []
    interval = clients / rate if rate else 0.0
    per_client = [bodies[i::clients] or bodies for i in range(clients)]
    server0, pg0 = _cpu(server_pid), _postgres_cpu(data_dir)

    async def main() -> list[tuple[int, int]]:
        until = time.perf_counter() + seconds
        return await asyncio.gather(
            *(
                _client(port, path, headers, per_client[i], until, interval, latencies)
                for i in range(clients)
            )
        )

    started = time.perf_counter()
    counts = asyncio.run(main())
    elapsed = time.perf_counter() - started
    pg1 = _postgres_cpu(data_dir)
    postgres = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
    sent, distinct = sum(c[0] for c in counts), sum(c[1] for c in counts)
    return Load(sent, distinct, elapsed, latencies, _cpu(server_pid) - server0, postgres)


class Server:
    """``python -m mesher.server`` over ``url``, as a process of its own."""

    def __init__(self, url: str, *extra: str) -> None:
        from mesher.embedded import free_port

        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "mesher.server", "--database-url", url]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        if self.process.wait(60) != 0:
            raise RuntimeError(f"the server exited with {self.process.returncode}")


def _project(url: str, name: str) -> tuple[UUID, tuple[int, str]]:
    with psycopg.connect(url) as conn:
        org = q.insert_org(conn, name, name.lower())
        project = q.insert_project(conn, org, name, "python")
        key = q.create_api_key(conn, project)
        dsn_id = q.get_project(conn, project).dsn_id
        conn.commit()
    return project, (dsn_id, key)


def _stored(url: str, project: UUID) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM events WHERE project_id = %s", (project,))
        return int(row.fetchone()[0])  # type: ignore[index]


def measure(
    url: str, data_dir: Path, bodies: list[bytes], seconds: float, clients: int, rounds: int
) -> tuple[list[Load], list[Load], list[Load]]:
    """Per round: the shipped server at full load, the baseline at full load,
    then the shipped server paced at 80 % of its full-load rate."""
    full: list[Load] = []
    base: list[Load] = []
    paced: list[Load] = []

    def fresh() -> list[bytes]:
        """Enough envelopes with new ids for 3,000 events/s."""
        return [_fresh_ids(bodies[i % len(bodies)]) for i in range(int(3000 * seconds))]

    for r in range(rounds):
        for side, extra in (("m", ()), ("b", ("--max-events", "1"))):
            project, dsn = _project(url, f"Http{side}{r}")
            server = Server(url, "--max-events", str(MAX_EVENTS), *extra, "--pool-size", "4")
            pid, port = server.process.pid, server.port
            try:
                load = run_load(pid, data_dir, port, dsn, fresh(), seconds, clients)
                if side == "m":
                    rate = 0.8 * load.rate
                    paced.append(
                        run_load(pid, data_dir, port, dsn, fresh(), seconds, clients, rate)
                    )
            finally:
                server.stop()
            stored = _stored(url, project)
            sent = load.distinct + (paced[-1].distinct if side == "m" else 0)
            if stored != sent:  # every envelope answered 200 is a stored event
                raise AssertionError(f"{sent} envelopes answered 200, {stored} events stored")
            (full if side == "m" else base).append(load)
    return full, base, paced


def http_ingest(ctx: Context) -> Iterator[Result]:
    """HTTP ingest: mesher.server, real SDK envelopes from concurrent keep-alive clients"""
    smoke = ctx.sizes.batch_events < 10_000
    seconds, count = (1.0, 20) if smoke else (5.0, 400)
    bodies = captured(count)
    size = statistics.mean(map(len, bodies)) / 1024
    url = ctx.fresh_db()
    full, base, paced = measure(
        url, ctx.cluster.data_dir, bodies, seconds, CLIENTS, ctx.sizes.rounds
    )
    name = f"14. HTTP ingest, {CLIENTS} keep-alive clients, envelopes of {size:.1f} KB gzipped"
    yield Result(
        name,
        EVENTS_PER_S,
        [load.rate for load in full],
        [load.rate for load in base],
        goal=at_least(1000, EVENTS_PER_S, ratio=4),
    )
    yield Result(
        "14. HTTP ingest, p99 latency at 80 % of the rate reached",
        MS,
        [load.p99_ms for load in paced],
        [],
        goal=below(100, MS),
    )
    yield Result(
        "14. HTTP ingest, server CPU per event (baseline: one transaction per request)",
        MS_PER_EVENT,
        [load.cpu_ms(load.server_cpu) for load in full],
        [load.cpu_ms(load.server_cpu) for load in base],
    )
    yield Result(
        "14. HTTP ingest, PostgreSQL CPU per event (baseline: one transaction per request)",
        MS_PER_EVENT,
        [load.cpu_ms(load.postgres_cpu) for load in full],
        [load.cpu_ms(load.postgres_cpu) for load in base],
    )


def main(argv: list[str] | None = None) -> int:
    import shutil
    import tempfile

    from mesher import embedded
    from mesher.migrate import migrate

    parser = argparse.ArgumentParser(prog="python -m bench.http_scenario")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--envelopes", type=int, default=400)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="mesher-http-bench-"))
    root.chmod(0o755)
    bin_dir = Path(os.environ.get("MESHER_PG18_BIN") or embedded.install_pg18())
    cluster = embedded.Cluster(bin_dir, root / "data", embedded.free_port())
    cluster.init()
    cluster.start()
    try:
        url = cluster.url("postgres")
        migrate(url)
        bodies = captured(args.envelopes)
        full, base, paced = measure(
            url, cluster.data_dir, bodies, args.seconds, args.clients, args.rounds
        )
        for label, loads in (("server", full), ("baseline", base), ("paced 80 %", paced)):
            for load in loads:
                print(
                    f"{label:10} {load.rate:7.0f} events/s  p50 "
                    f"{statistics.median(load.latencies) * 1000:6.1f} ms  p99 {load.p99_ms:6.1f} ms"
                    f"  server {load.cpu_ms(load.server_cpu):.3f} ms/event"
                    f"  postgres {load.cpu_ms(load.postgres_cpu):.3f} ms/event"
                )
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
