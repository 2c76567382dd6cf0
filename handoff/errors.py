"""Errors of the handoff package.

HandoffError                    root of the package
├── DirectoryError              the directory/calendar/roster file is malformed; ``problems`` are ``file:line: reason``
├── TicketError                 a ticket operation cannot be done
│   ├── TicketNotFound          no such ticket
│   └── TicketConflict          the ticket is not in a state that allows it (already claimed, closed …)
├── DeliveryRefused             WeChat will not take a customer-service message now (window closed, quota used)
├── DeliveryUnknown             a message went out but no answer came back: it may have been delivered
└── TemplateRefused             WeChat refused an adviser's template message (``permanent``: never retried)

Nothing here carries a resident's message text.
"""

from __future__ import annotations

__all__ = ["DeliveryRefused", "DeliveryUnknown", "DirectoryError", "HandoffError", "TemplateRefused", "TicketConflict",
           "TicketError", "TicketNotFound"]


class HandoffError(Exception):
    """Root of the handoff package's errors."""


class DirectoryError(HandoffError, ValueError):
    """An editable data file cannot be used; every problem found is listed as ``file:line: reason``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class TicketError(HandoffError):
    """A ticket operation failed; ``ticket_id`` names the ticket."""

    def __init__(self, ticket_id: int | None, reason: str) -> None:
        super().__init__(f"ticket {ticket_id}: {reason}")
        self.ticket_id = ticket_id
        self.reason = reason


class TicketNotFound(TicketError):
    """No ticket with this id."""


class TicketConflict(TicketError):
    """The ticket's state does not allow the operation (someone else claimed it, it is closed …)."""


class DeliveryRefused(HandoffError):
    """The resident cannot be messaged now: ``reason`` is ``window_closed``, ``quota`` or ``no_channel``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeliveryUnknown(HandoffError):
    """The message was sent and no answer came back (a read timeout): retried once, counted once."""


class TemplateRefused(HandoffError):
    """WeChat did not take a template message; ``permanent`` when retrying cannot help (not following …)."""

    def __init__(self, errcode: int, errmsg: str, *, permanent: bool) -> None:
        super().__init__(f"template message refused ({errcode}): {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.permanent = permanent
