-- Runs after every migration run, after the numbered files and the files of
-- sql/functions/, outside both histories; idempotent.

-- The history tables (before_migrate.sql) are the migrating role's alone:
-- migration 0008 grants the application role every table of the schema,
-- and its default privileges every new one.
DO $history$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'mesher_app') THEN
        REVOKE ALL ON TABLE schema_migrations, schema_function_applications FROM mesher_app;
    END IF;
END
$history$;

-- The upgrade trap: on PostgreSQL < 18, 0001 installs public.uuidv7()
-- (sql/functions/uuidv7.sql) and every id default binds to it (by OID).
-- After a pg_upgrade or a dump and restore onto 18+, those defaults would
-- still call the slow polyfill. Once the server has pg_catalog.uuidv7(),
-- rebind each default that depends on the polyfill to the built-in and drop
-- the polyfill.
DO $rebind$
DECLARE
    polyfill regprocedure := to_regprocedure('public.uuidv7()');
    col record;
BEGIN
    IF polyfill IS NULL OR to_regprocedure('pg_catalog.uuidv7()') IS NULL THEN
        RETURN;
    END IF;
    IF obj_description(polyfill, 'pg_proc') IS DISTINCT FROM
        'mesher polyfill: RFC 9562 UUIDv7 for PostgreSQL < 18' THEN
        RETURN;  -- someone else's function: leave it alone
    END IF;
    FOR col IN
        SELECT ad.adrelid::regclass AS table_name, a.attname AS column_name
        FROM pg_depend AS d
        INNER JOIN pg_attrdef AS ad ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
        INNER JOIN pg_attribute AS a ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE d.refclassid = 'pg_proc'::regclass AND d.refobjid = polyfill
    LOOP
        EXECUTE format(
            'ALTER TABLE %s ALTER COLUMN %I SET DEFAULT pg_catalog.uuidv7()',
            col.table_name, col.column_name
        );
    END LOOP;
    EXECUTE 'DROP FUNCTION public.uuidv7()';
END
$rebind$;

