"""The knowledge editors' console (issue #6), server-rendered Chinese pages.

Accounts and roles, corpus drafts with review and publish (an amendment article by article:
``bot.console.amendments``), stable addresses of laws and articles (``bot.console.links``), the hit test in
plain words (``bot.console.plain``), the residents' feedback loop, service analytics, and the audit log in
Chinese (``bot.console.audit_names``); every time shown is Beijing time (``bot.console.times``).

Other route modules (the adviser console) use the small API in ``bot.console.auth`` (``require_role``,
``current_account``, ``csrf_token``, ``audit``) and extend ``console/base.html`` via
``bot.console.templating.render``. ``build_console`` (in ``bot.console.app``) assembles the routes.

Importing this package is cheap: ``bot.models`` imports ``bot.console.models`` for the tables, so nothing
else is imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.console.app import Console, build_console

__all__ = ["Console", "build_console"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bot.console import app

        return getattr(app, name)
    raise AttributeError(name)
