-- Places a table on Citus, when (and only when) the citus extension exists
-- and the table is not placed yet: 'reference' copies it to every node;
-- 'project' distributes it by project_id, co-located with issues. Returns
-- whether it placed it. after_migrate.sql places every table, in the order
-- of their foreign keys. A migration that creates a table calls it with
-- new_table => true right after CREATE TABLE and before adding foreign keys:
-- on a database that is distributed already, Citus allows foreign keys
-- only between placed tables; on one that is not (yet), it does nothing
-- and after_migrate.sql places the table with the others.
CREATE OR REPLACE FUNCTION place_on_citus(
    table_name TEXT, placement TEXT, new_table BOOLEAN DEFAULT FALSE
) RETURNS BOOLEAN
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
    IF placement NOT IN ('reference', 'project') THEN
        RAISE EXCEPTION 'placement must be reference or project, not %', placement;
    END IF;
    IF to_regproc('create_distributed_table') IS NULL THEN
        RETURN FALSE;
    END IF;
    IF to_regclass(table_name) IS NULL
        OR EXISTS (
            SELECT FROM pg_dist_partition WHERE logicalrelid = to_regclass(table_name)
        ) THEN
        RETURN FALSE;
    END IF;
    IF new_table AND NOT EXISTS (
        SELECT FROM pg_dist_partition WHERE logicalrelid = to_regclass('issues')
    ) THEN
        RETURN FALSE;
    END IF;
    -- The tables are linked by foreign keys; keep Citus from turning the
    -- ones not placed yet into "Citus local tables" on the way.
    SET LOCAL citus.enable_local_reference_table_foreign_keys TO off;
    -- One connection per node: placing several tables in one transaction
    -- cannot use parallel connections.
    SET LOCAL citus.multi_shard_modify_mode TO 'sequential';
    IF placement = 'reference' THEN
        PERFORM create_reference_table(table_name::REGCLASS);
    ELSE
        PERFORM create_distributed_table(
            table_name::REGCLASS, 'project_id',
            colocate_with => CASE table_name WHEN 'issues' THEN 'default' ELSE 'issues' END
        );
    END IF;
    RETURN TRUE;
END
$$;

COMMENT ON FUNCTION place_on_citus(TEXT, TEXT, BOOLEAN) IS
'Places a table on Citus once (a reference table, or distributed by project_id '
'with issues) when the citus extension exists; elsewhere it does nothing.';
