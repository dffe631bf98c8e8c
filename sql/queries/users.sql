-- name: create_user(email, password, display_name)$
-- Creates a user with a bcrypt (cost 12) hash made by pgcrypto; returns
-- the id. An email taken in any letter case violates users_email_lower_key.
INSERT INTO users (email, password_hash, display_name)
VALUES (:email, crypt(:password, gen_salt('bf', 12)), :display_name)
RETURNING id;

-- name: authenticate_user(email, password)^
-- The user whose email (any case, users_email_lower_key) and password match.
-- An unknown email still runs one bcrypt comparison, against a fixed cost-12
-- hash that no password matches, so both failures take the same time.
SELECT
    u.id,
    u.email,
    u.display_name,
    u.created_at
FROM (SELECT lower(:email) AS email) AS probe
LEFT JOIN users AS u ON lower(u.email) = probe.email
WHERE
    crypt(
        :password,
        coalesce(
            u.password_hash,
            '$2a$12$rVbKi8mzIUxtxAXvxmhHbOQNSbHOSS/Q3Ts9SkVGHx3.mx8RjRsB6'
        )
    ) = u.password_hash;

-- name: get_user(id)^
-- One user by id (primary key), without the password hash.
SELECT
    id,
    email,
    display_name,
    created_at
FROM users
WHERE id = :id;
