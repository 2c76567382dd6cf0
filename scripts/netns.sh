#!/usr/bin/env bash
# The project's own test hosts: Linux network namespaces (Debian's iproute2) joined by one bridge, for the
# multi-node test and `lawline bench multinode`. Needs root.
#
#   scripts/netns.sh install         install Debian's iproute2 if `ip` is missing (as root; `make test` does)
#   scripts/netns.sh up              create the hosts, start PostgreSQL and Redis on the data host, print the
#                                    environment the app nodes need (KEY=VALUE lines)
#   scripts/netns.sh env             print that environment again
#   scripts/netns.sh exec HOST CMD…  run CMD on HOST (data, client, node1, node2…) under its own host name
#   scripts/netns.sh down            stop everything running on the hosts and remove them
#
# Hosts (names start with LAWLINE_NETNS_PREFIX, default "lawline"; addresses in LAWLINE_NETNS_SUBNET.0/24,
# default 10.77.0):
#   <prefix>-data    .1    PostgreSQL :5432 (databases lawline and lawline_rasa) and Redis :6379, both with
#                          a generated password; the bridge
#   <prefix>-client  .2    the outside world: WeChat's servers (the benches' stand-in), residents, the operator
#   <prefix>-node1   .11   an app node (lawline serve with its Rasa child); LAWLINE_NETNS_NODES nodes (default 2)
#   <prefix>-node2   .12
# No host has a route beyond its /24 and none has a leg in the root namespace, so nothing can leave these
# hosts (each still has its own loopback). The hosts share this machine's file system: a folder stands in for
# the shared storage of a real deployment. State (database files, logs, the generated password) lives in
# LAWLINE_NETNS_DIR (default /tmp/lawline-netns-<prefix>) and is removed by `down`.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

prefix="${LAWLINE_NETNS_PREFIX:-lawline}"
subnet="${LAWLINE_NETNS_SUBNET:-10.77.0}"
nodes="${LAWLINE_NETNS_NODES:-2}"
state="${LAWLINE_NETNS_DIR:-/tmp/lawline-netns-$prefix}"
data_ns="$prefix-data"
data_ip="$subnet.1"

die() { echo "netns: $*" >&2; exit 1; }

hosts() {  # name and last octet of every host but the data host
    echo "client 2"
    for n in $(seq 1 "$nodes"); do echo "node$n $((10 + n))"; done
}

require() {
    [ "$(id -u)" = 0 ] || die "needs root (ip netns)"
    command -v ip >/dev/null 2>&1 || die "ip (Debian's iproute2) is not installed"
    [[ "$prefix" =~ ^[a-z][a-z0-9]{0,9}$ ]] || die "LAWLINE_NETNS_PREFIX must be 1-10 lower-case letters or digits"
    [[ "$nodes" =~ ^[1-9]$ ]] || die "LAWLINE_NETNS_NODES must be 1-9"
}

exists() { [ -e "/run/netns/$1" ]; }
on() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }
pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

network() {
    ip netns add "$data_ns"
    on "$data_ns" ip link set lo up
    on "$data_ns" ip link add br0 type bridge
    on "$data_ns" ip addr add "$data_ip/24" dev br0
    on "$data_ns" ip link set br0 up
    while read -r host octet; do
        local ns="$prefix-$host"
        ip netns add "$ns"
        on "$ns" ip link set lo up
        # One cable per host: eth0 in the host, its other end a port of the bridge on the data host.
        ip link add "p-$host" netns "$data_ns" type veth peer name eth0 netns "$ns"
        on "$data_ns" ip link set "p-$host" master br0 up
        on "$ns" ip addr add "$subnet.$octet/24" dev eth0
        on "$ns" ip link set eth0 up
    done < <(hosts)
}

postgres() {
    local bin; bin="$(pg_bindir)"
    [ -n "$bin" ] || die "PostgreSQL is not installed (scripts/postgres.sh installs Debian's package)"
    local data="$state/postgres" run="$state/postgres-run"
    mkdir -p "$data" "$run"
    chown postgres "$data" "$run" && chmod 700 "$data"
    runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=reject -E UTF8 \
        --locale=C.UTF-8 >/dev/null
    # The app nodes sign in with a password over the bridge; the superuser only through the local socket.
    echo "host all lawline $subnet.0/24 scram-sha-256" >>"$data/pg_hba.conf"
    on "$data_ns" runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$run/server.log" -w -t 60 \
        -o "-c listen_addresses=$data_ip -p 5432 -k $run -c fsync=off -c max_connections=200" start >/dev/null
    local psql=("$bin/psql" -h "$run" -p 5432 -U postgres -v ON_ERROR_STOP=1 -qtA)
    on "$data_ns" "${psql[@]}" -c "create role lawline login password '$(cat "$state/password")'"
    on "$data_ns" "${psql[@]}" -c "create database lawline owner lawline encoding 'UTF8' template template0"
    on "$data_ns" "${psql[@]}" -c "create database lawline_rasa owner lawline encoding 'UTF8' template template0"
}

