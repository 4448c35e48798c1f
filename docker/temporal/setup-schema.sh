#!/bin/sh
# One-shot schema job, run by docker-compose.yml in temporalio/admin-tools.
#
# A database is created and initialised only by the run that created it; every
# run then applies the versioned updates, which is a no-op when current and an
# upgrade after the server image is bumped. The password comes from
# SQL_PASSWORD in the environment, never from the command line.
set -eu

: "${POSTGRES_SEEDS:?}" "${DB_PORT:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
: "${DBNAME:=temporal}" "${VISIBILITY_DBNAME:=temporal_visibility}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

until nc -z "$POSTGRES_SEEDS" "$DB_PORT"; do
  echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT"
  sleep 1
done

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" \
    -u "$POSTGRES_USER" "$@"
}

setup() {
  db=$1
  dir=$2
  if sql_tool --db "$db" create; then
    sql_tool --db "$db" setup-schema -v 0.0
  else
    echo "database $db exists; applying updates only"
  fi
  sql_tool --db "$db" update-schema -d "$SCHEMA_ROOT/$dir/versioned"
}

setup "$DBNAME" temporal
setup "$VISIBILITY_DBNAME" visibility
echo "Temporal schemas are current"
