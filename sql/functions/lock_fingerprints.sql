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
CREATE OR REPLACE FUNCTION lock_fingerprints(keys BIGINT[]) RETURNS BIGINT
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

COMMENT ON FUNCTION lock_fingerprints(BIGINT[]) IS
'The write path''s first statement: an advisory lock per fingerprint, in the order '
'given, so that concurrent batches queue instead of deadlocking. On Citus, refused '
'on any node but the coordinator (the locks are per node).';
