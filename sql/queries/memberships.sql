-- name: add_member(user_id, org_id, role)$
-- Adds a user to an organization; returns the membership id. A second
-- membership violates org_memberships_user_id_org_id_key.
INSERT INTO org_memberships (user_id, org_id, role)
VALUES (:user_id, :org_id, :role)
RETURNING id;

-- name: get_members(org_id)
-- An organization's memberships, oldest first (idx_org_memberships_org).
SELECT
    id,
    user_id,
    org_id,
    role,
    joined_at
FROM org_memberships
WHERE org_id = :org_id
ORDER BY joined_at, id;

-- name: get_user_orgs(user_id)
-- A user's memberships, oldest first (idx_org_memberships_user).
SELECT
    id,
    user_id,
    org_id,
    role,
    joined_at
FROM org_memberships
WHERE user_id = :user_id
ORDER BY joined_at, id;
