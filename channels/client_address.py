"""The address a request came from, believing ``X-Forwarded-For`` only from the proxies named in settings.

Anyone can send ``X-Forwarded-For``; only a proxy we run can be believed about who connected to it. So the
socket peer is the client unless it is one of ``LAWLINE_TRUSTED_PROXIES``; then the header is walked from
the right (each proxy appends the address of whoever connected to it), skipping trusted proxies, and the
first untrusted entry is the client (MDN, "X-Forwarded-For: Selecting an IP address"). Entries left of it
were written by the client and are ignored. Rate limits and sign-in throttling use this one function.

This module is a leaf (only ``ipaddress``): ``bot`` and ``channels`` can both use it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["IPNetwork", "TrustedProxies", "client_address", "parse_trusted_proxies"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
TrustedProxies = tuple[IPNetwork, ...]
_IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_trusted_proxies(value: str) -> TrustedProxies:
    """Comma-separated addresses or CIDR networks (``10.0.0.5, 172.16.0.0/12, ::1``); empty trusts none.

    Raises ``ValueError`` naming the bad item: a network with host bits set (``10.0.0.1/8``) is refused
    rather than widened, and ``*`` is refused because believing everyone is the defect this guards against.
    """
    networks: list[IPNetwork] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError:
            raise ValueError(f"not an IP address or network: {item!r}") from None
    return tuple(dict.fromkeys(networks))


def _ip(text: str) -> _IP | None:
    """An address from a header entry or a socket peer: ``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:80``."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:1.2.3.4 is 1.2.3.4 (a dual-stack socket's view of IPv4)
    return address


def _trusted(address: _IP, trusted: Iterable[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def _forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every ``X-Forwarded-For`` entry in order; several header lines count as one list (RFC 9110 §5.3)."""
    entries: list[str] = []
    for name, value in headers:
        if name.lower() == b"x-forwarded-for":
            entries.extend(value.decode("latin-1").split(","))
    return entries


def client_address(scope: Mapping[str, Any], trusted: TrustedProxies) -> str | None:
    """The client's address of an ASGI request (``request.scope``), or ``None`` when the server gave no peer.

    A peer that is not an IP address (a Unix socket, Starlette's ``testclient``) is returned as it is and
    never trusted. Past the trusted proxies, an entry that is not an address means a proxy is misconfigured:
    the nearest hop known for certain is returned then, never text a client chose.
    """
    client = scope.get("client")
    peer = str(client[0]) if client else None
    if peer is None:
        return None
    hop = _ip(peer)
    if hop is None or not _trusted(hop, trusted):
        return str(hop) if hop is not None else peer
    for entry in reversed(_forwarded_for(scope.get("headers") or ())):
        address = _ip(entry)
        if address is None:
            break
        hop = address
        if not _trusted(hop, trusted):
            break
    return str(hop)
