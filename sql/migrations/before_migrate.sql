-- Runs before every migration run, outside the numbered history.
-- It must stay idempotent: it creates the history table that records
-- which numbered files were applied, with a SHA-256 of their contents.
CREATE TABLE IF NOT EXISTS schema_migrations (
    filename TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms INTEGER NOT NULL
);
