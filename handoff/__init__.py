"""Escalation to village legal advisers and 12348 hotline lawyers: directory, routing, tickets, delivery.

- ``handoff.directory``: places (county → town → village), service points, people and their WeChat Work
  groups, the working calendar and the hotline duty roster, from editable YAML (``LAWLINE_DIRECTORY``).
  ``Directory.service_points(kind=..., near=...)`` is the lookup other packages use.
- ``handoff.tickets``: ``TicketService`` — open (``TicketService.open(conversation_key, reason=...)``),
  claim, reply, transfer, close; deadlines in duty hours, reminders and escalation (``sweep``).
- ``handoff.desk``: the resident's side, called by the conversation service around the bot.
- ``handoff.robot`` / ``handoff.delivery``: the persistent outbox to group robots (20 a minute per
  robot) and the customer-service deliveries to residents (48-hour window, message quota).
- ``handoff.signals``: danger and complexity patterns (``handoff/data/signals.yaml``).
- ``handoff.service``: ``HandoffService`` wires them and runs the workers.

Nothing here imports ``bot``; what it needs from the app is in ``handoff.ports``.
"""

from handoff.directory import Directory, ServicePoint, load_directory
from handoff.errors import DirectoryError, HandoffError, TicketConflict, TicketError, TicketNotFound
from handoff.service import HandoffService
from handoff.tickets import TicketService

__all__ = [
    "Directory",
    "DirectoryError",
    "HandoffError",
    "HandoffService",
    "ServicePoint",
    "TicketConflict",
    "TicketError",
    "TicketNotFound",
    "TicketService",
    "load_directory",
]
