#!/usr/bin/env bash
# Start the machine's PostgreSQL 15 (installing it when missing), create the test role, and
# drop the test databases earlier runs left (`wr_…`). The role may create databases: every
# test server gets a fresh one. Run again before the fault suite: a cluster holding hundreds
# of databases takes minutes to recover from the suite's immediate stop (it fsyncs every
# file), so crash recovery syncs file systems instead (`recovery_init_sync_method`).
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql/15/main ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi
pg_ctlcluster 15 main start 2>/dev/null || true
# A cluster that was not shut down cleanly replays its WAL first: that can take minutes on
# a loaded 2-core machine, so wait up to five.
for i in $(seq 1 300); do
  if su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1; then break; fi
  if [ $((i % 30)) -eq 0 ]; then echo "waiting for PostgreSQL to accept connections (${i} s)"; fi
  sleep 1
done
su postgres -c "psql -qtAc 'select 1'" >/dev/null
su postgres -c "psql -v ON_ERROR_STOP=1 -q" <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'workroom') THEN
    CREATE ROLE workroom LOGIN PASSWORD 'workroom' CREATEDB;
  END IF;
END $$;
SQL
su postgres -c "psql -v ON_ERROR_STOP=1 -qtA" >/dev/null <<'SQL'
ALTER SYSTEM SET recovery_init_sync_method = 'syncfs';
SELECT pg_reload_conf();
SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database
  WHERE datname LIKE 'wr\_%' \gexec
SQL
echo "PostgreSQL is up on 127.0.0.1:5432 (role workroom; earlier test databases dropped)"
