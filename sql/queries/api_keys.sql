-- name: create_api_key(project_id, label)$
-- Issues a new key for a project: 'mshr_' plus 48 hex characters from 24
-- random bytes; returns the key. An unknown project_id violates
-- api_keys_project_id_fkey.
INSERT INTO api_keys (project_id, label, key_value)
VALUES (:project_id, :label, 'mshr_' || encode(gen_random_bytes(24), 'hex'))
RETURNING key_value;

-- name: get_project_by_api_key(key_value)^
-- The project a live (not revoked) key belongs to, unless the project was
-- deleted. The ingestion hot path:
-- idx_api_keys_value (partial, revoked_at IS NULL), then the projects pkey.
SELECT
    p.id,
    p.org_id,
    p.name,
    p.platform,
    p.created_at,
    p.dsn_id,
    p.retention_days,
    p.deleted_at
FROM api_keys AS k
INNER JOIN projects AS p ON k.project_id = p.id
WHERE
    k.key_value = :key_value
    AND k.revoked_at IS NULL
    AND p.deleted_at IS NULL;

-- name: get_project_by_dsn(dsn_id, key_value)^
-- The project a Sentry DSN names (https://<key>@<host>/<dsn_id>), only when
-- the key is live and belongs to that very project, not deleted: projects_dsn_id_key,
-- then idx_api_keys_value.
SELECT
    p.id,
    p.org_id,
    p.name,
    p.platform,
    p.created_at,
    p.dsn_id,
    p.retention_days,
    p.deleted_at
FROM projects AS p
INNER JOIN api_keys AS k ON p.id = k.project_id
WHERE
    p.dsn_id = :dsn_id
    AND k.key_value = :key_value
    AND k.revoked_at IS NULL
    AND p.deleted_at IS NULL;

-- name: list_api_keys(project_id)
-- A project's keys, revoked ones included, oldest first, for a key-management
-- page: idx_api_keys_project finds them, then a sort (a project has few).
SELECT
    id,
    project_id,
    key_value,
    label,
    created_at,
    revoked_at
FROM api_keys
WHERE project_id = :project_id
ORDER BY created_at, id;

-- name: revoke_api_key(id)!
-- Revokes a key by id (primary key); returns the rows changed: 0 when the
-- key does not exist or was already revoked, so revoked_at keeps the first
-- revocation time.
UPDATE api_keys
SET revoked_at = now()
WHERE
    id = :id
    AND revoked_at IS NULL;

-- name: revoke_api_key_in_project(project_id, id)!
-- revoke_api_key, project-scoped: 0 also when the key belongs to another
-- project (a tenant-isolation guard; single-shard on Citus if api_keys is
-- distributed by project_id like issues). Primary key (api_keys_pkey).
UPDATE api_keys
SET revoked_at = now()
WHERE
    project_id = :project_id
    AND id = :id
    AND revoked_at IS NULL;
