"""Channel fixtures: the WeChat stand-in reset per test (the server is the session's, tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.channels.wechat_standin import (  # noqa: F401 (the credentials, where tests have always imported them)
    AES_KEY,
    MP_APPID,
    MP_SECRET,
    OA_APPID,
    OA_SECRET,
    TOKEN,
    WeChatStandIn,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def standin(standin_server: WeChatStandIn) -> WeChatStandIn:
    standin_server.reset()
    return standin_server
