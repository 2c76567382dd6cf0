"""The official account's menu: WeChat's limits, the keys /wechat answers, and creation through the API."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from channels.menu import MenuError, official_account_menu, validate_menu
from channels.texts import MENU_ADVISER, MENU_CONSULT, MENU_HOTLINE, MENU_LEGAL_AID, ChannelTexts
from tests.channels.conftest import OA_APPID, OA_SECRET


def _buttons(menu):
    for top in menu["button"]:
        yield top
        yield from top.get("sub_button", [])


def test_every_click_key_is_one_the_callback_answers():
    keys = {b["key"] for b in _buttons(official_account_menu()) if b.get("type") == "click"}
    assert keys == {MENU_CONSULT, MENU_LEGAL_AID, MENU_ADVISER, MENU_HOTLINE}
    assert keys <= set(ChannelTexts().menu_replies)


def test_web_chat_button_only_with_a_public_https_address():
    assert not [b for b in _buttons(official_account_menu("http://127.0.0.1:8000")) if b.get("type") == "view"]
    views = [b for b in _buttons(official_account_menu("https://12348.example.cn/")) if b.get("type") == "view"]
    assert views == [{"type": "view", "name": "网页咨询", "url": "https://12348.example.cn/chat"}]


@pytest.mark.parametrize(
    "menu",
    [
        {"button": []},
        {"button": [{"type": "click", "name": "法律援助自测", "key": "K"}]},  # 18 bytes at the top level
        {"button": [{"name": "更多", "sub_button": []}]},
        {"button": [{"type": "click", "name": "咨询", "key": ""}]},
        {"button": [{"type": "view", "name": "网页", "url": "javascript:alert(1)"}]},
        {"button": [{"type": "miniprogram", "name": "小程序"}]},
        {"button": [{"type": "click", "name": f"菜单{i}", "key": f"K{i}"} for i in range(4)]},
    ],
)
def test_menus_wechat_would_refuse_are_caught_before_sending(menu):
    with pytest.raises(MenuError):
        validate_menu(menu)


def test_menu_is_created_through_the_wechat_api(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("LAWLINE_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("LAWLINE_DATABASE_URL", raising=False)
    monkeypatch.delenv("LAWLINE_REDIS_URL", raising=False)
    monkeypatch.setenv("LAWLINE_PUBLIC_URL", "https://12348.example.cn")
    for name, value in {"TOKEN": "tok", "APPID": OA_APPID, "APPSECRET": OA_SECRET, "API_BASE": standin.base_url}.items():
        monkeypatch.setenv(f"LAWLINE_WECHAT_{name}", value)
    printed = CliRunner().invoke(main, ["wechat", "menu"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output) == official_account_menu("https://12348.example.cn")
    assert OA_APPID not in standin.menus, "printing never sends"

    applied = CliRunner().invoke(main, ["wechat", "menu", "--apply"])
    assert applied.exit_code == 0, applied.output
    assert standin.menus[OA_APPID] == official_account_menu("https://12348.example.cn")

    standin.fail_next("/cgi-bin/menu/create", 40018)
    refused = CliRunner().invoke(main, ["wechat", "menu", "--apply"])
    assert refused.exit_code == 1
    assert "40018" in refused.output
