"""Channel fixtures: the local WeChat stand-in server (one per session, reset per test) and app credentials."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.wechat_standin import WeChatStandIn

OA_APPID = "wx-official-account"
OA_SECRET = "oa-secret"
MP_APPID = "wx-mini-program"
MP_SECRET = "mp-secret"
TOKEN = "lawline-callback-token"
# An EncodingAESKey: 43 Base64 characters (32 bytes), as the official account's settings page issues.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def standin_server() -> Iterator[WeChatStandIn]:
    server = WeChatStandIn({OA_APPID: OA_SECRET, MP_APPID: MP_SECRET})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def standin(standin_server: WeChatStandIn) -> WeChatStandIn:
    standin_server.reset()
    return standin_server
