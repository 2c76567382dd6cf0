#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (Playwright drives /usr/bin/chromium;
# it never downloads a browser of its own). Prints the executable's path.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
    echo "chromium: installing Debian's chromium package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium >/dev/null
fi
command -v chromium
