"""The migrated schema has the specification's shape, and sql/schema.sql is
exactly what the migrations make.

sql/schema.sql (tools/dump_schema.py) is the full description of the current
schema: the tests below that it matches the migrations replace a hand-written
list of tables, columns and indexes. What stays here are the properties that
the specification and the Python code rely on.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg
from psycopg.sql import SQL, Identifier

from mesher import partitions
from mesher.models import AlertStatus, IssueStatus, Role, Severity

from .conftest import Server

Conn = psycopg.Connection[Any]
ROOT = Path(__file__).resolve().parent.parent

# The specification names these 15 indexes (index: table); applications and
# DBAs refer to them by name.
SPEC_INDEXES = {
    "idx_org_memberships_user": "org_memberships",
    "idx_org_memberships_org": "org_memberships",
    "idx_sessions_user": "sessions",
    "idx_sessions_expires": "sessions",
    "idx_projects_org": "projects",
    "idx_api_keys_project": "api_keys",
    "idx_api_keys_value": "api_keys",
    "idx_issues_project_status": "issues",
    "idx_issues_project_last_seen": "issues",
    "idx_events_project_received": "events",
    "idx_events_issue_received": "events",
    "idx_events_level": "events",
    "idx_events_fingerprint": "events",
    "idx_events_tags": "events",
    "idx_alert_rules_project": "alert_rules",
}

# --- sql/schema.sql -------------------------------------------------------------

# The daily partitions (<table>_YYYYMMDD, of events, event_tags or any other
# table) are made at run time and left out of sql/schema.sql, and so are their
# indexes and constraints (event_tags_20261127_pkey, ...). A PostgreSQL regular
# expression, for relation names and for pg_describe_object's text.
DAILY = r"_[0-9]{8}(_|\M)"
# The same in sql/schema.sql's text: an identifier with a date in it.
DATED_NAME = re.compile(r"[A-Za-z]\w*?_[0-9]{8}(?![0-9])")

# One query per kind of object; each row says everything that must match.
# ACLs are compared with NULL (never granted) read as the default privileges.
CATALOG = {
    "tables": """SELECT c.relname, c.relkind::text, c.relispartition,
            pg_get_expr(c.relpartbound, c.oid), pg_get_partkeydef(c.oid),
            CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
            coalesce(c.relacl, acldefault('r', c.relowner))::text
        FROM pg_class AS c
        WHERE c.relnamespace = 'public'::regnamespace
        AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relname !~ %(daily)s""",
    "columns": """SELECT c.relname, a.attname,
            rank() OVER (PARTITION BY c.oid ORDER BY a.attnum),
            format_type(a.atttypid, a.atttypmod), a.attnotnull,
            pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
            coalesce(a.attacl::text, '')
        FROM pg_attribute AS a
        INNER JOIN pg_class AS c ON a.attrelid = c.oid
        LEFT JOIN pg_attrdef AS d ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        AND a.attnum > 0 AND NOT a.attisdropped AND c.relname !~ %(daily)s""",
    "indexes": """SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename !~ %(daily)s AND indexname !~ %(daily)s""",
    "constraints": """SELECT conrelid::regclass::text, conname, contype::text,
            pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text !~ %(daily)s""",
    "functions": """SELECT p.proname, pg_get_function_identity_arguments(p.oid),
            pg_get_functiondef(p.oid), coalesce(p.proacl, acldefault('f', p.proowner))::text
        FROM pg_proc AS p
        WHERE p.pronamespace = 'public'::regnamespace AND NOT EXISTS (
            SELECT FROM pg_depend AS d WHERE d.classid = 'pg_proc'::regclass
            AND d.objid = p.oid AND d.deptype = 'e')""",
    "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE NOT tgisinternal AND tgrelid::regclass::text !~ %(daily)s""",
    "types": """SELECT typname, typtype::text, format_type(typbasetype, typtypmod) FROM pg_type
        WHERE typnamespace = 'public'::regnamespace AND typtype IN ('d', 'e', 'r', 'm')""",
    "extensions": "SELECT extname, extversion, extnamespace::regnamespace::text FROM pg_extension",
    "schema": """SELECT nspname, coalesce(nspacl, acldefault('n', nspowner))::text
        FROM pg_namespace WHERE nspname = 'public'""",
    "default privileges": """SELECT defaclrole::regrole::text,
            defaclnamespace::regnamespace::text, defaclobjtype::text, defaclacl::text
        FROM pg_default_acl""",
    "comments": """SELECT pg_describe_object(classoid, objoid, objsubid), description
        FROM pg_description WHERE objoid >= 16384
        AND pg_describe_object(classoid, objoid, objsubid) !~ %(daily)s""",
}


