#!/usr/bin/env bash
# Lawline's Rasa by hand, with the same paths and environment the app uses (nlu/layout.py, nlu/process.py).
#
#   scripts/rasa.sh validate      rasa data validate on nlu/rasa
#   scripts/rasa.sh train         train only if the project's inputs changed; prints the model path
#   scripts/rasa.sh run [PORT]    train if needed, then serve on 127.0.0.1:PORT (default 5005) in the
#                                 foreground; custom actions go to the app at LAWLINE_PORT (default 8000)
#
# Builds .venv-rasa first if needed (scripts/bootstrap-rasa.sh). LAWLINE_VAR_DIR moves models, log and the
# SQLite tracker store (default var/). LAWLINE_RASA_TRACKER_* point the tracker store elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "rasa.sh: the app's .venv is missing; run make setup" >&2; exit 1; }
scripts/bootstrap-rasa.sh >/dev/null

export LAWLINE_RASA_COMMAND="${1:-}" LAWLINE_RASA_PORT="${2:-5005}"
exec .venv/bin/python - <<'PY'
import logging, os, sys
from pathlib import Path

from nlu.layout import RasaLayout
from nlu.process import RasaServer
from nlu.project import train_if_changed, validate

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
var_dir = os.environ.get("LAWLINE_VAR_DIR")
layout = RasaLayout.default(Path(var_dir) if var_dir else None)
command = os.environ["LAWLINE_RASA_COMMAND"]
if command == "validate":
    print(validate(layout.project_dir, layout.require_rasa()))
elif command in ("train", "run"):
    model = train_if_changed(layout.project_dir, layout.models_dir, layout.require_rasa())
    print(model)
    if command == "run":
        server = RasaServer(model, layout, port=int(os.environ["LAWLINE_RASA_PORT"]))
        layout.tracker_db.parent.mkdir(parents=True, exist_ok=True)
        argv = server.command()
        os.chdir(layout.root)
        os.execve(argv[0], argv, server.environment())
else:
    sys.exit("usage: scripts/rasa.sh validate | train | run [PORT]")
PY
