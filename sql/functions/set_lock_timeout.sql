-- Bounds how long the rest of the current transaction waits for any lock
-- (maintain's steps; queries/maintenance.sql, set_lock_timeout). On Citus
-- the waits happen on the workers too, which only a SET LOCAL propagated
-- by Citus reaches (set_config does not propagate): without it a step
-- blocked on a worker would wait without bound.
CREATE OR REPLACE FUNCTION set_lock_timeout(milliseconds INTEGER) RETURNS VOID
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

COMMENT ON FUNCTION set_lock_timeout(INTEGER) IS
'Bounds the lock waits of the rest of the transaction, on the Citus workers too: '
'a SET LOCAL, which Citus propagates and set_config does not.';