def _catalog(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {
            kind: sorted(conn.execute(query, {"daily": DAILY}).fetchall(), key=repr)
            for kind, query in CATALOG.items()
        }


def _pg18_only(server: Server) -> None:
    if server.version != "18":
        # schema.sql is PostgreSQL 18's dump: its id defaults call the built-in
        # uuidv7(), which 15 lacks (there the migrations install a polyfill).
        pytest.skip("sql/schema.sql is dumped from and loads on PostgreSQL 18")


def _check(db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "tools/dump_schema.py", "--check", "--database-url", db_url],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def _assert_schema_sql_gives(migrated_url: str, empty_url: str) -> None:
    """Load sql/schema.sql into ``empty_url``: the catalog must be that of ``migrated_url``."""
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute((ROOT / "sql" / "schema.sql").read_bytes())
    loaded, migrated = _catalog(empty_url), _catalog(migrated_url)
    assert migrated["tables"], "no tables: the comparison would prove nothing"
    for kind in CATALOG:
        extra = sorted(set(loaded[kind]) - set(migrated[kind]), key=repr)
        missing = sorted(set(migrated[kind]) - set(loaded[kind]), key=repr)
        assert (extra, missing) == ([], []), f"{kind}: only from schema.sql / only migrated"
    assert loaded == migrated


def _daily_partitions(conn: Conn) -> set[str]:
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        " AND relispartition AND relkind = 'r' AND relname ~ %s",
        (DAILY,),
    ).fetchall()
    return {name for (name,) in rows}


def test_schema_sql_is_up_to_date(server: Server, db_url: str) -> None:
    _pg18_only(server)
    run = _check(db_url)
    assert run.returncode == 0, run.stderr + run.stdout


def test_schema_sql_gives_what_the_migrations_give(
    server: Server, db_url: str, empty_db_url: str
) -> None:
    _pg18_only(server)
    _assert_schema_sql_gives(db_url, empty_db_url)


# Days far from any day the suite may run on, before and after it.
OTHER_DAYS = [dt.date(2011, 2, 28), dt.date(2041, 12, 31), dt.date(2042, 1, 1)]


def test_schema_sql_holds_on_a_database_partitioned_for_other_days(
    server: Server, db_url: str, empty_db_url: str
) -> None:
    """A database migrated on another day has other daily partitions: the
    check and the comparison must not see them. The clock is moved by
    dropping the partitions the migration made and creating those of
    OTHER_DAYS (create_events_partition's day parameter)."""
    _pg18_only(server)
    with psycopg.connect(db_url, autocommit=True) as conn:
        made_today = _daily_partitions(conn)
        assert {name.rsplit("_", 1)[0] for name in made_today} == {"events", "event_tags"}
        for name in sorted(made_today):
            conn.execute(SQL("DROP TABLE {}").format(Identifier(name)))
        for day in OTHER_DAYS:
            assert partitions.create_partition(conn, day)
        other = _daily_partitions(conn)
    assert other == {
        f"{table}_{day:%Y%m%d}" for table in ("events", "event_tags") for day in OTHER_DAYS
    }
    assert not other & made_today
    run = _check(db_url)
    assert run.returncode == 0, run.stderr + run.stdout
    _assert_schema_sql_gives(db_url, empty_db_url)


