"""A danger the bot missed, reported from a case, becomes a training example once a reviewer approves it.

The report is a draft of ``handoff/data/danger/reported.jsonl`` with one more line (numbers and names
masked by ``bot.console.masking``: the file is committed and read by reviewers), reviewed and published
like every other data file; publishing retrains the danger model in every worker (``bot.reloading``).
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session

from bot.console.auth import Account
from bot.console.datafiles import danger_data_set
from bot.console.drafts import DraftError, new_data_draft
from bot.console.masking import mask_personal_data
from bot.console.models import CorpusDraft

__all__ = ["REPORTED_FILE", "report_missed_danger"]

REPORTED_FILE = "danger/reported.jsonl"


def report_missed_danger(session: Session, account: Account, folder: Path, text: str, kind: str,
                         ticket_id: int) -> CorpusDraft:
    """Submit for review the resident's ``text`` as a danger example of ``kind`` (from case ``ticket_id``).

    ``folder`` is ``LAWLINE_DANGER_DIR``, where a publish writes the examples every node trains from.
    """
    data_set = danger_data_set(folder)
    before = data_set.path(REPORTED_FILE).read_text(encoding="utf-8")
    line = json.dumps({"text": mask_personal_data(text.strip())[:2000], "danger": True, "kind": kind,
                       "note": f"漏报，案件 #{ticket_id}"}, ensure_ascii=False)
    if line.split(', "note"')[0] in before:
        raise DraftError("这句话已经报告过了。")
    after = (before if before.endswith("\n") or not before else before + "\n") + line + "\n"
    return new_data_draft(session, account, data_set, REPORTED_FILE, after,
                          note=f"案件 #{ticket_id} 里机器人没认出的危险信息", submit=True)
