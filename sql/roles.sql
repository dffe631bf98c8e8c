-- Least-privilege roles for Mesher. Run once per cluster, as a superuser or a
-- role with CREATEROLE, BEFORE the first migration (the migrations grant the
-- application role its rights when it exists). Set the passwords yourself:
--   ALTER ROLE mesher_owner PASSWORD '...';  ALTER ROLE mesher_app PASSWORD '...';
--
-- mesher_owner: owns the schema; runs python -m mesher.migrate and maintain.
-- mesher_app:   what the ingestion server and web API connect as: rows only,
--               no DDL, no access to the migration history.
--
-- Statement logging: with log_min_duration_statement, PostgreSQL logs bound
-- parameters too (log_parameter_max_length defaults to no limit), which would
-- put passwords given to create_user/authenticate_user into the server log.
-- Keep parameters out of the log for the application role.

CREATE ROLE mesher_owner LOGIN;
CREATE ROLE mesher_app LOGIN;
ALTER ROLE mesher_app SET log_parameter_max_length = 0;
ALTER ROLE mesher_app SET log_parameter_max_length_on_error = 0;

-- In the application's database (here the current one):
-- GRANT CREATE ON DATABASE <db> TO mesher_owner;  -- for CREATE EXTENSION pgcrypto
-- ALTER SCHEMA public OWNER TO mesher_owner;
