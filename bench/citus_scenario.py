"""Scenario 13: the Mesher layer on a Citus cluster (a coordinator and two
workers, PostgreSQL 15) against the same calls on one plain PostgreSQL 15
node, in the same run, on this machine.

Both sides run Mesher itself: in these rows the *Mesher* column is the
cluster and the *baseline* column the plain node, so the ratio is the
cluster's speed relative to the plain node's (below 1: the cluster is
slower). There is no goal: the rows are reported, not passed or failed.

The scenario starts its own servers (the runner's is PostgreSQL 18): the
Citus test tier's cluster (``tests/citus_cluster.py``, imported rather than
copied) and a plain node with the same binaries and the same non-durable
settings, in the same place (memory when there is room), and stops them at
the end. Where Citus is not installed it prints why and yields nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from mesher import embedded, migrate
from mesher import queries as q
from mesher._sql import sql_dir
from mesher.fingerprint import fingerprint
from mesher.ingest import ingest_events
from mesher.models import EventPayload, IngestedEvent

from .data import payloads
from .figures import CheckFailed, Result
from .ingest_scenarios import Timing, alternate, compare
from .scenarios import Context, _project

BATCH = 500


def citus(ctx: Context) -> Iterator[Result]:
    """Citus: the same calls on a coordinator with 2 workers vs one plain PostgreSQL 15"""
    # The test tier's cluster, databases and choice of PostgreSQL 15 binaries
    # ($MESHER_PG15_BIN, else the distribution's), reused rather than copied.
    from tests import citus_cluster
    from tests.conftest import _bin_dir

    bin_dir = _bin_dir("15")
    reason = citus_cluster.unavailable_reason(bin_dir)
    if reason is not None:
        print(f"   skipped: {reason}", flush=True)
        return
    with citus_cluster.running_cluster(bin_dir) as cluster:
        databases = citus_cluster.CitusDatabases(cluster)
        plain_settings = [s for s in citus_cluster.SETTINGS if "citus" not in s]
        memory = citus_cluster._memory_dir()
        with databases.migrated() as cluster_url, _plain(bin_dir, plain_settings, memory) as url:
            yield from _ingest(ctx, cluster_url, url)
            yield from _reads(ctx, cluster_url, url)


@contextmanager
def _plain(bin_dir: Path, settings: list[str], parent: str | None) -> Iterator[str]:
    """A migrated database on one plain node, set up as each Citus node is
    (non-durable, the same postgresql.conf lines but Citus's, the roles)."""
    root = Path(tempfile.mkdtemp(prefix="mesher-bench-pg15-", dir=parent))
    root.chmod(0o755)  # the server may run as another user (see mesher.embedded)
    node = embedded.Cluster(bin_dir, root / "data", embedded.free_port())
    try:
        node.init(durable=False, settings=settings)
        node.start()
        try:
            with psycopg.connect(node.url("postgres"), autocommit=True) as admin:
                admin.execute((sql_dir() / "roles.sql").read_bytes())
                admin.execute("CREATE DATABASE bench")
            migrate.migrate(node.url("bench"))
            yield node.url("bench")
        finally:
            node.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _row(name: str, c: Timing, p: Timing, per: int, unit: str) -> Result:
    """compare()'s row (µs per event or call, each side's client CPU in the
    name), without a goal: reported only."""
    return replace(compare(f"13. Citus / plain PG 15, {name}", c, p, per, unit, 0.0), goal=None)


# --- ingest -----------------------------------------------------------------------------


def _ingest(ctx: Context, cluster_url: str, plain_url: str) -> Iterator[Result]:
    s = ctx.sizes
    count = 5000 if s.batch_events >= 10_000 else BATCH
    data = payloads(count, 1000, seed=11)
    chunks = [data[i : i + BATCH] for i in range(0, count, BATCH)]
    pc, pp = _project(cluster_url, "ingest"), _project(plain_url, "ingest")
    with (
        psycopg.connect(cluster_url, autocommit=True) as cc,
        psycopg.connect(plain_url, autocommit=True) as cp,
    ):

        def on(conn: psycopg.Connection[Any], project: UUID) -> Callable[[int], None]:
            def run(r: int) -> None:
                for chunk in chunks:
                    ingest_events(conn, project, chunk)

            return run

        c, p = alternate(s.rounds, on(cc, pc), on(cp, pp))
    yield _row(
        f"ingest_events, {BATCH}/batch, {count:,} events of 2 KB, 1,000 fingerprints",
        c, p, count, "event",
    )  # fmt: skip


# --- project-scoped reads ---------------------------------------------------------------


def _load(url: str, data: list[dict[str, Any]]) -> tuple[UUID, list[IngestedEvent]]:
    project = _project(url, "reads")
    with psycopg.connect(url, autocommit=True) as conn:
        stored = [
            e
            for i in range(0, len(data), BATCH)
            for e in ingest_events(conn, project, data[i : i + BATCH])
        ]
        conn.execute("ANALYZE")
    return project, stored


Reads = dict[str, tuple[Callable[[int], Any], Callable[[Any], Any]]]


def _calls(conn: psycopg.Connection[Any], project: UUID, stored: list[IngestedEvent],
           counts: Counter[str]) -> Reads:  # fmt: skip
    """Each read: the call (call i reads the i-th event's issue or the event
    itself: the same payload on both sides) and what its result must be the
    same on both sides (ids differ: each side made its own)."""
    n = len(stored)

    def ev(i: int) -> IngestedEvent:
        return stored[i % n]

    def page_ok(page: Any) -> int | None:  # issues last seen at once may come in any order
        right = all(counts[i.fingerprint] == i.event_count for i in page.items)
        return len(page.items) if right else None

    return {
        "get_issue(id, project_id=p)": (
            lambda i: q.get_issue(conn, ev(i).issue_id, project_id=project),
            lambda r: (r.fingerprint, r.event_count),
        ),
        "list_issues(p), first page of 50": (lambda i: q.list_issues(conn, project), page_ok),
        "list_events_for_issue(id, project_id=p)": (
            lambda i: q.list_events_for_issue(conn, ev(i).issue_id, project_id=project),
            lambda r: sorted(e.message for e in r.items),
        ),
        "get_event(p, id)": (
            lambda i: q.get_event(conn, project, ev(i).event_id),
            lambda r: (r.fingerprint, r.message),
        ),
        "get_issue(id) without project_id: a task per shard": (
            lambda i: q.get_issue(conn, ev(i).issue_id),
            lambda r: (r.fingerprint, r.event_count),
        ),
    }


def _reads(ctx: Context, cluster_url: str, plain_url: str) -> Iterator[Result]:
    s = ctx.sizes
    rounds = max(s.rounds, 7) if s.lookups >= 1000 else s.rounds
    calls = 500 if s.lookups >= 1000 else 20
    events, groups = (2000, 200) if s.lookups >= 1000 else (200, 20)
    data = payloads(events, groups, seed=111)
    counts = Counter(fingerprint(EventPayload.model_validate(p)) for p in data)
    (pc, sc), (pp, sp) = _load(cluster_url, data), _load(plain_url, data)
    with (
        psycopg.connect(cluster_url, autocommit=True) as cc,
        psycopg.connect(plain_url, autocommit=True) as cp,
    ):
        on_cluster, on_plain = _calls(cc, pc, sc, counts), _calls(cp, pp, sp, counts)
        for name, (call_c, same) in on_cluster.items():
            call_p = on_plain[name][0]
            for i in range(3):  # checked before the clock
                got_c, got_p = same(call_c(i)), same(call_p(i))
                if got_c != got_p or not got_c:
                    raise CheckFailed(f"13. {name}: cluster {got_c!r}, plain node {got_p!r}")
            c, p = alternate(
                rounds,
                lambda r, f=call_c: [f(i) for i in range(calls)],  # type: ignore[misc]
                lambda r, f=call_p: [f(i) for i in range(calls)],  # type: ignore[misc]
            )
            yield _row(f"{name}, {calls} calls/round", c, p, calls, "call")
