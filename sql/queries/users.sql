-- name: create_user(email, password, display_name)$
-- Creates a user with a bcrypt (cost 12) hash made by pgcrypto; returns
-- the id. An email taken in any letter case violates users_email_lower_key.
INSERT INTO users (email, password_hash, display_name)
VALUES (:email, crypt(:password, gen_salt('bf', 12)), :display_name)
RETURNING id;

-- name: authenticate_user(email, password)^
-- The user whose email (any case, users_email_lower_key) and password match.
-- An unknown email still runs one bcrypt comparison, against a fixed cost-12
-- hash of a discarded random secret, so both failures take the same time. The
-- comparison sits in a materialized CTE's select list: in a WHERE clause the
-- planner would turn the LEFT JOIN into an inner join and skip it.
WITH attempt AS MATERIALIZED (
    SELECT
        u.id,
        u.email,
        u.display_name,
        u.created_at,
        crypt(
            :password,
            coalesce(
                u.password_hash,
                '$2a$12$.fN1Lge682UwxL0urWlQr.8xfH./1I/GKl2dXvCl0a0e86Aqg2w0e'
            )
        ) = u.password_hash AS password_matches
    FROM (SELECT lower(:email) AS email) AS probe
    LEFT JOIN users AS u ON lower(u.email) = probe.email
)

SELECT
    id,
    email,
    display_name,
    created_at
FROM attempt
WHERE password_matches;

-- name: get_user(id)^
-- One user by id (primary key), without the password hash.
SELECT
    id,
    email,
    display_name,
    created_at
FROM users
WHERE id = :id;
