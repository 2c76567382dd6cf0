#!/usr/bin/env bash
# Install (Debian's redis-server package) and run a throwaway Redis server on loopback for the tests.
#
#   scripts/redis.sh start   install if needed, start on 127.0.0.1:$LAWLINE_REDIS_PORT (data in var/redis), print the URL
#   scripts/redis.sh url     print the URL of the test Redis
#   scripts/redis.sh stop    stop the server
set -euo pipefail
cd "$(dirname "$0")/.."
port="${LAWLINE_REDIS_PORT:-56379}"
data="$PWD/var/redis"
url="redis://127.0.0.1:${port}/0"

install() {
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "redis: installing Debian's redis-server package" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq redis-server >/dev/null
    fi
}

running() { redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; }

start() {
    install
    mkdir -p "$data"
    if ! running; then
        redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$data" \
            --pidfile "$data/redis.pid" --logfile "$data/redis.log" --save "" --appendonly no >/dev/null
        for _ in $(seq 50); do running && break; sleep 0.1; done
        running || { echo "redis: did not start (see $data/redis.log)" >&2; exit 1; }
    fi
    echo "$url"
}

stop() {
    if command -v redis-cli >/dev/null 2>&1 && running; then
        redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    url) echo "$url" ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
