#!/bin/sh
# docker-entrypoint-initdb.d hook: roles (from init.sql), their passwords
# from the environment, and the database owned by the schema owner.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -f /opt/sigil/init.sql
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$SIGIL_OWNER_PASSWORD" -v app_password="$SIGIL_APP_PASSWORD" <<'SQL'
ALTER ROLE sigil_owner PASSWORD :'owner_password';
ALTER ROLE sigil_app PASSWORD :'app_password';
CREATE DATABASE sigil OWNER sigil_owner;
SQL
