"""Residents' personal information under PIPL (个人信息保护法, issue #16): retention and residents' requests.

- ``bot.privacy.retention``: ``purge`` erases what is older than ``LAWLINE_RETENTION_DAYS`` (messages,
  Rasa's tracker events, closed cases and their history, legal-aid checks), keeping the analytics' counts;
- ``bot.privacy.residents``: ``find_resident`` / ``export_resident`` / ``delete_resident`` answer a
  resident who asks to see or erase what is held about them;
- ``bot.privacy.erasure``: how each record is erased, shared by both;
- ``bot.privacy.worker``: ``RetentionWorker``, the daily purge inside the running app.

The command line is ``lawline privacy …`` (``bot.privacy_cli``). Masking what the console shows is
``bot.console.masking`` with the rule in ``bot.console.access``.
"""

from bot.privacy.errors import CaseStillOpen, PrivacyError, ResidentNotFound
from bot.privacy.residents import Resident, delete_resident, export_resident, find_resident
from bot.privacy.retention import PurgeReport, purge, rasa_tracker
from bot.privacy.worker import RetentionWorker

__all__ = [
    "CaseStillOpen",
    "PrivacyError",
    "PurgeReport",
    "Resident",
    "ResidentNotFound",
    "RetentionWorker",
    "delete_resident",
    "export_resident",
    "find_resident",
    "purge",
    "rasa_tracker",
]
