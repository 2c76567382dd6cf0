#!/usr/bin/env bash
# Install (Debian's redis-server package) and run a throwaway Redis server on loopback for the tests.
#
#   scripts/redis.sh start   install if needed, start on 127.0.0.1:$LAWLINE_REDIS_PORT (data in var/redis), print the URL
#   scripts/redis.sh url     print the URL of the test Redis
#   scripts/redis.sh kill    kill -9 the server (nothing saved: it starts empty again, as after a crash)
#   scripts/redis.sh status  exit 0 when the server answers
#   scripts/redis.sh stop    stop the server
#
# LAWLINE_REDIS_PORT and LAWLINE_REDIS_DATA (default var/redis) choose another server, e.g. one a benchmark kills.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${LAWLINE_REDIS_PORT:-56379}"
data="${LAWLINE_REDIS_DATA:-$PWD/var/redis}"
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

kill_9() {
    local pid  # the server on this port, whichever folder it keeps its files in
    pid="$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | sed -n 's/^process_id:\([0-9]*\).*/\1/p' || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q redis "/proc/$pid/cmdline" 2>/dev/null; then
        kill -9 "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
    rm -f "$data/redis.pid"
}

case "${1:-start}" in
    start) start ;;
    kill) kill_9 ;;
    status) running ;;
    stop) stop ;;
    url) echo "$url" ;;
    *) echo "usage: $0 start|kill|status|stop|url" >&2; exit 2 ;;
esac
