#!/usr/bin/env bash
# The Debian packages `make test` needs, whatever of them is missing, with one `apt-get update`:
# chromium (browser tests), iproute2 (the multi-host bench), postgresql and redis-server (database tests).
# `make test` runs it beside the virtualenvs' pip installs; chromium.sh, netns.sh, postgres.sh and redis.sh
# still install their own package when run alone.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "debian-packages: missing ${missing[*]}; not root, so each script will say what to install" >&2
    exit 0
fi
echo "debian-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${missing[@]}" >/dev/null
