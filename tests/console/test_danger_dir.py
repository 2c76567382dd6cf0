"""The danger patterns and examples the console edits live in LAWLINE_DANGER_DIR (shared by every node)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bot.console.accounts import create_account
from bot.console.danger_reports import REPORTED_FILE, report_missed_danger
from bot.console.datafiles import data_sets
from bot.settings import load_settings

SHIPPED = Path(__file__).resolve().parents[2] / "handoff" / "data"


def _shared_copy(root: Path) -> Path:
    folder = root / "shared-danger"
    (folder / "danger").mkdir(parents=True)
    shutil.copyfile(SHIPPED / "signals.yaml", folder / "signals.yaml")
    for path in (SHIPPED / "danger").glob("*.jsonl"):
        shutil.copyfile(path, folder / "danger" / path.name)
    return folder


def test_a_missed_danger_report_is_drafted_against_the_shared_folder_not_the_checkout(engine, sessions, tmp_path):
    folder = _shared_copy(tmp_path)
    marker = json.dumps({"text": "只在共享文件夹里的一句", "danger": True, "kind": "threat"}, ensure_ascii=False)
    (folder / REPORTED_FILE).write_text(marker + "\n", encoding="utf-8")
    settings = load_settings({"LAWLINE_DANGER_DIR": str(folder), "LAWLINE_VAR_DIR": str(tmp_path)},
                             dotenv=tmp_path / "none")
    assert data_sets(settings)["danger"].root == folder
    shipped_before = (SHIPPED / REPORTED_FILE).read_text(encoding="utf-8")
    with sessions.begin() as session:
        account = create_account(session, "adviser-x", "a-long-password-123", "adviser", display_name="顾问")
        draft = report_missed_danger(session, account, folder, "他说今晚要来砸我家的门", "threat", 42)
        proposed = draft.after
    assert proposed.startswith(marker + "\n") and "砸我家的门" in proposed  # the shared file, with the report
    assert (SHIPPED / REPORTED_FILE).read_text(encoding="utf-8") == shipped_before
