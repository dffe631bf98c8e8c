-- name: create_session(user_id)$
-- Starts a 7-day session; returns the raw token (64 hex characters from 32
-- random bytes). Only its SHA-256 digest is stored. An unknown user_id
-- violates sessions_user_id_fkey.
WITH new_token AS (
    SELECT encode(gen_random_bytes(32), 'hex') AS token
),

inserted AS (
    INSERT INTO sessions (token_hash, user_id)
    SELECT
        sha256(convert_to(new_token.token, 'UTF8')) AS token_hash,
        :user_id AS user_id
    FROM new_token
    RETURNING user_id
)

SELECT new_token.token
FROM new_token CROSS JOIN inserted;

-- name: validate_session(token)^
-- The unexpired session a token opens (sessions pkey on the digest).
SELECT
    user_id,
    created_at,
    expires_at
FROM sessions
WHERE
    token_hash = sha256(convert_to(:token, 'UTF8'))
    AND expires_at > now();

-- name: delete_session(token)!
-- Ends a session (logout); returns the rows deleted, 0 or 1.
DELETE FROM sessions
WHERE token_hash = sha256(convert_to(:token, 'UTF8'));
