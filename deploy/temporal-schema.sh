#!/bin/sh
# One-shot schema job (docker-compose `temporal-schema`, image temporalio/admin-tools):
# creates Temporal's two PostgreSQL databases once and brings both schemas up to the
# server version on every run (update-schema only applies what is missing).
set -eu
: "${POSTGRES_HOST:?}" "${POSTGRES_USER:?}"
# The password comes as a Docker secret file (docker-compose.yml), or directly.
if [ -n "${SQL_PASSWORD_FILE:-}" ]; then
  SQL_PASSWORD=$(cat "$SQL_PASSWORD_FILE")
  export SQL_PASSWORD
fi
: "${SQL_PASSWORD:?set SQL_PASSWORD or SQL_PASSWORD_FILE}"
SCHEMA=/etc/temporal/schema/postgresql/v12
sqltool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_HOST" -p 5432 -u "$POSTGRES_USER" "$@"; }

for store in temporal:temporal visibility:temporal_visibility; do
  dir=${store%%:*}
  db=${store#*:}
  # `create` fails when the database exists: then its schema was set up by an earlier run.
  if sqltool --db "$db" create-database; then
    sqltool --db "$db" setup-schema -v 0.0
  fi
  sqltool --db "$db" update-schema -d "$SCHEMA/$dir/versioned"
done
echo "Temporal schema ready"