def test_the_check_fails_on_a_schema_that_differs(server: Server, db_url: str) -> None:
    """The other-day test above proves something only if --check can fail."""
    _pg18_only(server)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE not_in_schema_sql (id int PRIMARY KEY)")
    run = _check(db_url)
    assert run.returncode == 1
    assert "not_in_schema_sql" in run.stdout


def test_daily_partitions_are_left_out_of_schema_sql(server: Server, db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        daily = _daily_partitions(conn)
    # The migrated database has some of each table, so the exclusion is tested.
    assert {name.rsplit("_", 1)[0] for name in daily} == {"events", "event_tags"}
    text = (ROOT / "sql" / "schema.sql").read_text()
    assert "events_default" in text
    assert "event_tags_default" in text
    assert DATED_NAME.findall(text) == []


def test_dated_name_pattern_finds_every_kind_of_daily_object() -> None:
    """DATED_NAME, which guards sql/schema.sql, sees the partitions of any
    table and their indexes, and not the function bodies' date patterns."""
    found = DATED_NAME.findall(
        "CREATE TABLE public.event_tags_20261127 (\n"
        "ALTER INDEX public.idx_x ATTACH PARTITION public.events_20261203_level_idx;\n"
        "ALTER TABLE ONLY public.rollups_19991231 ADD CONSTRAINT rollups_19991231_pkey"
    )
    assert found == [
        "event_tags_20261127", "events_20261203", "rollups_19991231", "rollups_19991231",
    ]  # fmt: skip
    assert DATED_NAME.findall("to_char(day, 'YYYYMMDD') '_([0-9]{8})$' events_default") == []


# The headings of sql/schema.sql: "-- Functions ====" for a section,
# "-- events ----" for a table's group.
HEADING = re.compile(r"^-- (\S+(?: \S+)*) ([=-])\2+$", re.M)


def _groups(text: str) -> tuple[list[str], dict[str, str]]:
    """sql/schema.sql's section titles in order, and each table group's text."""
    sections: list[str] = []
    groups: dict[str, str] = {}
    marks = list(HEADING.finditer(text))
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        body = text[mark.end() : after.start() if after else len(text)]
        if mark[2] == "=":
            sections.append(mark[1])
        else:
            assert sections[-1].startswith("Tables"), mark[1]
            groups[mark[1]] = body
    return sections, groups


def test_schema_sql_reads_table_by_table(server: Server, db_url: str) -> None:
    """Each table's group holds its CREATE TABLE, its comments, its keys and
    constraints, its indexes and its partitions; the partitions' copies of
    their parent's indexes are not repeated. Checked against the catalog of
    the migrated database, so a key or index written elsewhere fails."""
    _pg18_only(server)
    text = (ROOT / "sql" / "schema.sql").read_text()
    sections, groups = _groups(text)
    assert sections == [
        "Extensions and types", "Tables, each with its keys, indexes and partitions",
        "Functions", "Triggers", "Privileges",
    ]  # fmt: skip
    assert "-- Name:" not in text
    with psycopg.connect(db_url) as conn:
        tables = conn.execute(
            """SELECT c.relname, obj_description(c.oid, 'pg_class'),
                array(SELECT i.relname FROM pg_index AS x
                    INNER JOIN pg_class AS i ON x.indexrelid = i.oid
                    WHERE x.indrelid = c.oid AND NOT EXISTS (
                        SELECT FROM pg_constraint AS k WHERE k.conindid = i.oid)),
                array(SELECT conname FROM pg_constraint
                    WHERE conrelid = c.oid AND contype <> 'n'),
                array(SELECT p.relname FROM pg_inherits AS h
                    INNER JOIN pg_class AS p ON h.inhrelid = p.oid
                    WHERE h.inhparent = c.oid AND p.relname !~ %(daily)s),
                array(SELECT format('%%I.%%I', c.relname, a.attname) FROM pg_attribute AS a
                    WHERE a.attrelid = c.oid AND col_description(c.oid, a.attnum) IS NOT NULL)
            FROM pg_class AS c
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
            AND NOT c.relispartition""",
            {"daily": DAILY},
        ).fetchall()
    assert sorted(groups) == sorted(name for name, *_ in tables)
    for name, comment, indexes, constraints, children, columns in tables:
        group = groups[name]
        assert f"\nCREATE TABLE public.{name} (\n" in group
        for index in indexes:
            assert re.search(rf"^CREATE (UNIQUE )?INDEX {index} ON public\.{name} ", group, re.M)
        for constraint in constraints:
            assert re.search(rf"\bCONSTRAINT {constraint} ", group), (name, constraint)
        for partition in children:
            assert f"\nCREATE TABLE public.{partition} PARTITION OF public.{name} " in group
            assert not re.search(rf"INDEX {partition}_\w+ ON", text), partition
        if comment is not None:
            assert f"\nCOMMENT ON TABLE public.{name} IS " in group
        for column in columns:
            assert f"\nCOMMENT ON COLUMN public.{column} IS " in group


@pytest.mark.citus
def test_every_table_and_function_has_a_comment(conn: Conn) -> None:
    """The why of each table and function reaches \\d+ and \\df+: the tables'
    from migration 0020 and later ones, the functions' from their files."""
    rows = conn.execute(
        """SELECT c.oid::regclass::text FROM pg_class AS c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
        AND c.relname !~ %(daily)s AND obj_description(c.oid, 'pg_class') IS NULL
        AND NOT EXISTS (
            SELECT FROM pg_depend AS d WHERE d.classid = 'pg_class'::regclass
            AND d.objid = c.oid AND d.deptype = 'e')  -- Citus's views
        UNION ALL
        SELECT p.oid::regprocedure::text FROM pg_proc AS p
        WHERE p.pronamespace = 'public'::regnamespace
        AND obj_description(p.oid, 'pg_proc') IS NULL AND NOT EXISTS (
            SELECT FROM pg_depend AS d WHERE d.classid = 'pg_proc'::regclass
            AND d.objid = p.oid AND d.deptype = 'e')""",
        {"daily": DAILY},
    ).fetchall()
    assert rows == []


def _dump_schema() -> Any:
    spec = importlib.util.spec_from_file_location("dump_schema", ROOT / "tools" / "dump_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _block(name: str, kind: str, sql: str) -> str:
    return f"--\n-- Name: {name}; Type: {kind}; Schema: public; Owner: -\n--\n\n{sql}\n\n\n"


def _key(table: str, name: str, definition: str) -> str:
    kind = "FK CONSTRAINT" if "FOREIGN" in definition else "CONSTRAINT"
    sql = f"ALTER TABLE ONLY public.{table}\n    ADD CONSTRAINT {name} {definition};"
    return _block(f"{table} {name}", kind, sql)


def test_tables_come_after_the_tables_they_reference() -> None:
    """Created first, "a" still comes after "b", which its foreign key
    references; a cycle of foreign keys is refused by name."""
    dump_schema = _dump_schema()
    raw = "".join([
        _block("a", "TABLE", "CREATE TABLE public.a (\n    b_id integer\n);"),
        _block("b", "TABLE", "CREATE TABLE public.b (\n    id integer\n);"),
        _key("b", "b_pkey", "PRIMARY KEY (id)"),
        _key("a", "a_b_fkey", "FOREIGN KEY (b_id) REFERENCES public.b(id)"),
    ])  # fmt: skip
    text = dump_schema.normalise(raw, ["a", "b"])
    assert text.index("CREATE TABLE public.b (") < text.index("CREATE TABLE public.a (")
    assert text.index("CREATE TABLE public.a (") < text.index("ADD CONSTRAINT a_b_fkey")
    cycle = raw + _key("b", "b_a_fkey", "FOREIGN KEY (id) REFERENCES public.a(b_id)")
    with pytest.raises(dump_schema.DumpError, match="foreign keys in a cycle among a, b"):
        dump_schema.normalise(cycle, ["a", "b"])


# --- properties the specification and the code rely on --------------------------


def test_specified_indexes_exist_by_name(conn: Conn) -> None:
    rows = conn.execute(
        "SELECT indexname, tablename FROM pg_indexes WHERE schemaname = 'public'"
        " AND indexname = ANY(%s)",
        (list(SPEC_INDEXES),),
    ).fetchall()
    assert dict(rows) == SPEC_INDEXES


def test_ids_default_to_uuidv7(conn: Conn) -> None:
    """Every uuid id; the migration history's identity columns are counters."""
    defaults = dict(
        conn.execute(
            """SELECT c.relname, pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute AS a
            INNER JOIN pg_class AS c ON a.attrelid = c.oid
            LEFT JOIN pg_attrdef AS d ON a.attrelid = d.adrelid AND a.attnum = d.adnum
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
            AND NOT c.relispartition AND a.attname = 'id'
            AND a.attidentity = ''"""
        ).fetchall()
    )
    assert {"organizations", "users", "projects", "issues", "events", "alerts"} <= set(defaults)
    assert all(d == "uuidv7()" for d in defaults.values()), defaults


def test_events_partitioned_by_received_at(conn: Conn) -> None:
    (strategy, key) = conn.execute(
        """SELECT p.partstrat, pg_get_partkeydef(p.partrelid) FROM pg_partitioned_table p
        WHERE p.partrelid = 'events'::regclass"""
    ).fetchone()
    assert (strategy, key) == ("r", "RANGE (received_at)")
    (default,) = conn.execute(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'events_default'"
    ).fetchone()
    assert default == "DEFAULT"
    (pk,) = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'events'::regclass AND contype = 'p'"
    ).fetchone()
    assert pk == "PRIMARY KEY (project_id, id, received_at)"


def test_jsonb_columns_and_defaults(conn: Conn) -> None:
    rows = conn.execute(
        """SELECT column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_name = 'events'
        AND column_name IN ('exception', 'stacktrace', 'breadcrumbs', 'tags', 'extra',
                            'user_context')"""
    ).fetchall()
    by_name = {r[0]: r[1:] for r in rows}
    assert all(t == "jsonb" for t, _, _ in by_name.values())
    assert by_name["tags"][1:] == ("NO", "'{}'::jsonb")
    assert by_name["extra"][1:] == ("NO", "'{}'::jsonb")


def test_pgcrypto_installed(conn: Conn) -> None:
    assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto'").fetchone()


def _check_values(conn: Conn, constraint: str) -> set[str]:
    (definition,) = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", (constraint,)
    ).fetchone()
    return {part.split("'")[1] for part in definition.split("ARRAY[")[1].split(",")}


