-- name: insert_org(name, slug)$
-- Creates an organization; returns its id. A taken slug violates
-- organizations_slug_key.
INSERT INTO organizations (name, slug)
VALUES (:name, :slug)
RETURNING id;

-- name: get_org(id)^
-- One organization by id (primary key).
SELECT
    id,
    name,
    slug,
    created_at
FROM organizations
WHERE id = :id;

-- name: list_orgs()
-- Every organization, by slug (organizations_slug_key serves the order).
SELECT
    id,
    name,
    slug,
    created_at
FROM organizations
ORDER BY slug;