redis() {
    command -v redis-server >/dev/null 2>&1 || die "Redis is not installed (scripts/redis.sh installs Debian's package)"
    mkdir -p "$state/redis"
    # A password, as in a deployment (without one Redis refuses every client that is not on its loopback).
    local password; password="$(cat "$state/password")"
    on "$data_ns" redis-server --bind "$data_ip" --port 6379 --daemonize yes --dir "$state/redis" \
        --pidfile "$state/redis/redis.pid" --logfile "$state/redis/redis.log" --save "" --appendonly no \
        --requirepass "$password" >/dev/null
    for _ in $(seq 50); do
        REDISCLI_AUTH="$password" on "$data_ns" redis-cli -h "$data_ip" -p 6379 ping 2>/dev/null | grep -q PONG && return
        sleep 0.1
    done
    die "Redis did not start (see $state/redis/redis.log)"
}

environment() {
    [ -f "$state/password" ] || die "not up (no $state/password)"
    local password; password="$(cat "$state/password")"
    echo "LAWLINE_NETNS_PREFIX=$prefix"
    echo "LAWLINE_NETNS_DATA=$data_ip"
    while read -r host octet; do echo "LAWLINE_NETNS_$(echo "$host" | tr a-z A-Z)=$subnet.$octet"; done < <(hosts)
    echo "LAWLINE_DATABASE_URL=postgresql+psycopg://lawline:$password@$data_ip:5432/lawline"
    echo "LAWLINE_REDIS_URL=redis://:$password@$data_ip:6379/0"
    echo "LAWLINE_RASA_TRACKER_DIALECT=postgresql"
    echo "LAWLINE_RASA_TRACKER_HOST=$data_ip:5432"
    echo "LAWLINE_RASA_TRACKER_DB=lawline_rasa"
    echo "LAWLINE_RASA_TRACKER_USER=lawline"
    echo "LAWLINE_RASA_TRACKER_PASSWORD=$password"
    echo "LAWLINE_RASA_LOCK_REDIS_HOST=$data_ip"
    echo "LAWLINE_RASA_LOCK_REDIS_PORT=6379"
    echo "LAWLINE_RASA_LOCK_REDIS_DB=1"
    echo "LAWLINE_RASA_LOCK_REDIS_PASSWORD=$password"
}

up() {
    require
    exists "$data_ns" && die "$data_ns exists already: run \`$0 down\` first (same LAWLINE_NETNS_PREFIX)"
    mkdir -p "$state" && chmod 755 "$state"
    (umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$state/password")
    trap 'echo "netns: up failed; tearing down" >&2; down >/dev/null 2>&1 || true' ERR
    network
    postgres
    redis
    trap - ERR
    environment
}

stop_processes() {  # every process left on a host: asked to stop, then killed
    local ns="$1" pids
    pids="$(ip netns pids "$ns" 2>/dev/null || true)"
    [ -n "$pids" ] || return 0
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 50); do
        pids="$(ip netns pids "$ns" 2>/dev/null || true)"
        [ -n "$pids" ] || return 0
        sleep 0.2
    done
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
}

down() {
    require
    local bin; bin="$(pg_bindir)"
    if exists "$data_ns" && [ -n "$bin" ] && [ -f "$state/postgres/PG_VERSION" ]; then
        on "$data_ns" runuser -u postgres -- "$bin/pg_ctl" -D "$state/postgres" -m fast -t 30 stop >/dev/null 2>&1 || true
    fi
    while read -r host _; do
        exists "$prefix-$host" && { stop_processes "$prefix-$host"; ip netns del "$prefix-$host"; }
    done < <(hosts)
    if exists "$data_ns"; then
        stop_processes "$data_ns"
        ip netns del "$data_ns"
    fi
    if [ -f "$state/password" ]; then rm -rf "$state"; fi  # only a folder `up` made
}

run_on() {
    require
    local host="${1:-}"; shift || true
    [ -n "$host" ] && [ "$#" -gt 0 ] || die "usage: $0 exec HOST CMD…"
    exists "$prefix-$host" || die "no host $prefix-$host (run \`$0 up\`)"
    # Its own UTS namespace: the host name is the namespace's, as on a machine of its own (the inbox tells
    # processes of this host from the others' by it). Every step execs, so CMD keeps this process id.
    exec ip netns exec "$prefix-$host" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$prefix-$host" "$@"
}

install() {
    if [ "$(id -u)" = 0 ] && ! command -v ip >/dev/null 2>&1; then
        echo "netns: installing Debian's iproute2 package" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq iproute2 >/dev/null
    fi
}

case "${1:-}" in
    install) install ;;
    up) up ;;
    env) environment ;;
    exec) shift; run_on "$@" ;;
    down) down ;;
    *) echo "usage: $0 install|up|env|exec HOST CMD…|down" >&2; exit 2 ;;
esac
