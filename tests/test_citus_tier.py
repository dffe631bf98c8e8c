"""The Citus tier itself (tests/citus_cluster.py): a test database is on
every node, citus-ready, and distributed tables work in it. Only on the tier."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from .conftest import Server

pytestmark = [pytest.mark.citus, pytest.mark.citus_only]


def _on_every_node(server: Server, url: str, query: str) -> list[Any]:
    dbname = url.rsplit("/", 1)[1]
    results = []
    for node in (server.cluster, *server.workers):
        with psycopg.connect(node.url(dbname)) as conn:
            results.append(conn.execute(query).fetchone())
    return results


def test_migrated_database_is_on_every_node(server: Server, db_url: str) -> None:
    citus = "SELECT count(*) FROM pg_extension WHERE extname = 'citus'"
    assert _on_every_node(server, db_url, citus) == [(1,)] * 3
    with psycopg.connect(db_url) as conn:
        workers = conn.execute("SELECT count(*) FROM citus_get_active_worker_nodes()").fetchone()
        assert workers == (len(server.workers),)
        assert conn.execute("SHOW citus.shard_count").fetchone() == ("4",)
        assert conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone() == (
            True,
        )


def test_empty_database_is_citus_ready_and_unmigrated(server: Server, empty_db_url: str) -> None:
    citus = "SELECT count(*) FROM pg_extension WHERE extname = 'citus'"
    assert _on_every_node(server, empty_db_url, citus) == [(1,)] * 3
    with psycopg.connect(empty_db_url) as conn:
        workers = conn.execute("SELECT count(*) FROM citus_get_active_worker_nodes()").fetchone()
        assert workers == (len(server.workers),)
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)


def test_distributed_table_spans_the_workers(server: Server, owner_conn: Any) -> None:
    owner_conn.execute("CREATE TABLE scratch (id bigint PRIMARY KEY, note text)")
    owner_conn.execute("SELECT create_distributed_table('scratch', 'id')")
    owner_conn.commit()
    with owner_conn.transaction():  # every shard, in one two-phase commit
        owner_conn.execute("INSERT INTO scratch SELECT g, 'x' FROM generate_series(1, 100) g")
        owner_conn.execute("UPDATE scratch SET note = 'y'")
    assert owner_conn.execute("SELECT count(*) FROM scratch WHERE note = 'y'").fetchone() == (100,)
    ports = owner_conn.execute(
        "SELECT DISTINCT nodeport FROM pg_dist_shard_placement JOIN pg_dist_shard USING (shardid)"
        " WHERE logicalrelid = 'scratch'::regclass ORDER BY 1"
    ).fetchall()
    assert ports == sorted((w.port,) for w in server.workers)
