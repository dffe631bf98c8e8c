-- name: acquire_migration_lock()$
-- Session-level advisory lock: concurrent migration runs wait here, one at a time.
SELECT pg_advisory_lock(hashtext('mesher.migrate'));

-- name: release_migration_lock()$
-- Releases the lock taken by acquire_migration_lock (also released on disconnect).
SELECT pg_advisory_unlock(hashtext('mesher.migrate'));

-- name: migration_history_exists()$
-- Whether before_migrate.sql has ever run here.
SELECT to_regclass('schema_migrations') IS NOT NULL;

-- name: list_applied_migrations()
-- Every applied file with the checksum it had (schema_migrations pkey order).
SELECT
    filename,
    checksum,
    applied_at
FROM schema_migrations
ORDER BY filename;

-- name: record_migration(filename, checksum, duration_ms)!
-- Records one applied file, in the same transaction as its DDL.
INSERT INTO schema_migrations (filename, checksum, duration_ms)
VALUES (:filename, :checksum, :duration_ms);

-- name: rename_migration(old_filename, filename)!
-- Follows a renamed file (same number, same contents) in the history.
UPDATE schema_migrations
SET filename = :filename
WHERE filename = :old_filename;

-- name: function_history_exists()$
-- Whether before_migrate.sql has run here since sql/functions/ exists.
SELECT to_regclass('schema_function_applications') IS NOT NULL;

-- name: list_function_applications()
-- Each function file's latest application (the filename index, newest id first).
SELECT DISTINCT ON (filename)
    filename,
    checksum,
    applied_at
FROM schema_function_applications
ORDER BY filename ASC, id DESC;

-- name: record_function_application(filename, checksum, duration_ms)!
-- Records one application of a function file, in the same transaction as its DDL.
INSERT INTO schema_function_applications (filename, checksum, duration_ms)
VALUES (:filename, :checksum, :duration_ms);
