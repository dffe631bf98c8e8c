"""The async twins: same names, same SQL, same errors."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg.rows import dict_row

from mesher import ingest, maintenance, partitions, queries
from mesher.aio import ingest as aingest
from mesher.aio import maintenance as amaintenance
from mesher.aio import partitions as apartitions
from mesher.aio import queries as aq
from mesher.errors import Conflict, InvalidCredentials, InvalidInput, NotFound
from mesher.models import Role

T = TypeVar("T")


def run(db_url: str, body: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
    async def main() -> T:
        # dict_row on purpose: helpers must not depend on the caller's row factory.
        async with await psycopg.AsyncConnection.connect(db_url, row_factory=dict_row) as conn:
            return await body(conn)

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("sync_mod", "async_mod"),
    [
        (queries, aq),
        (partitions, apartitions),
        (maintenance, amaintenance),
        (ingest, aingest),
    ],
)
def test_same_names_and_signatures(sync_mod: Any, async_mod: Any) -> None:
    assert sync_mod.__all__ == async_mod.__all__
    coroutines = 0
    for name in async_mod.__all__:
        afn, fn = getattr(async_mod, name), getattr(sync_mod, name)
        if inspect.iscoroutinefunction(afn):
            coroutines += 1
            assert inspect.isfunction(fn) and not inspect.iscoroutinefunction(fn)
            a_params = list(inspect.signature(afn).parameters)
            assert a_params == list(inspect.signature(fn).parameters)
    assert coroutines >= 1


def test_async_round_trip(app_url: str) -> None:
    async def body(conn: psycopg.AsyncConnection[Any]) -> None:
        org_id = await aq.insert_org(conn, "Acme", "acme")
        assert (await aq.get_org(conn, org_id)).slug == "acme"
        assert [o.id for o in await aq.list_orgs(conn)] == [org_id]
        project_id = await aq.insert_project(conn, org_id, "Web", "js")
        assert [p.id for p in await aq.list_projects_by_org(conn, org_id)] == [project_id]
        key = await aq.create_api_key(conn, project_id, "default")
        assert (await aq.get_project_by_api_key(conn, key)).id == project_id
        user_id = await aq.create_user(conn, "a@example.com", "pw", "A")
        assert (await aq.authenticate_user(conn, "A@EXAMPLE.COM", "pw")).id == user_id
        token = await aq.create_session(conn, user_id)
        assert re.fullmatch(r"[0-9a-f]{64}", token)
        assert (await aq.validate_session(conn, token)).user_id == user_id
        assert await aq.delete_session(conn, token) == 1
        await aq.add_member(conn, user_id, org_id, Role.OWNER)
        assert [m.role for m in await aq.get_members(conn, org_id)] == [Role.OWNER]
        assert [m.org_id for m in await aq.get_user_orgs(conn, user_id)] == [org_id]
        await conn.commit()

    run(app_url, body)
    with psycopg.connect(app_url) as conn:
        assert [o.slug for o in queries.list_orgs(conn)] == ["acme"]


def test_async_errors_are_translated(app_url: str) -> None:
    async def body(conn: psycopg.AsyncConnection[Any]) -> None:
        await aq.insert_org(conn, "Acme", "acme")
        await conn.commit()
        with pytest.raises(Conflict):
            await aq.insert_org(conn, "Again", "acme")
        await conn.rollback()
        with pytest.raises(NotFound):
            await aq.get_org(conn, "00000000-0000-7000-8000-000000000000")
        with pytest.raises(InvalidInput):
            await aq.get_org(conn, "nope")
        with pytest.raises(InvalidCredentials):
            await aq.authenticate_user(conn, "x@example.com", "pw")
        with pytest.raises(InvalidInput):
            await apartitions.create_partition(conn, "20350230")

    run(app_url, body)


def test_async_project_scoped_helpers(app_url: str) -> None:
    async def body(conn: psycopg.AsyncConnection[Any]) -> None:
        org_id = await aq.insert_org(conn, "Acme", "acme")
        ours = await aq.insert_project(conn, org_id, "Backend", "python")
        theirs = await aq.insert_project(conn, org_id, "Frontend", "js")
        done = await aingest.ingest_event(conn, ours, {"message": "boom"})
        await aq.create_alert_rule(conn, ours, "r", {"condition_type": "new_issue"}, {})
        (alert,) = await aq.fire_issue_rules(conn, ours, [done])

        issue = await aq.get_issue(conn, done.issue_id, project_id=ours)
        assert issue == await aq.get_issue(conn, done.issue_id)
        with pytest.raises(NotFound, match=f"^issue {done.issue_id} not found$"):
            await aq.resolve_issue(conn, done.issue_id, project_id=theirs)
        assert await aq.get_issue(conn, done.issue_id) == issue  # not resolved
        page = await aq.list_events_for_issue(conn, done.issue_id, project_id=ours)
        assert [e.id for e in page.items] == [done.event_id]
        assert (await aq.list_events_for_issue(conn, done.issue_id, project_id=theirs)).items == []
        with pytest.raises(NotFound, match=f"^alert {alert.id} not found$"):
            await aq.acknowledge_alert(conn, alert.id, project_id=theirs)
        assert await aq.get_alert(conn, alert.id, project_id=ours) == alert  # still active
        acked = await aq.acknowledge_alert(conn, alert.id, project_id=ours)
        with pytest.raises(Conflict):
            await aq.acknowledge_alert(conn, alert.id, project_id=ours)
        with pytest.raises(NotFound):
            await aq.acknowledge_alert(conn, alert.id, project_id=theirs)
        assert await aq.get_alert(conn, alert.id) == acked
        with pytest.raises(InvalidInput, match="project_id must be a UUID"):
            await aq.get_alert(conn, alert.id, project_id="nope")

    run(app_url, body)


def test_async_partitions(db_url: str) -> None:
    async def body(conn: psycopg.AsyncConnection[Any]) -> None:
        assert await apartitions.create_partition(conn, "20350101") is True
        assert await apartitions.create_partitions_ahead(conn, 3) == []
        await conn.commit()
        report = await amaintenance.maintain(conn, days_ahead=9)
        assert len(report.created) == 2

    run(db_url, body)
