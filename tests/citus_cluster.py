"""The Citus test tier: a coordinator and two workers (PostgreSQL 15 with
Citus), and test databases that exist on all three nodes.

Citus does not propagate ``CREATE DATABASE``: a database is made on every
node, with ``CREATE EXTENSION citus`` in each, then the coordinator is told
where it and the workers are. That takes seconds, so it is done once per
session, into templates that exist on every node:

- ``<prefix>_base``: citus-ready (the extension on every node, the workers
  added), never migrated; ``empty()`` clones it;
- ``<prefix>_template``: a clone of the base, migrated through the
  coordinator (``mesher.migrate``); ``migrated()`` clones it.

A test database is ``CREATE DATABASE ... TEMPLATE`` of the same template on
every node, under the same name (Citus connects to a node's database of the
same name), so the clones' Citus metadata (nodes, and once the tables are
distributed, shards and placements) matches across nodes as it did in the
templates. A template must have no connection while it is cloned, and Citus
keeps a maintenance daemon in every database that has the extension,
connected to the other nodes' database of that name: a template is sealed
once made (``ALLOW_CONNECTIONS false`` on every node, then its backends,
daemons included, terminated until none is left). A test database is sealed
the same way before ``DROP DATABASE``.

The nodes live in memory (``/dev/shm``) when there is room: cloning on
three nodes is then about 60 ms instead of about 400 ms on a disk.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql

import mesher.migrate
from mesher import embedded
from mesher._sql import sql_dir

T = TypeVar("T")

PREFIX = "mesher_test_"  # as mesher.testing's databases (importing it here would
# come before pytest's assertion rewriting of the plugin)
HOST = "127.0.0.1"
WORKERS = 2

#: postgresql.conf lines of every node, besides the non-durable ones of
#: mesher.embedded.
SETTINGS = [
    "shared_preload_libraries = 'citus'",
    "max_prepared_transactions = 20",  # Citus commits across nodes in two phases
    "max_worker_processes = 32",  # a maintenance daemon per citus database
    "citus.shard_count = 4",  # few shards: fast DDL, a few rows per shard
    "citus.node_conninfo = 'sslmode=disable'",  # loopback; no certificates to make
    "citus.enable_statistics_collection = off",  # no phone-home
    # What migrate sets on each database it distributes (after_migrate.sql);
    # per-database settings are not copied to the tests' clones of the
    # template, so the nodes have it too. tests/test_citus.py checks migrate's.
    "citus.multi_shard_modify_mode = sequential",
]


def unavailable_reason(bin_dir: Path) -> str | None:
    """Why the tier cannot run with the PostgreSQL 15 binaries in ``bin_dir``;
    None when Citus is installed for them."""
    pg_config = bin_dir / "pg_config"
    if not (bin_dir / "postgres").exists():
        return f"no PostgreSQL 15 binaries in {bin_dir}"
    if not pg_config.exists():
        return f"no pg_config in {bin_dir} to find where extensions are installed"
    try:
        pkglibdir, sharedir = subprocess.run(
            [str(pg_config), "--pkglibdir", "--sharedir"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        return f"{pg_config} --pkglibdir --sharedir failed: {exc}"
    if (Path(pkglibdir) / "citus.so").exists() and (
        Path(sharedir) / "extension" / "citus.control"
    ).exists():
        return None
    reason = f"Citus is not installed for PostgreSQL 15 (no citus.so in {pkglibdir})"
    if not os.environ.get("MESHER_CITUS_SRC"):
        return (
            f"{reason}; set MESHER_CITUS_SRC to a Citus source tarball "
            "(../shared/vendor/citus-13.2.2.tar.gz) and run ./dev test as root to build it"
        )
    if os.geteuid() != 0:
        return f"{reason}; MESHER_CITUS_SRC is set, but building Citus needs root"
    return f"{reason}; ./dev test (as root) builds it from MESHER_CITUS_SRC"


@dataclass
class Stats:
    """What the tier cost, for the terminal summary."""

    cluster_start: float = 0.0
    templates: float = 0.0
    creates: list[float] = field(default_factory=list)
    drops: list[float] = field(default_factory=list)

    def summary(self) -> str:
        line = f"cluster of {1 + WORKERS} nodes started in {self.cluster_start:.1f} s"
        if self.templates:
            line += f", templates made in {self.templates:.1f} s"
        if self.creates:
            line += (
                f"; {len(self.creates)} test databases, each cloned in {_ms(self.creates)}"
                f" and dropped in {_ms(self.drops)} (on every node)"
            )
        return line


def _ms(seconds: list[float]) -> str:
    return f"{sum(seconds) / max(len(seconds), 1) * 1000:.0f} ms"


STATS = Stats()


def _parallel(work: Callable[[T], Any], items: list[T]) -> None:
    with ThreadPoolExecutor(len(items)) as pool:
        for future in [pool.submit(work, item) for item in items]:
            future.result()


def _memory_dir() -> str | None:
    """A RAM-backed folder with room for the nodes, else None (the default
    temporary folder). ``CREATE DATABASE`` writes a whole copy of its template,
    on three nodes per test: ten times faster in memory than on a disk."""
    shm = "/dev/shm"  # noqa: S108  # only as mkdtemp(dir=...)
    try:
        stat = os.statvfs(shm)
    except OSError:
        return None
    return shm if stat.f_bavail * stat.f_frsize >= 1 << 30 and os.access(shm, os.W_OK) else None


@dataclass(frozen=True)
class CitusCluster:
    coordinator: embedded.Cluster
    workers: tuple[embedded.Cluster, ...]

    @property
    def nodes(self) -> list[embedded.Cluster]:
        return [self.coordinator, *self.workers]


@contextmanager
def running_cluster(bin_dir: Path) -> Iterator[CitusCluster]:
    """A coordinator and the workers on free loopback ports, stopped on exit."""
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="mesher-citus-", dir=_memory_dir()))
    root.chmod(0o755)  # the servers may run as another user (see mesher.embedded)
    names = ["coordinator", *(f"worker{i}" for i in range(1, WORKERS + 1))]
    nodes = [embedded.Cluster(bin_dir, root / name, embedded.free_port()) for name in names]
    cluster = CitusCluster(nodes[0], tuple(nodes[1:]))
    up: list[embedded.Cluster] = []

    def start(node: embedded.Cluster) -> None:
        node.init(durable=False, settings=SETTINGS)
        node.start()
        up.append(node)
        with psycopg.connect(node.url("postgres"), autocommit=True) as admin:
            admin.execute((sql_dir() / "roles.sql").read_bytes())

    try:
        _parallel(start, nodes)
        STATS.cluster_start = time.monotonic() - started
        yield cluster
    finally:
        for node in up:
            node.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


class CitusDatabases:
    """Databases on every node of a Citus cluster, like
    ``mesher.testing.MesherDatabases`` on one server: ``migrated()``,
    ``empty()`` and ``close()``, all named ``<prefix>_...``."""

    def __init__(self, cluster: CitusCluster) -> None:
        self.cluster = cluster
        self.server_url = cluster.coordinator.url("postgres")
        self.prefix = f"{PREFIX}{secrets.token_hex(4)}"
        self.base = f"{self.prefix}_base"
        self.template = f"{self.prefix}_template"
        self._counter = itertools.count(1)
        self._made: list[str] = []  # to drop on close, ready or not
        self._ready: set[str] = set()

    def url(self, dbname: str) -> str:
        return self.cluster.coordinator.url(dbname)

    # --- on every node ---------------------------------------------------------------

    @staticmethod
    def _admin(node: embedded.Cluster, sql_text: sql.Composable) -> None:
        with psycopg.connect(node.url("postgres"), autocommit=True) as admin:
            admin.execute(sql_text)

    def _create(self, dbname: str, template: str | None) -> None:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        _parallel(lambda node: self._admin(node, statement), self.cluster.nodes)

    def _close_off(self, dbname: str) -> None:
        """No new connection to ``dbname``, on any node, from now on: the nodes'
        maintenance daemons connect to each other's databases."""

        def close_off(node: embedded.Cluster) -> None:
            with psycopg.connect(node.url("postgres"), autocommit=True) as admin:
                if admin.execute("SELECT FROM pg_database WHERE datname = %s", (dbname,)).rowcount:
                    admin.execute(
                        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                            sql.Identifier(dbname)
                        )
                    )

        _parallel(close_off, self.cluster.nodes)

    def _seal(self, dbname: str) -> None:
        """No connection to ``dbname`` on any node, and none allowed from now on
        (Citus keeps a maintenance daemon in it on every node, connected to the
        others): it can be a template, or dropped."""
        self._close_off(dbname)

        def disconnect(node: embedded.Cluster) -> None:
            with psycopg.connect(node.url("postgres"), autocommit=True) as admin:
                deadline = time.monotonic() + 30
                while True:
                    who = admin.execute(
                        "SELECT pid, backend_type, wait_event, pg_terminate_backend(pid)"
                        " FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        (dbname,),
                    ).fetchall()
                    if not who:
                        return
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{dbname} on port {node.port} stays in use: {who}")
                    time.sleep(0.02)

        _parallel(disconnect, self.cluster.nodes)

    def _drop(self, dbname: str) -> None:
        self._seal(dbname)
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(dbname)
        )
        _parallel(lambda node: self._admin(node, statement), self.cluster.nodes)

    # --- the templates ---------------------------------------------------------------

    def _ensure_base(self) -> None:
        if self.base in self._ready:
            return
        started = time.monotonic()
        self._made.append(self.base)
        self._create(self.base, None)

        def add_extension(node: embedded.Cluster) -> None:
            with psycopg.connect(node.url(self.base), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION citus")

        _parallel(add_extension, self.cluster.nodes)
        with psycopg.connect(self.url(self.base), autocommit=True) as conn:
            conn.execute(
                "SELECT citus_set_coordinator_host(%s, %s)", (HOST, self.cluster.coordinator.port)
            )
            for worker in self.cluster.workers:
                conn.execute("SELECT citus_add_node(%s, %s)", (HOST, worker.port))
        self._seal(self.base)
        self._ready.add(self.base)
        STATS.templates += time.monotonic() - started

    def _ensure_template(self) -> None:
        if self.template in self._ready:
            return
        self._ensure_base()
        started = time.monotonic()
        self._made.append(self.template)
        self._create(self.template, self.base)
        mesher.migrate.migrate(self.url(self.template))
        self._seal(self.template)
        self._ready.add(self.template)
        STATS.templates += time.monotonic() - started

    # --- per test --------------------------------------------------------------------

    @contextmanager
    def _database(self, template: str) -> Iterator[str]:
        dbname = f"{self.prefix}_{next(self._counter)}"
        started = time.monotonic()
        try:
            self._create(dbname, template)
            STATS.creates.append(time.monotonic() - started)
            yield self.url(dbname)
        finally:
            started = time.monotonic()
            self._drop(dbname)
            STATS.drops.append(time.monotonic() - started)

    @contextmanager
    def migrated(self) -> Iterator[str]:
        """A new migrated database on every node; the coordinator's URL."""
        self._ensure_template()
        with self._database(self.template) as url:
            yield url

    @contextmanager
    def empty(self) -> Iterator[str]:
        """A new citus-ready database on every node, never migrated."""
        self._ensure_base()
        with self._database(self.base) as url:
            yield url

    def close(self) -> None:
        """Drop the templates (the test databases are dropped as they go)."""
        while self._made:
            self._drop(self._made.pop())
        self._ready.clear()
