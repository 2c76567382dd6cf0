"""Escalation to village legal advisers and 12348 hotline lawyers: tickets, routing, duty rosters.

Empty until the escalation issue (#5) lands; nothing depends on it yet.
"""

__all__: list[str] = []
