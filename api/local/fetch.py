"""Downloading URL inputs: http/https only, size and time caps, private addresses refused.

The host name of each hop is resolved once, every address it resolves to is checked, and the
connection goes to the checked address (the URL's host swapped for the IP; the original name
kept in the Host header and, for https, as the TLS server name, so certificates still verify).
Resolving again when connecting, as a plain ``client.get(url)`` does, let a name that answered
a public address to the check and 127.0.0.1 to the connection fetch a loopback service's bytes
(DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urljoin, urlsplit

import httpx

from api.local.imaging import ImageRejected, IngestLimits, human_bytes

#: Resolves a host name to IP address strings (injectable for tests).
Resolver = Callable[[str, int], Awaitable[list[str]]]

_PRIVATE_HINT = "start the server with --allow-private-urls to allow it"
#: 100.64.0.0/10 (RFC 6598): neither private nor global; cloud metadata lives there on some clouds.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _address_problem(address: str) -> str | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return "not a public unicast address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "not a public unicast address"
    if ip in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


async def check_url(url: str, *, allow_private: bool, resolver: Resolver) -> str | None:
    """Raise ImageRejected('URL refused: ...') unless ``url`` may be downloaded; return the
    checked address to connect to (None with ``allow_private``: then nothing is pinned)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = scheme or "(none)"
        raise ImageRejected(
            f"URL refused: scheme {shown} is not allowed; use http or https ({url})"
        )
    try:
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise ImageRejected(f"URL refused: {exc} ({url})") from None
    if not host:
        raise ImageRejected(f"URL refused: no host name in {url}")
    if allow_private:
        return None
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise ImageRejected(f"URL refused: cannot resolve host {host!r} ({exc})") from None
    for address in addresses:
        problem = _address_problem(address)
        if problem:
            raise ImageRejected(
                f"URL refused: host {host!r} resolves to {address}, {problem}; {_PRIVATE_HINT}"
            )
    if not addresses:
        raise ImageRejected(f"URL refused: host {host!r} resolves to no address")
    return addresses[0]


def _pinned(client: httpx.AsyncClient, url: str, address: str | None) -> httpx.Request:
    """A GET of ``url`` that connects to ``address`` (when given) and still names the host."""
    if address is None:
        return client.build_request("GET", url)
    original = httpx.URL(url)
    host = original.host
    netloc = host if original.port is None else f"{host}:{original.port}"
    extensions = {"sni_hostname": host} if original.scheme == "https" else {}
    return client.build_request(
        "GET",
        original.copy_with(host=address.split("%", 1)[0]),
        headers={"Host": netloc},
        extensions=extensions,
    )


async def download(
    client: httpx.AsyncClient,
    url: str,
    limits: IngestLimits,
    *,
    allow_private: bool,
    resolver: Resolver = resolve,
) -> bytes:
    """Fetch ``url`` (following redirects, each hop checked); raise ImageRejected on failure."""
    try:
        async with asyncio.timeout(limits.url_timeout):
            return await _download(client, url, limits, allow_private, resolver)
    except (TimeoutError, httpx.TimeoutException):
        raise ImageRejected(f"download timed out after {limits.url_timeout:g} s: {url}") from None


async def _download(
    client: httpx.AsyncClient,
    url: str,
    limits: IngestLimits,
    allow_private: bool,
    resolver: Resolver,
) -> bytes:
    current = url
    for _ in range(limits.max_redirects + 1):
        address = await check_url(current, allow_private=allow_private, resolver=resolver)
        try:
            response = await client.send(_pinned(client, current, address), stream=True)
            async with contextlib.aclosing(response):
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    if not location:
                        raise ImageRejected(
                            f"download failed: redirect without Location ({current})"
                        )
                    current = urljoin(current, location)
                    continue
                if response.status_code >= 400:
                    code = f"{response.status_code} {response.reason_phrase or ''}".strip()
                    raise ImageRejected(f"download failed: HTTP {code} from {current}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limits.max_bytes:
                    raise ImageRejected(
                        f"too large: {current} declares {human_bytes(int(declared))}; "
                        f"the limit is {human_bytes(limits.max_bytes)}"
                    )
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > limits.max_bytes:
                        raise ImageRejected(
                            f"too large: {current} sent more than "
                            f"{human_bytes(limits.max_bytes)}, the limit"
                        )
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.TimeoutException:
            raise
        except httpx.HTTPError as exc:
            raise ImageRejected(
                f"download failed: {type(exc).__name__}: {exc} ({current})"
            ) from None
    raise ImageRejected(f"download failed: more than {limits.max_redirects} redirects from {url}")