@pytest.mark.parametrize(
    ("constraint", "values"),
    [
        ("org_memberships_role_check", {r.value for r in Role}),
        ("issues_status_check", {s.value for s in IssueStatus}),
        ("issues_level_check", {s.value for s in Severity}),
        ("events_level_check", {s.value for s in Severity}),
        ("alerts_status_check", {s.value for s in AlertStatus}),
        ("project_hourly_counts_level_check", {s.value for s in Severity}),
    ],
)
def test_check_constraints_match_the_enums(conn: Conn, constraint: str, values: set[str]) -> None:
    assert _check_values(conn, constraint) == values


def test_check_constraints_refuse_other_values(conn: Conn) -> None:
    org = conn.execute("INSERT INTO organizations (name, slug) VALUES ('o', 'o') RETURNING id")
    org_id = org.fetchone()[0]
    project_id = conn.execute(
        "INSERT INTO projects (org_id, name) VALUES (%s, 'p') RETURNING id", (org_id,)
    ).fetchone()[0]
    for sql in (
        "INSERT INTO issues (project_id, fingerprint, title, level) VALUES (%s, 'f', 't', 'loud')",
        "INSERT INTO issues (project_id, fingerprint, title, level, status) "
        "VALUES (%s, 'f', 't', 'error', 'gone')",
    ):
        with pytest.raises(pg.CheckViolation), conn.transaction():
            conn.execute(sql, (project_id,))


