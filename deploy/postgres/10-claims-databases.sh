#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is initialised (docker-entrypoint-initdb.d): one role and one
# database per service, each database owned by its role, no cross grants, nothing for PUBLIC.
# The passwords come from the environment (deploy/.env); there are no defaults.
set -euo pipefail

for service in intake adjudication payment notification; do
  var="CLAIMS_PG_$(echo "$service" | tr '[:lower:]' '[:upper:]')_PASSWORD"
  password="${!var:-}"
  if [ -z "$password" ]; then
    echo "claims: $var is not set; refusing to create the role claims_$service without a password" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="claims_$service" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')\gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'password')\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'role')\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'role')\gexec
SQL
  echo "claims: database and role claims_$service ready"
done