-- Citus (README, "Scaling out with Citus"). When, and only when, the citus
-- extension exists in this database, every table is placed once:
-- - the tenancy tables, small and read everywhere, become reference tables
--   (one full copy on every node), in the order of their foreign keys;
-- - the tables that belong to a project are distributed by project_id and
--   co-located with issues, so that a project's issues, events, rules and
--   alerts share one shard and every project-scoped query runs on one node.
-- The history tables stay on the coordinator. A table already placed is
-- left alone (sql/functions/place_on_citus.sql), so a re-run is a no-op; a
-- new table must be added to a list (one that does not exist yet, in a
-- database not fully migrated, waits), and its migration places it too.
-- Existing rows are copied into the shards (create_distributed_table), so
-- running migrate after CREATE EXTENSION citus distributes a database that
-- was plain PostgreSQL until then.
DO $citus$
DECLARE
    reference_tables CONSTANT TEXT[] := ARRAY[
        'organizations', 'users', 'projects', 'api_keys', 'org_memberships', 'sessions'
    ];
    -- issues first: the others are co-located with it.
    project_tables CONSTANT TEXT[] := ARRAY[
        'issues', 'events', 'alert_rules', 'alerts', 'ingest_batches', 'sentry_event_ids',
        'issue_tag_values', 'project_tag_values', 'project_hourly_counts', 'issue_hourly_counts',
        'project_issue_counts', 'event_tags', 'project_rate_limits', 'project_outcomes',
        'issue_fingerprints', 'releases', 'issue_releases',
        'issue_users', 'issue_unmerges', 'project_tag_keys'
    ];
    placed TEXT[] := '{}';
    table_name TEXT;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    -- Without Citus, triggers on issues (delete_issue_tags_and_hours)
    -- delete the per-issue rows where foreign keys would (migration 0018).
    -- A database distributed now gets its keys back, before its tables are
    -- placed (Citus refuses a trigger on a distributed table unless told to
    -- run it unsafely).
    IF EXISTS (
        SELECT FROM pg_trigger
        WHERE tgrelid = to_regclass('issues') AND tgname = 'issues_delete_tags_and_hours'
    ) THEN
        DROP TRIGGER issues_delete_tags_and_hours ON issues;
        DROP TRIGGER IF EXISTS issues_truncate_tags_and_hours ON issues;
        -- Rows of no issue (left by a delete that ran with triggers
        -- disabled) would fail the keys' check; nobody can read them.
        DELETE FROM issue_tag_values AS v
        WHERE NOT EXISTS (
            SELECT FROM issues AS i WHERE i.project_id = v.project_id AND i.id = v.issue_id
        );
        DELETE FROM issue_hourly_counts AS c
        WHERE NOT EXISTS (
            SELECT FROM issues AS i WHERE i.project_id = c.project_id AND i.id = c.issue_id
        );
        ALTER TABLE issue_tag_values
        ADD CONSTRAINT issue_tag_values_issue_fkey FOREIGN KEY (project_id, issue_id)
        REFERENCES issues (project_id, id) ON DELETE CASCADE;
        ALTER TABLE issue_hourly_counts
        ADD CONSTRAINT issue_hourly_counts_issue_fkey FOREIGN KEY (project_id, issue_id)
        REFERENCES issues (project_id, id) ON DELETE CASCADE;
    END IF;
    FOREACH table_name IN ARRAY reference_tables LOOP
        IF place_on_citus(table_name, 'reference') THEN
            placed := placed || table_name;
        END IF;
    END LOOP;
    FOREACH table_name IN ARRAY project_tables LOOP
        IF place_on_citus(table_name, 'project') THEN
            placed := placed || table_name;
        END IF;
    END LOOP;
    -- The functions that statements on the shards call must exist on every
    -- node. Created after CREATE EXTENSION citus, they were propagated then;
    -- created before (a database distributed later), they are now.
    IF NOT EXISTS (
        SELECT FROM pg_dist_object
        WHERE classid = 'pg_proc'::REGCLASS AND objid = 'severity_rank(TEXT)'::REGPROCEDURE
    ) THEN
        PERFORM create_distributed_function('severity_rank(TEXT)'::REGPROCEDURE);
    END IF;
    IF to_regprocedure('event_user_key(JSONB)') IS NOT NULL AND NOT EXISTS (
        SELECT FROM pg_dist_object
        WHERE
            classid = 'pg_proc'::REGCLASS
            AND objid = to_regprocedure('event_user_key(JSONB)')
    ) THEN
        PERFORM create_distributed_function('event_user_key(JSONB)'::REGPROCEDURE);
    END IF;
    -- The rows were copied into the shards; their old copies on the
    -- coordinator are invisible from now on and only take disk space.
    FOREACH table_name IN ARRAY placed LOOP
        PERFORM truncate_local_data_after_distributing_table(table_name::REGCLASS);
    END LOOP;
    -- A statement that changes rows on several shards (an id helper called
    -- without project_id, maintenance) uses one connection per node, not
    -- several in parallel: Citus refuses to write a reference table later
    -- in a transaction that wrote a distributed table in parallel, and
    -- Mesher's helpers may be combined in one transaction in any order.
    -- Set on the database (for new sessions) when migrate may do so.
    IF pg_has_role(
        (SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE'
    ) THEN
        EXECUTE format(
            'ALTER DATABASE %I SET citus.multi_shard_modify_mode TO sequential',
            current_database()
        );
    ELSE
        RAISE WARNING 'set citus.multi_shard_modify_mode = sequential for database %: '
        'migrate may not (it does not own it)', current_database();
    END IF;
    -- The settings below are Citus's alone, so they are not in the
    -- function files: a file applied again (CREATE OR REPLACE) replaces a
    -- function's settings with its own, and this file, which runs after
    -- the function files on every run, sets them back.
    --
    -- A new day's partition moves that day's rows out of events_default and
    -- attaches in one transaction; on a distributed table, Citus allows
    -- that only over one connection per node.
    -- (Each only when the function exists: a run given older migrations
    -- and no function files, as the tests of a migration's data move do,
    -- has neither.)
    IF to_regprocedure('create_events_partition(DATE)') IS NOT NULL THEN
        ALTER FUNCTION create_events_partition(DATE)
        SET citus.multi_shard_modify_mode TO 'sequential';
    END IF;
    -- filter_events_by_tags runs its statements on generic plans; Citus
    -- plans a query with parameters per call, by the values (that is how
    -- it finds the shard), and refuses a generic plan.
    IF to_regprocedure('filter_events_by_tags(UUID, JSONB, TIMESTAMPTZ, INTEGER)') IS NOT NULL THEN
        ALTER FUNCTION filter_events_by_tags(UUID, JSONB, TIMESTAMPTZ, INTEGER)
        RESET plan_cache_mode;
    END IF;
    IF to_regprocedure('list_issue_events(UUID, UUID, TIMESTAMPTZ, UUID, INTEGER)') IS NOT NULL THEN
        ALTER FUNCTION list_issue_events(UUID, UUID, TIMESTAMPTZ, UUID, INTEGER)
        RESET plan_cache_mode;
    END IF;
END
$citus$;