def test_uuidv7_on_this_server(conn: Conn) -> None:
    ids = [r[0] for r in conn.execute("SELECT uuidv7() FROM generate_series(1, 50)")]
    assert all(isinstance(i, uuid.UUID) and i.version == 7 for i in ids)
    assert all(i.variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == 50
    assert ids == sorted(ids)  # one backend: creation order
    polyfill = conn.execute("SELECT to_regprocedure('public.uuidv7()') IS NOT NULL").fetchone()[0]
    assert polyfill == (conn.info.server_version < 180000)


def _citus_list(name: str) -> list[str]:
    """A table list of after_migrate.sql's Citus block."""
    text = (ROOT / "sql" / "migrations" / "after_migrate.sql").read_text()
    block = re.search(name + r" CONSTANT TEXT\[\] := ARRAY\[(.*?)\];", text, re.S)
    assert block, name
    return re.findall(r"'(\w+)'", block.group(1))


def test_project_tables_are_keyed_and_placed_by_project(conn: Conn) -> None:
    """Every table of a project's rows starts its primary key with project_id,
    links to issues through (project_id, issue_id), and is in the Citus
    block's project_tables (distributed by project_id, co-located). The
    per-issue rows of the tag store and the rollups link by a trigger on
    issues instead (migration 0018; on Citus, by their foreign keys)."""
    reference, project = _citus_list("reference_tables"), _citus_list("project_tables")
    rows = conn.execute(
        """SELECT c.relname, pg_get_constraintdef(k.oid)
        FROM pg_class AS c
        INNER JOIN pg_constraint AS k ON k.conrelid = c.oid AND k.contype = 'p'
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
        AND NOT c.relispartition AND EXISTS (
            SELECT FROM pg_attribute AS a WHERE a.attrelid = c.oid AND a.attname = 'project_id'
        )"""
    ).fetchall()
    keyed = {name for name, _ in rows if name not in reference}
    assert {"issue_tag_values", "project_tag_values", "project_hourly_counts",
            "issue_hourly_counts"} <= keyed  # fmt: skip
    assert sorted(keyed) == sorted(project)
    for name, primary_key in rows:
        if name in keyed:
            assert re.match(r"PRIMARY KEY \(project_id[,)]", primary_key), (name, primary_key)
    links = conn.execute(
        """SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE contype = 'f' AND confrelid = 'issues'::regclass AND NOT EXISTS (
            SELECT FROM pg_inherits WHERE inhrelid = conrelid)"""
    ).fetchall()
    assert {t for t, _ in links} >= {"events"}
    assert not {t for t, _ in links} & {"issue_tag_values", "issue_hourly_counts"}
    triggers = conn.execute(
        """SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE tgrelid = 'issues'::regclass AND NOT tgisinternal ORDER BY tgname"""
    ).fetchall()
    assert [(name, " ".join(d.split()[3:])) for name, d in triggers] == [
        ("issues_delete_tags_and_hours", "AFTER DELETE ON public.issues REFERENCING OLD TABLE AS"
         " deleted_issues FOR EACH STATEMENT EXECUTE FUNCTION delete_issue_tags_and_hours()"),
        ("issues_truncate_tags_and_hours", "AFTER TRUNCATE ON public.issues FOR EACH STATEMENT"
         " EXECUTE FUNCTION delete_issue_tags_and_hours()"),
    ]  # fmt: skip
    for table, definition in links:
        assert definition == (
            "FOREIGN KEY (project_id, issue_id) REFERENCES issues(project_id, id) ON DELETE CASCADE"
        ), table
