"""Where the crawler may go: http(s) only, and never into private address space by surprise.

A feed on the public internet can list, or redirect to, `http://169.254.169.254/` or a
service on the operator's network. `address_blocked(ip)` says which addresses are off
limits (loopback, private, link-local including cloud metadata, reserved, multicast,
unspecified, and IPv4-mapped forms of those); `target_allowed` is the whole decision, pure.
`check_target(url, source_private=…)` applies it to one URL, resolving the host first;
`PrivateAddressMiddleware` calls it for every request and every redirect hop (Scrapy sends
each hop back through the downloader middlewares), and `kurilwatch rules test --url` for the
page and each hop it is redirected to. A source that is itself on a private or loopback
address (an intranet feed, a test site: `host_private`) may reach its own kind of address.

`forbid_entity_declarations` refuses XML that declares entities before any parser sees it.

Known limit: the address is checked when the request is scheduled and resolved again by
Twisted when it connects, so a DNS answer that changes in between (rebinding) is not caught.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request

from kurilwatch.errors import ExtractionError

SOURCE_HOST_TTL = 60.0
"""Seconds a source host's private-or-public verdict is reused before resolving again."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressForbidden(IgnoreRequest):
    """The request leads somewhere this source may not go."""


class EntitiesForbidden(ExtractionError):
    """The XML document declares entities: refused, as defusedxml does (billion laughs, XXE)."""


def forbid_entity_declarations(body: bytes) -> None:
    """Refuse an XML document whose DTD declares entities; feeds and sitemaps never need to.

    Raises:
        EntitiesForbidden: the prolog holds `<!ENTITY`.
    """
    head = body[:65536]
    if b"<!DOCTYPE" in head and b"<!ENTITY" in head:
        raise EntitiesForbidden("the document declares XML entities (refused: entity expansion)")


def address_blocked(ip: IPAddress) -> bool:
    """True for addresses that a public source must not lead the crawler to."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def target_allowed(scheme: str, addresses: list[IPAddress], *, source_private: bool) -> bool:
    """May a request go to a host with `addresses`, for a source that is or is not private?"""
    if scheme not in ("http", "https"):
        return False
    if source_private:
        return True
    return bool(addresses) and not any(address_blocked(ip) for ip in addresses)


async def resolve(host: str) -> list[IPAddress]:
    """The addresses `host` resolves to (a literal address resolves to itself)."""
    host = host.strip("[]")
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def host_private(host: str) -> bool:
    """True when `host` resolves to an address a public source may not reach."""
    return any(address_blocked(ip) for ip in await resolve(host))


async def check_target(url: str, *, source_private: bool) -> None:
    """Refuse `url` unless `target_allowed` lets a (private or public) source reach it.

    A host that does not resolve passes: the download fails with the resolver's own error.

    Raises:
        AddressForbidden: not an http(s) URL, or its host resolves to a blocked address.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AddressForbidden(f"not an http(s) URL: {parts.scheme}")
    if source_private:
        return
    addresses = await resolve(parts.hostname or "")
    if addresses and not target_allowed(parts.scheme, addresses, source_private=False):
        raise AddressForbidden(f"{parts.hostname} resolves to a private or reserved address")


class PrivateAddressMiddleware:
    """Downloader middleware that enforces `target_allowed` on every request.

    The source a request is for comes with it (`request.meta["kurilwatch_source"]`, set by the
    spider); a request without one is held to the public rule. Whether a source's own host is
    private is resolved per host at most every `SOURCE_HOST_TTL` seconds.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self._private: dict[str, tuple[bool, float]] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> PrivateAddressMiddleware:
        """Scrapy's constructor hook."""
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        """Raise `IgnoreRequest` for a scheme or address this source may not reach."""
        private = await self._source_private(request.meta.get("kurilwatch_source"))
        await check_target(request.url, source_private=private)

    async def _source_private(self, source: Any) -> bool:
        origin = urlsplit(source.url).hostname if source is not None else None
        if not origin:
            return False
        now = time.monotonic()
        known = self._private.get(origin)
        if known is None or known[1] < now:
            known = self._private[origin] = (await host_private(origin), now + SOURCE_HOST_TTL)
        return known[0]
