"""Lawline's wiring: settings, database, the command line (and, later, the app factory).

``bot`` imports the domain packages (``corpus``, ``retrieval`` …) and connects them; nothing imports
``bot`` back.
"""

__all__: list[str] = []
