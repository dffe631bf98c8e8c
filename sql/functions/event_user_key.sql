-- The user an event counts as (issue_users, Issue.user_count; migration
-- 0025): "<field>:<value>" for the first of its user's "id", "email",
-- "ip_address" and "username" that holds a string that is not blank (has a
-- character other than space, tab, line feed, carriage return, form feed and
-- vertical tab: the regular expression's escapes, so that the definition
-- holds no control character) or a number (its text as PostgreSQL
-- writes it: 42, 1.5, 10000000000000000 for 1e16); NULL when none does, or
-- when the user is not a JSON object. Booleans, objects and arrays are not
-- users. mesher.ingest.user_key is its mirror in Python, used by the write
-- path (tests/test_users_affected.py checks they agree); an unmerge's chunks
-- call this one. On Citus, statements on the shards call it, so it exists on
-- every node (after_migrate.sql).
CREATE OR REPLACE FUNCTION event_user_key(user_context JSONB) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN jsonb_typeof(user_context) IS DISTINCT FROM 'object' THEN NULL
    WHEN
        jsonb_typeof(user_context -> 'id') = 'number'
        OR (
            jsonb_typeof(user_context -> 'id') = 'string'
            AND (user_context ->> 'id') ~ '[^ \t\n\r\f\v]'
        )
        THEN 'id:' || (user_context ->> 'id')
    WHEN
        jsonb_typeof(user_context -> 'email') = 'number'
        OR (
            jsonb_typeof(user_context -> 'email') = 'string'
            AND (user_context ->> 'email') ~ '[^ \t\n\r\f\v]'
        )
        THEN 'email:' || (user_context ->> 'email')
    WHEN
        jsonb_typeof(user_context -> 'ip_address') = 'number'
        OR (
            jsonb_typeof(user_context -> 'ip_address') = 'string'
            AND (user_context ->> 'ip_address') ~ '[^ \t\n\r\f\v]'
        )
        THEN 'ip_address:' || (user_context ->> 'ip_address')
    WHEN
        jsonb_typeof(user_context -> 'username') = 'number'
        OR (
            jsonb_typeof(user_context -> 'username') = 'string'
            AND (user_context ->> 'username') ~ '[^ \t\n\r\f\v]'
        )
        THEN 'username:' || (user_context ->> 'username')
END;

COMMENT ON FUNCTION event_user_key(JSONB) IS
'The user an event counts as: "<field>:<value>" of the first of id, email, '
'ip_address, username holding a non-blank string or a number; NULL if none.';
