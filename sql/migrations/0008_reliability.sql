-- Safe retries of the write path, and least-privilege access.

-- One row per ingest call made with an idempotency key: a retried call (same
-- project, same key) returns the recorded result instead of writing again.
-- request_digest (SHA-256 of the payloads) catches a key reused for other
-- events. Rows older than the idempotency window are deleted by maintain.
CREATE TABLE ingest_batches (
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL
    CONSTRAINT ingest_batches_idempotency_key_check
    CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_digest TEXT NOT NULL,
    result JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, idempotency_key)
);

-- maintain: forget keys past the idempotency window.
CREATE INDEX idx_ingest_batches_received ON ingest_batches (received_at);

-- The application role (see sql/roles.sql) may read and write rows but not
-- change the schema. Granted only where the DBA created the role.
DO $grants$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'mesher_app') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO mesher_app', current_schema());
        EXECUTE format(
            'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO mesher_app',
            current_schema()
        );
        EXECUTE format(
            'REVOKE ALL ON TABLE %I.schema_migrations FROM mesher_app', current_schema()
        );
        -- Tables created by later migrations and by partition maintenance.
        EXECUTE format(
            'ALTER DEFAULT PRIVILEGES IN SCHEMA %I'
            ' GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO mesher_app',
            current_schema()
        );
        -- Partition DDL stays with the owner.
        EXECUTE 'REVOKE EXECUTE ON FUNCTION create_events_partition(date) FROM PUBLIC';
        EXECUTE 'REVOKE EXECUTE ON FUNCTION drop_expired_events_partitions(integer) FROM PUBLIC';
    END IF;
END
$grants$;
