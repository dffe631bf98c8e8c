-- The five levels, least severe first: 1 (debug) .. 5 (fatal); NULL for
-- anything else. The write path keeps an issue's most severe level with it,
-- and mesher.models.Severity is tested against it. On Citus, statements on
-- the shards call it, so it exists on every node (after_migrate.sql).
CREATE OR REPLACE FUNCTION severity_rank(level TEXT) RETURNS INTEGER
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN array_position(ARRAY['debug', 'info', 'warning', 'error', 'fatal'], level);

COMMENT ON FUNCTION severity_rank(TEXT) IS
'The severity order in one place: 1 (debug) .. 5 (fatal), NULL for anything else.';
