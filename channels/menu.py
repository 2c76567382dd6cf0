"""The official account's custom menu ("自定义菜单"), built from the menu keys the callback handles.

WeChat allows three top-level buttons (names up to 16 bytes, about four Chinese characters) with up to five
sub-buttons each (names up to 60 bytes). ``click`` buttons arrive as ``CLICK`` events with our keys
(``channels.texts.MENU_*``); the web chat is a ``view`` button, offered only when the server has a public
HTTPS address (WeChat opens nothing else, and the domain must be registered with the account).
"""

from __future__ import annotations

from typing import Any

from channels.texts import MENU_ADVISER, MENU_CONSULT, MENU_HOTLINE, MENU_LEGAL_AID

__all__ = ["MenuError", "official_account_menu", "validate_menu"]

TOP_NAME_BYTES = 16
SUB_NAME_BYTES = 60
URL_BYTES = 1024


class MenuError(ValueError):
    """A menu WeChat would refuse (errcode 40016–40018 and friends), found before sending it."""


def official_account_menu(public_url: str | None = None) -> dict[str, Any]:
    """The menu: 法律咨询 · 法律援助 (自测) · 找人帮忙 (顾问, 热线, web chat when reachable over HTTPS)."""
    helpers: list[dict[str, Any]] = [
        {"type": "click", "name": "找法律顾问", "key": MENU_ADVISER},
        {"type": "click", "name": "12348热线", "key": MENU_HOTLINE},
    ]
    if public_url and public_url.startswith("https://"):
        helpers.append({"type": "view", "name": "网页咨询", "url": f"{public_url.rstrip('/')}/chat"})
    menu = {
        "button": [
            {"type": "click", "name": "法律咨询", "key": MENU_CONSULT},
            {"name": "法律援助", "sub_button": [{"type": "click", "name": "法律援助自测", "key": MENU_LEGAL_AID}]},
            {"name": "找人帮忙", "sub_button": helpers},
        ]
    }
    validate_menu(menu)
    return menu


def validate_menu(menu: dict[str, Any]) -> None:
    """Check WeChat's documented limits; raises ``MenuError`` naming the offending button."""
    top = menu.get("button")
    if not isinstance(top, list) or not 1 <= len(top) <= 3:
        raise MenuError("a menu has one to three top-level buttons")
    for button in top:
        _check(button, TOP_NAME_BYTES)
        subs = button.get("sub_button")
        if subs is not None:
            if not isinstance(subs, list) or not 1 <= len(subs) <= 5:
                raise MenuError(f"{button.get('name')!r}: one to five sub-buttons")
            for sub in subs:
                _check(sub, SUB_NAME_BYTES)
                if "sub_button" in sub:
                    raise MenuError(f"{sub.get('name')!r}: menus are two levels deep at most")
                _check_action(sub)
        else:
            _check_action(button)


def _check(button: dict[str, Any], limit: int) -> None:
    name = button.get("name")
    if not isinstance(name, str) or not name or len(name.encode("utf-8")) > limit:
        raise MenuError(f"button name {name!r} must be 1–{limit} bytes")


def _check_action(button: dict[str, Any]) -> None:
    kind = button.get("type")
    if kind == "click":
        key = button.get("key")
        if not isinstance(key, str) or not 0 < len(key.encode("utf-8")) <= 128:
            raise MenuError(f"{button['name']!r}: a click button needs a key of 1–128 bytes")
    elif kind == "view":
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > URL_BYTES:
            raise MenuError(f"{button['name']!r}: a view button needs an http(s) URL of at most {URL_BYTES} bytes")
    else:
        raise MenuError(f"{button.get('name')!r}: unsupported button type {kind!r}")
