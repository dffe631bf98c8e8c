-- uuidv7(): built into PostgreSQL 18. On 15-17 an RFC 9562 version-7
-- polyfill in public, so that the same DDL (DEFAULT uuidv7()) works on
-- every supported server; on 18+ this file does nothing.
--
-- Migration 0001 creates it first (every table's id default needs it);
-- this file keeps its definition. after_migrate.sql rebinds the column
-- defaults to the built-in and drops the polyfill once the server is 18+
-- (after a pg_upgrade). It recognises the polyfill by its comment, below:
-- keep that text as it is, and inside the block (on 18+ there is no
-- public.uuidv7() to comment on).
DO $polyfill$
BEGIN
    IF to_regprocedure('pg_catalog.uuidv7()') IS NULL THEN
        CREATE OR REPLACE FUNCTION public.uuidv7() RETURNS uuid
        LANGUAGE plpgsql VOLATILE PARALLEL SAFE
        AS $fn$
        DECLARE
            -- Microseconds since the Unix epoch.
            unix_us bigint := floor(extract(EPOCH FROM clock_timestamp()) * 1000000);
            -- 48-bit millisecond timestamp, then 12 bits of sub-millisecond
            -- fraction in rand_a (as PostgreSQL 18 does), so that ids made
            -- by one backend sort in creation order.
            unix_ms bigint := unix_us / 1000;
            sub_ms integer := ((unix_us - unix_ms * 1000) * 4096 / 1000)::integer;
            bytes bytea := uuid_send(gen_random_uuid());
        BEGIN
            bytes := overlay(bytes PLACING substring(int8send(unix_ms) FROM 3) FROM 1 FOR 6);
            -- Version 7 in the high nibble of byte 6, then the 12-bit fraction.
            bytes := set_byte(bytes, 6, 112 | (sub_ms >> 8));
            bytes := set_byte(bytes, 7, sub_ms & 255);
            -- RFC 9562 variant (binary 10) in the top bits of byte 8.
            bytes := set_byte(bytes, 8, (get_byte(bytes, 8) & 63) | 128);
            RETURN encode(bytes, 'hex')::uuid;
        END
        $fn$;
        COMMENT ON FUNCTION public.uuidv7() IS
        'mesher polyfill: RFC 9562 UUIDv7 for PostgreSQL < 18';
    END IF;
END
$polyfill$;
