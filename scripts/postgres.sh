#!/usr/bin/env bash
# Install (Debian's postgresql package) and run a throwaway PostgreSQL server on loopback for the tests.
#
#   scripts/postgres.sh start   install if needed, init var/postgres, start on 127.0.0.1:$LAWLINE_PG_PORT
#   scripts/postgres.sh url     print the SQLAlchemy URL of the test database
#   scripts/postgres.sh restart restart it in fast mode (sessions cut, as a restart in production); start if stopped
#   scripts/postgres.sh status  exit 0 when the server runs
#   scripts/postgres.sh stop    stop the server
#
# LAWLINE_PG_PORT and LAWLINE_PG_DATA (default var/postgres) choose another server, e.g. one a benchmark restarts.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${LAWLINE_PG_PORT:-55432}"
data="${LAWLINE_PG_DATA:-$PWD/var/postgres}"
url="postgresql+psycopg://lawline:lawline@127.0.0.1:${port}/lawline_test"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

install() {
    if [ -z "$(bindir)" ]; then
        echo "postgres: installing Debian's postgresql package" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq postgresql >/dev/null
    fi
}

options() { echo "-c listen_addresses=127.0.0.1 -p $port -k /tmp -c fsync=off"; }

running() {
    local bin; bin="$(bindir)"
    [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

start() {
    install
    local bin; bin="$(bindir)"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres "$data" && chmod 700 "$data"
    if [ ! -f "$data/PG_VERSION" ]; then
        as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! running; then
        as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 -o "$(options)" start >/dev/null
    fi
    local psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA)
    if [ -z "$("${psql[@]}" -c "select 1 from pg_roles where rolname='lawline'")" ]; then
        "${psql[@]}" -c "create role lawline login password 'lawline' createdb"
    fi
    # DROP DATABASE ... WITH (FORCE) by the tests also signals an autovacuum worker that happens to be in the
    # database; without pg_signal_backend that fails with "must be a member of the role whose process ...".
    if [ -z "$("${psql[@]}" -c "select 1 from pg_auth_members m join pg_roles r on r.oid = m.roleid
            join pg_roles u on u.oid = m.member where r.rolname = 'pg_signal_backend' and u.rolname = 'lawline'")" ]; then
        "${psql[@]}" -c "grant pg_signal_backend to lawline"
    fi
    if [ -z "$("${psql[@]}" -c "select 1 from pg_database where datname='lawline_test'")" ]; then
        "${psql[@]}" -c "create database lawline_test owner lawline encoding 'UTF8' template template0"
    fi
    echo "$url"
}

stop() {
    local bin; bin="$(bindir)"
    [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null || true
}

restart() {
    if running; then
        local serving; serving="$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || true)"
        if [ "$serving" != "$port" ]; then
            echo "postgres: the server in $data listens on ${serving:-?}, not $port (set LAWLINE_PG_DATA)" >&2
            exit 1
        fi
        as_postgres "$(bindir)/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 -m fast -o "$(options)" \
            restart >/dev/null
        echo "$url"
    else
        start
    fi
}

case "${1:-start}" in
    start) start ;;
    restart) restart ;;
    status) running ;;
    stop) stop ;;
    url) echo "$url" ;;
    *) echo "usage: $0 start|restart|status|stop|url" >&2; exit 2 ;;
esac
