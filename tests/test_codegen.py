"""Generated code: the sync modules made from their async sources by
tools/gen_sync.py, and the queries loaded from sql/queries/ (mesher._sql)."""

import ast
import importlib.util
import io
import subprocess
import sys
import textwrap
import tokenize
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import aiosql
import pytest
from aiosql.utils import SQLLoadException

from mesher._sql import _Adapter, async_queries, load_queries, sql_dir, sync_queries

ROOT = Path(__file__).resolve().parent.parent
SQL_FILES = sorted((sql_dir() / "queries").glob("*.sql"))


def _gen_sync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_sync", ROOT / "tools" / "gen_sync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_sync = _gen_sync()


def _to_sync(source: str) -> str:
    result: str = gen_sync.to_sync(textwrap.dedent(source))
    return result


# --- tools/gen_sync.py ------------------------------------------------------------------


def test_sync_modules_are_up_to_date() -> None:
    run = subprocess.run(
        [sys.executable, "tools/gen_sync.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_strings_and_docstrings_come_through_unchanged() -> None:
    source = '''
        """Module: await conn.commit() in async code, with AsyncConnection."""

        async def run(conn: AsyncConnection[Any]) -> str:
            """Call ``await run(conn)``, inside ``async with conn.transaction()``."""
            await conn.execute("SELECT 'await ' || 'async for x in y'")
            return f"async def f(): await {conn!r} AsyncConnection"
        '''
    assert _to_sync(source) == textwrap.dedent('''
        """Module: await conn.commit() in async code, with AsyncConnection."""

        def run(conn: Connection[Any]) -> str:
            """Call ``await run(conn)``, inside ``async with conn.transaction()``."""
            conn.execute("SELECT 'await ' || 'async for x in y'")
            return f"async def f(): await {conn!r} AsyncConnection"
        ''')


def test_async_constructs_become_sync_and_comments_stay() -> None:
    source = """
        import asyncio
        from collections.abc import AsyncIterator, Awaitable, Callable

        from psycopg import AsyncConnection
        import psycopg

        from .._sql import async_queries  # the loaded SQL
        from ...errors import NotFound
        from .partitions import create_ahead
        from mesher.aio.ingest import ingest_event

        _q = async_queries()


        # a comment that says await and async stays
        @decorated
        async def step(conn: psycopg.AsyncConnection[Any], work: Callable[[], Awaitable[T]]) -> T:
            async with conn.transaction(), conn.cursor() as cur:  # type: ignore[misc]
                await asyncio.sleep(0.1 * 2**await attempts())
                async for row in _q.events.list_events(conn):
                    kept = {r async for r in await rows(conn) if await keep(r)}
            return await work()
        """
    assert _to_sync(source) == textwrap.dedent("""
        import time
        from collections.abc import Iterator, Callable

        from psycopg import Connection
        import psycopg

        from ._sql import sync_queries  # the loaded SQL
        from ..errors import NotFound
        from .partitions import create_ahead
        from mesher.ingest import ingest_event

        _q = sync_queries()


        # a comment that says await and async stays
        @decorated
        def step(conn: psycopg.Connection[Any], work: Callable[[], T]) -> T:
            with conn.transaction(), conn.cursor() as cur:  # type: ignore[misc]
                time.sleep(0.1 * 2**attempts())
                for row in _q.events.list_events(conn):
                    kept = {r for r in rows(conn) if keep(r)}
            return work()
        """)


def test_the_last_dropped_import_takes_its_comma() -> None:
    source = "from collections.abc import Callable, Awaitable\n"
    assert _to_sync(source) == "from collections.abc import Callable\n"


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("import asyncio\nasyncio.gather(a(), b())\n", "asyncio.gather"),
        ("from collections.abc import Awaitable, Callable\nx: Awaitable\n", "Awaitable here"),
        ("from collections.abc import Awaitable\n", "nothing left to import"),
        ("import mesher.aio.ingest\n", "mesher.aio"),
        ("from contextlib import asynccontextmanager\n", "asynccontextmanager"),
        ("class C:\n    async def __aexit__(self) -> None: ...\n", "__aexit__"),
    ],
)
def test_an_async_construct_without_a_sync_twin_is_an_error(source: str, complaint: str) -> None:
    with pytest.raises(gen_sync.SyncError, match=complaint):
        gen_sync.to_sync(source)


def test_text_that_strays_from_the_tree_stops_the_script(monkeypatch: pytest.MonkeyPatch) -> None:
    # as if an edit had gone astray: the text keeps its await, the tree has none
    monkeypatch.setattr(gen_sync, "_apply", lambda source, edits: source)
    with pytest.raises(gen_sync.SyncError, match="does not give the transformed tree"):
        gen_sync.to_sync("async def f() -> None:\n    await g()\n")


def _comments(path: Path) -> list[str]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [t.string for t in tokens if t.type == tokenize.COMMENT]


def _strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return sorted(
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


@pytest.mark.parametrize("source", gen_sync.sources(), ids=lambda p: p.name)
def test_twins_keep_every_comment_string_and_docstring(source: Path) -> None:
    twin = ROOT / "mesher" / source.relative_to(gen_sync.AIO)
    assert _comments(twin)[0].startswith("# Generated from mesher/aio/")
    assert _comments(twin)[1:] == _comments(source)
    assert _strings(twin) == _strings(source)


# --- query namespaces (mesher/_sql.py) ----------------------------------------------


def _file_queries(path: Path) -> set[str]:
    return set(aiosql.from_path(path, "psycopg").available_queries)


def test_query_names_are_unique_across_files() -> None:
    counts = Counter(name for path in SQL_FILES for name in _file_queries(path))
    assert counts and [name for name, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("loaded", [sync_queries(), async_queries()], ids=["sync", "async"])
def test_each_sql_file_is_a_namespace_and_names_stay_flat(loaded: Any) -> None:
    flat = set()
    for path in SQL_FILES:
        entity = getattr(loaded, path.stem)
        names = _file_queries(path)
        assert set(entity.available_queries) == names, path.name
        for name in names:
            assert getattr(loaded, name) is getattr(entity, name)
        flat |= names
    dotted = {f"{path.stem}.{name}" for path in SQL_FILES for name in _file_queries(path)}
    assert set(loaded.available_queries) == flat | dotted
    assert loaded.events.get_event.sql == loaded.get_event.sql
    assert loaded.is_aio == (loaded is async_queries()) == loaded.events.is_aio


def test_a_query_name_in_two_files_fails_the_load(tmp_path: Path) -> None:
    for entity in ("one", "two"):
        (tmp_path / f"{entity}.sql").write_text("-- name: same_name()$\nSELECT 1;\n")
    with pytest.raises(SQLLoadException, match="same_name"):
        load_queries(_Adapter, tmp_path)
    (tmp_path / "two.sql").write_text("-- name: one()$\nSELECT 2;\n")  # a namespace's name
    with pytest.raises(SQLLoadException, match="one"):
        load_queries(_Adapter, tmp_path)
