-- name: insert_org(name, slug)$
-- Creates an organization; returns its id. A taken slug violates
-- organizations_slug_key.
INSERT INTO organizations (name, slug)
VALUES (:name, :slug)
RETURNING id;

-- name: get_org(id)^
-- One organization by id (primary key); a deleted one is not found.
SELECT
    id,
    name,
    slug,
    created_at
FROM organizations
WHERE id = :id AND deleted_at IS NULL;

-- name: list_orgs()
-- Every organization, by slug (organizations_slug_key serves the order),
-- deleted ones left out.
SELECT
    id,
    name,
    slug,
    created_at
FROM organizations
WHERE deleted_at IS NULL
ORDER BY slug;
