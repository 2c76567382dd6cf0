"""Identifiers safe to log.

Logs carry a hashed openid, never the openid itself, nor any message text (README, "Settings").
"""

from __future__ import annotations

import hashlib

__all__ = ["hash_openid"]


def hash_openid(openid: str | None) -> str:
    """A short, stable SHA-256 prefix of ``openid``: the same resident links across log lines, nothing more."""
    if not openid:
        return "-"
    return hashlib.sha256(b"lawline-openid:" + openid.encode("utf-8")).hexdigest()[:12]
