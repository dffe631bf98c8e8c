-- The severity order in one place, and one uniqueness rule for emails.

-- The five levels, least severe first: 1 (debug) .. 5 (fatal); NULL for
-- anything else. The write path keeps an issue's most severe level with it,
-- and mesher.models.Severity is tested against it.
CREATE FUNCTION severity_rank(level TEXT) RETURNS INTEGER
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN array_position(ARRAY['debug', 'info', 'warning', 'error', 'fatal'], level);

-- users_email_lower_key (UNIQUE on lower(email)) already implies it, and
-- every lookup goes through lower(email).
ALTER TABLE users DROP CONSTRAINT users_email_key;
