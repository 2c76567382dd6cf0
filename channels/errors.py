"""Errors of the channels package.

ChannelError                    root of the package
├── ChannelConfigError          a channel setting is malformed (e.g. an EncodingAESKey that is not 43 characters)
└── WeChatError                 the WeChat API refused a call or could not be reached; ``errcode``, ``errmsg``
    ├── AccessTokenInvalid      40001 / 40014 / 42001 still returned after one forced token refresh
    ├── ResponseWindowClosed    45015: more than 48 hours since the resident's last message; never retried
    ├── QuotaExceeded           45047: customer-service message quota for this resident used up
    ├── WeChatBusy              -1 / 45009, HTTP 5xx or a failure before the request went out, after bounded retries
    └── OutcomeUnknown          a message was sent but no answer came back (read timeout, connection cut):
                                WeChat may have delivered it; never retried by the client (the outbox decides)

Codes follow the WeChat pages "全局返回码说明" and "客服消息 / 发送客服消息". Nothing here carries a
resident's message text: ``errmsg`` is WeChat's own message or a short description of ours.
"""

from __future__ import annotations

__all__ = [
    "AccessTokenInvalid",
    "ChannelConfigError",
    "ChannelError",
    "OutcomeUnknown",
    "QuotaExceeded",
    "ResponseWindowClosed",
    "WeChatBusy",
    "WeChatError",
]


class ChannelError(Exception):
    """Root of the channels package's errors."""


class ChannelConfigError(ChannelError, ValueError):
    """A channel setting cannot be used; ``name`` is the setting, ``reason`` why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class WeChatError(ChannelError):
    """An error answered by (or on the way to) the WeChat API, like wechatpy's ``WeChatException``."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg

    def __str__(self) -> str:
        return f"WeChat error {self.errcode}: {self.errmsg}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.errcode!r}, {self.errmsg!r})"


class AccessTokenInvalid(WeChatError):
    """The access token was refused even after one forced refresh (secret reset, IP allow-list, clock)."""


class ResponseWindowClosed(WeChatError):
    """45015: customer-service messages may only be sent within 48 hours of the resident's last message."""


class QuotaExceeded(WeChatError):
    """45047: too many customer-service messages to this resident without a reply from them."""


class WeChatBusy(WeChatError):
    """-1 (system busy), 45009 (call limit), HTTP 5xx or network trouble, after bounded retries."""


class OutcomeUnknown(WeChatError):
    """The request went out and no answer came back: delivered or not, nobody knows.

    Retrying it at once (as for ``WeChatBusy``) sent a person's reply six times; the outbox retries it once
    per such timeout, so a resident gets every message and at most one copy more per timeout.
    """
