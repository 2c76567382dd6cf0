#!/usr/bin/env bash
# Build Rasa's own virtualenv (.venv-rasa, Python 3.10 from pyenv) on a fresh machine. Idempotent.
#
# Rasa 3.6 needs Python < 3.11 and pins much of the scientific stack (TensorFlow 2.12, numpy 1.23, …), so it
# lives apart from the app's .venv and runs as its own process on loopback; the app talks to it over HTTP
# only (nlu/client.py). A stamp file records the hash of this script: when the script is unchanged and the
# stamp is there, nothing is done. Uses the machine's pip configuration. A CUDA build must never come in.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."

RASA_VERSION="3.6.21"
VENV=".venv-rasa"
script_hash=$(sha256sum "$self" | cut -c1-16)
stamp="$VENV/.bootstrapped-$script_hash"

if [ -f "$stamp" ] && [ -x "$VENV/bin/rasa" ]; then
    echo "bootstrap-rasa: $VENV is up to date (rasa $RASA_VERSION)"
    exit 0
fi

python=""
root="$(pyenv root 2>/dev/null || true)"
for candidate in python3.10 ${root:+"$root/versions/3.10.13/bin/python3"} ${root:+$root/versions/3.10.*/bin/python3}; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
        python="$candidate"; break
    fi
done
[ -n "$python" ] || { echo "bootstrap-rasa: Python 3.10 not found (install it with pyenv: pyenv install 3.10)" >&2; exit 1; }

if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then
    echo "bootstrap-rasa: $VENV is not Python 3.10; rebuilding it" >&2
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$python" -m venv "$VENV"
fi
rm -f "$VENV"/.bootstrapped-*

pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
# The machine's pip configuration may name local package folders that do not exist; pip says so for every
# package, which buries real problems.
quiet() { grep -v "^WARNING: Location 'file://.* is ignored" || true; }
"${pip[@]}" install wheel 2>&1 | quiet
"${pip[@]}" install "rasa==$RASA_VERSION" "jieba>=0.42" 2>&1 | quiet

# Guard: TensorFlow must stay the CPU build; no CUDA wheels.
if "$VENV/bin/python" -m pip list 2>/dev/null | grep -qiE '^nvidia-|^triton '; then
    echo "bootstrap-rasa: CUDA packages were installed into $VENV; refusing to continue:" >&2
    "$VENV/bin/python" -m pip list 2>/dev/null | grep -iE '^nvidia-|^triton ' >&2
    exit 1
fi

version=$("$VENV/bin/rasa" --version 2>/dev/null | sed -n 's/^Rasa Version *: *//p' | tr -d '[:space:]')
if [ "$version" != "$RASA_VERSION" ]; then
    echo "bootstrap-rasa: expected rasa $RASA_VERSION, got '${version:-nothing}' from $VENV/bin/rasa --version" >&2
    exit 1
fi
"$VENV/bin/python" -c 'import jieba' 2>/dev/null || { echo "bootstrap-rasa: jieba did not install" >&2; exit 1; }

touch "$stamp"
echo "bootstrap-rasa: $VENV ready (rasa $version, $("$VENV/bin/python" --version))"
