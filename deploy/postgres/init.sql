-- Cluster bootstrap, run once as a superuser (docker-compose runs it from
-- /docker-entrypoint-initdb.d; `just run` runs it against a local server).
-- Creates the schema owner (runs migrations) and the service's role.
-- Passwords here are for local development; set real ones in production.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sigil_owner') THEN
        CREATE ROLE sigil_owner LOGIN PASSWORD 'sigil_owner' NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sigil_app') THEN
        CREATE ROLE sigil_app LOGIN PASSWORD 'sigil_app' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
    END IF;
END
$$;
