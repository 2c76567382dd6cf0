"""The official account's message callback on the wire: verify, read, parse or decrypt, render.

Follows the WeChat pages "接入概述 / 验证消息的确来自微信服务器" (signature = SHA-1 of the sorted token,
timestamp and nonce), "消息加解密说明" (safe mode: ``msg_signature`` = SHA-1 of the sorted token,
timestamp, nonce and ``Encrypt``; AES-CBC through wechatpy's ``WeChatCrypto``), "接收普通消息",
"接收事件推送" and "被动回复用户消息". Signatures are compared in constant time; XML is first checked
with defusedxml (no DTD, no entities) and only then mapped by wechatpy's message classes. wechatpy
types stay in this module: the rest of the package sees ``Inbound``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring
from starlette.requests import Request
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatException
from wechatpy.parser import parse_message
from wechatpy.replies import TextReply

from channels.errors import ChannelConfigError

__all__ = ["CallbackCodec", "CallbackRejected", "Inbound", "check_aes_key"]

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ECHOSTR = re.compile(r"[A-Za-z0-9_\-.=+/]{1,256}")


class CallbackRejected(Exception):
    """A callback request refused before any processing; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message or event from a resident, as the rest of the package sees it.

    ``msg_type`` is WeChat's ``MsgType`` in lower case (``text``, ``voice``, ``image``, ``event``, or
    anything newer); ``text`` is the text message's ``Content`` or the voice's ``Recognition``.
    """

    msg_type: str
    openid: str
    account: str
    create_time: int
    msg_id: int | None
    text: str = ""
    event: str = ""
    event_key: str = ""

    def __repr__(self) -> str:
        return f"Inbound(msg_type={self.msg_type!r}, event={self.event!r}, text=<{len(self.text)} chars>)"


def _sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def _flat_xml(data: bytes | str) -> dict[str, str]:
    """The ``<xml>`` element's children as tag → text, refusing DTDs, entities and malformed XML."""
    try:
        root = defused_fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise CallbackRejected(400, f"unsafe or malformed XML ({type(exc).__name__})") from None
    if root.tag != "xml":
        raise CallbackRejected(400, "XML root is not <xml>")
    return {child.tag: (child.text or "") for child in root}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _cdata_safe(text: str) -> str:
    """Text that survives inside wechatpy's ``<![CDATA[...]]>`` and in XML 1.0."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _XML_ILLEGAL.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def check_aes_key(aes_key: str) -> None:
    """An EncodingAESKey is 43 Base64 characters encoding 32 bytes ("消息加解密说明")."""
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ChannelConfigError("aes_key", "not Base64") from None
    if len(aes_key) != 43 or len(key) != 32:
        raise ChannelConfigError("aes_key", "an EncodingAESKey has 43 characters (32 bytes)")


class CallbackCodec:
    """Verifies, reads and renders the official account's callback requests for one account."""

    def __init__(
        self,
        token: str,
        appid: str,
        aes_key: str | None,
        *,
        max_body_bytes: int,
        tolerance_seconds: int,
    ) -> None:
        if not token:
            raise ChannelConfigError("token", "required")
        self._token = token
        self._max_body = max_body_bytes
        self._tolerance = tolerance_seconds
        self._crypto: Any = None
        if aes_key:
            check_aes_key(aes_key)
            self._crypto = WeChatCrypto(token, aes_key, appid)

    @property
    def encrypted(self) -> bool:
        """True in safe mode (an EncodingAESKey is configured)."""
        return self._crypto is not None

    def check_signature(self, query: Mapping[str, str], now: float | None = None) -> None:
        """Refuse (403) a request whose signature is missing or wrong, or whose timestamp is off by > tolerance."""
        signature, timestamp, nonce = query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", "")
        if not signature or not timestamp or not nonce:
            raise CallbackRejected(403, "signature, timestamp or nonce missing")
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise CallbackRejected(403, "timestamp is not a number")
        if abs((time.time() if now is None else now) - int(timestamp)) > self._tolerance:
            raise CallbackRejected(403, "stale timestamp")
        if not _same(_sha1_signature(self._token, timestamp, nonce), signature):
            raise CallbackRejected(403, "bad signature")

    def echo(self, query: Mapping[str, str]) -> str:
        """The ``echostr`` of a verified URL-verification request ("接入概述")."""
        echostr = query.get("echostr", "")
        if not _ECHOSTR.fullmatch(echostr):
            raise CallbackRejected(400, "echostr missing or malformed")
        return echostr

    async def read_body(self, request: Request) -> bytes:
        """The request body, refused with 413 as soon as it exceeds the limit (declared or streamed)."""
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise CallbackRejected(400, "bad Content-Length")
            if int(declared) > self._max_body:
                raise CallbackRejected(413, "body too large")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._max_body:
                raise CallbackRejected(413, "body too large")
        return bytes(body)

    def open(self, body: bytes, query: Mapping[str, str]) -> Inbound:
        """Parse (and in safe mode verify ``msg_signature`` and decrypt) a message body."""
        aes = query.get("encrypt_type", "raw").lower() == "aes"
        if self._crypto is None:
            if aes:
                raise CallbackRejected(400, "encrypted message but no EncodingAESKey configured")
            return self._parse(body)
        if not aes:
            # The plain-mode signature does not cover the body: in safe mode only signed bodies are accepted.
            raise CallbackRejected(403, "plain message refused in safe mode")
        encrypt = _flat_xml(body).get("Encrypt", "")
        msg_signature = query.get("msg_signature", "")
        if not encrypt or not msg_signature:
            raise CallbackRejected(403, "Encrypt or msg_signature missing")
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not _same(_sha1_signature(self._token, timestamp, nonce, encrypt), msg_signature):
            raise CallbackRejected(403, "bad msg_signature")
        try:
            plain = self._crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
        except (WeChatException, ValueError, struct.error, IndexError) as exc:
            raise CallbackRejected(400, f"cannot decrypt ({type(exc).__name__})") from None
        return self._parse(plain.encode("utf-8") if isinstance(plain, str) else plain)

    def _parse(self, xml: bytes) -> Inbound:
        fields = _flat_xml(xml)
        msg_type = fields.get("MsgType", "").strip().lower()
        if not msg_type or not fields.get("FromUserName") or not fields.get("ToUserName"):
            raise CallbackRejected(400, "MsgType, FromUserName or ToUserName missing")
        try:
            message = parse_message(xml.decode("utf-8"))
            create_time = int(message.time or 0)
            msg_id = int(message.id or 0) or None
            openid, account = _text(message.source), _text(message.target)
            text = ""
            if message.type == "text":
                text = _text(message.content)
            elif message.type == "voice":
                text = _text(message.recognition)
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise CallbackRejected(400, f"malformed message ({type(exc).__name__})") from None
        return Inbound(
            msg_type=msg_type,
            openid=openid,
            account=account,
            create_time=create_time,
            msg_id=msg_id,
            text=text,
            event=fields.get("Event", "").strip().lower() if msg_type == "event" else "",
            event_key=fields.get("EventKey", "").strip() if msg_type == "event" else "",
        )

    def render_text(self, inbound: Inbound, content: str) -> str:
        """A passive text reply ("被动回复用户消息 / 回复文本消息"), encrypted in safe mode."""
        now = int(time.time())
        reply = TextReply(source=inbound.account, target=inbound.openid, content=_cdata_safe(content), time=now)
        xml: str = reply.render()
        if self._crypto is not None:
            xml = self._crypto.encrypt_message(xml, secrets.token_hex(8), str(now))
        return xml
