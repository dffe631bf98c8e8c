-- Runs before every migration run, outside the numbered history.
-- It must stay idempotent: it creates the history tables.

-- The numbered files applied, one row each, with a SHA-256 of their
-- contents: an applied file is immutable.
CREATE TABLE IF NOT EXISTS schema_migrations (
    filename TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms INTEGER NOT NULL
);

-- The files of sql/functions/, one row per application: a file is applied
-- again when its SHA-256 differs from its latest row's.
CREATE TABLE IF NOT EXISTS schema_function_applications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    filename TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms INTEGER NOT NULL
);

-- A file's latest application (list_function_applications).
CREATE INDEX IF NOT EXISTS idx_schema_function_applications_filename
ON schema_function_applications (filename, id DESC);

COMMENT ON TABLE schema_function_applications IS
'Each application of a file of sql/functions, with its SHA-256: migrate applies a file '
'again when it differs from its latest row''s.';
