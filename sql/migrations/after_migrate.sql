-- Runs after every migration run, outside the numbered history; idempotent.
--
-- The upgrade trap: on PostgreSQL < 18, 0001 installs public.uuidv7() and
-- every id default binds to it (by OID). After a pg_upgrade or a dump and
-- restore onto 18+, those defaults would still call the slow polyfill. Once
-- the server has pg_catalog.uuidv7(), rebind each default that depends on
-- the polyfill to the built-in and drop the polyfill.
DO $rebind$
DECLARE
    polyfill regprocedure := to_regprocedure('public.uuidv7()');
    col record;
BEGIN
    IF polyfill IS NULL OR to_regprocedure('pg_catalog.uuidv7()') IS NULL THEN
        RETURN;
    END IF;
    IF obj_description(polyfill, 'pg_proc') IS DISTINCT FROM
        'mesher polyfill: RFC 9562 UUIDv7 for PostgreSQL < 18' THEN
        RETURN;  -- someone else's function: leave it alone
    END IF;
    FOR col IN
        SELECT ad.adrelid::regclass AS table_name, a.attname AS column_name
        FROM pg_depend AS d
        INNER JOIN pg_attrdef AS ad ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
        INNER JOIN pg_attribute AS a ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE d.refclassid = 'pg_proc'::regclass AND d.refobjid = polyfill
    LOOP
        EXECUTE format(
            'ALTER TABLE %s ALTER COLUMN %I SET DEFAULT pg_catalog.uuidv7()',
            col.table_name, col.column_name
        );
    END LOOP;
    EXECUTE 'DROP FUNCTION public.uuidv7()';
END
$rebind$;
