#!/usr/bin/env bash
# Build the app's virtualenv (.venv, Python 3.11) on a fresh machine. Idempotent.
#
# torch is installed first and pinned to the local CPU wheel (torch==2.13.0), so that nothing later can
# make pip resolve a CUDA build from the registry. Everything else comes from pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

python=""
for candidate in python3.11 "$(pyenv root 2>/dev/null)/versions/3.11.7/bin/python3" python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        python="$candidate"; break
    fi
done
[ -n "$python" ] || { echo "bootstrap: Python 3.11 not found (pyenv versions)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
if ! .venv/bin/python -c 'import torch, sys; sys.exit(not torch.__version__.startswith("2.13.0"))' 2>/dev/null; then
    "${pip[@]}" install 'torch==2.13.0'
fi
"${pip[@]}" install -e '.[dev]'
# Guard: a CUDA build must never sneak in.
if .venv/bin/python -m pip list 2>/dev/null | grep -qiE '^nvidia-|^triton '; then
    echo "bootstrap: CUDA packages were installed; refusing to continue" >&2; exit 1
fi
.venv/bin/python -c 'import torch; assert torch.__version__.startswith("2.13.0") and not torch.version.cuda, torch.__version__'
echo "bootstrap: .venv ready ($(.venv/bin/python --version))"
