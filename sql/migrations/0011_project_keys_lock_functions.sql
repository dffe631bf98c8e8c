-- Keys that start with project_id, on every table that belongs to a project;
-- and the two lock functions that behave the same on plain PostgreSQL and on
-- Citus (at the end of this file).
--
-- On Citus (see after_migrate.sql and the README's "Scaling out with
-- Citus"), these tables are distributed by project_id and co-located: a
-- project's issues, events, rules and alerts live on one shard. Citus needs
-- the distribution column in every primary key, unique constraint and
-- foreign key, so the keys here name project_id. On plain PostgreSQL they
-- change no behaviour, and they make the links stricter: an event can only
-- belong to an issue of its own project, an alert only to a rule of its own
-- project.
--
-- Lookups by id alone (the helpers called without project_id) keep an index
-- on id for issues, alert rules and alerts. Events are always looked up with
-- their project (get_event), so their id needs no index of its own: the new
-- primary key replaces the old one.
--
-- Every row stays; the new keys are built from the columns already there.
-- The rebuild takes an exclusive lock on each table while its indexes are
-- built: on a large events table, run it in a quiet hour.

-- The links to the old keys go first.
ALTER TABLE events DROP CONSTRAINT events_issue_id_fkey;
ALTER TABLE alerts DROP CONSTRAINT alerts_rule_id_fkey;

ALTER TABLE issues
DROP CONSTRAINT issues_pkey,
ADD CONSTRAINT issues_pkey PRIMARY KEY (project_id, id);
CREATE INDEX idx_issues_id ON issues (id);

ALTER TABLE alert_rules
DROP CONSTRAINT alert_rules_pkey,
ADD CONSTRAINT alert_rules_pkey PRIMARY KEY (project_id, id);
CREATE INDEX idx_alert_rules_id ON alert_rules (id);

ALTER TABLE alerts
DROP CONSTRAINT alerts_pkey,
ADD CONSTRAINT alerts_pkey PRIMARY KEY (project_id, id);
CREATE INDEX idx_alerts_id ON alerts (id);

-- The partition key (received_at) must be part of every unique key of a
-- partitioned table.
ALTER TABLE events
DROP CONSTRAINT events_pkey,
ADD CONSTRAINT events_pkey PRIMARY KEY (project_id, id, received_at);

-- The links again, now through the project. Deleting an issue or a rule
-- still deletes its events or alerts.
ALTER TABLE events
ADD CONSTRAINT events_issue_fkey FOREIGN KEY (project_id, issue_id)
REFERENCES issues (project_id, id) ON DELETE CASCADE;
ALTER TABLE alerts
ADD CONSTRAINT alerts_rule_fkey FOREIGN KEY (project_id, rule_id)
REFERENCES alert_rules (project_id, id) ON DELETE CASCADE;

-- The write path's first statement (queries/ingest.sql, lock_fingerprints):
-- one transaction-level advisory lock per fingerprint of a batch, in the
-- order given (the caller sorts the keys), so concurrent batches that share
-- fingerprints queue instead of deadlocking. Returns how many it took.
--
-- Advisory locks belong to one server. On Citus they exclude each other only
-- among writers connected to the same node, so Mesher writes through the
-- coordinator only: on any other node of a cluster (Citus lets every node
-- take queries), this refuses to take the locks, and so the write, with
-- SQLSTATE 0A000 (feature_not_supported).
CREATE FUNCTION lock_fingerprints(keys BIGINT[]) RETURNS BIGINT
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
    IF to_regproc('citus_is_coordinator') IS NOT NULL THEN
        IF NOT citus_is_coordinator() THEN
            RAISE EXCEPTION 'Mesher writes events through the Citus coordinator only'
                USING ERRCODE = 'feature_not_supported',
                HINT = 'Advisory locks are per node: connect the write path to the coordinator.';
        END IF;
    END IF;
    PERFORM pg_advisory_xact_lock(k) FROM unnest(keys) AS k;
    RETURN cardinality(keys);
END
$$;

-- Bounds how long the rest of the current transaction waits for any lock
-- (maintain's steps; queries/maintenance.sql, set_lock_timeout). On Citus
-- the waits happen on the workers too, which only a SET LOCAL propagated
-- by Citus reaches (set_config does not propagate): without it a step
-- blocked on a worker would wait without bound.
CREATE FUNCTION set_lock_timeout(milliseconds INTEGER) RETURNS VOID
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
    IF to_regproc('citus_is_coordinator') IS NOT NULL THEN
        SET LOCAL citus.propagate_set_commands TO 'local';
    END IF;
    EXECUTE format('SET LOCAL lock_timeout TO %L', milliseconds || 'ms');
END
$$;

-- Places a table on Citus, when (and only when) the citus extension exists
-- and the table is not placed yet: 'reference' copies it to every node;
-- 'project' distributes it by project_id, co-located with issues. Returns
-- whether it placed it. after_migrate.sql places every table, in the order
-- of their foreign keys. A migration that creates a table calls it with
-- new_table => true right after CREATE TABLE and before adding foreign keys:
-- on a database that is distributed already, Citus allows foreign keys
-- only between placed tables; on one that is not (yet), it does nothing
-- and after_migrate.sql places the table with the others.
CREATE FUNCTION place_on_citus(
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
