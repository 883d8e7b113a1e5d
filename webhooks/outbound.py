"""One outbound POST to a webhook endpoint, refusing non-global addresses (server-side request forgery).

The host is resolved once, every address it resolves to is checked, and the connection goes to a checked
address with the original host name in `Host` and in TLS (SNI and certificate check): a second lookup by the
HTTP client could answer differently (DNS rebinding), so the client is never given the name to resolve.
urllib3 is used directly because it lets us connect to an address while verifying the certificate for the
name (`server_hostname`, `assert_hostname`); no redirect is followed (a 3xx is a failed try).
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

# How much of a response body is kept for the log.
EXCERPT_CHARS = 500
_READ_BYTES = 4096

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The request was not made: the URL or its addresses are not allowed (`code` names why)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: str


def address_allowed(address: IpAddress) -> bool:
    """A global unicast address; anything else (private, loopback, link-local, shared, reserved, multicast,
    unspecified, documentation ranges) only with WEBHOOKS_ALLOW_PRIVATE."""
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return True
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 and 64:ff9b::10.0.0.1 reach the IPv4 address inside.
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in ipaddress.IPv6Network("64:ff9b::/96"):
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.is_global and not address.is_multicast


def url_check(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; Refused for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("bad_url")
    if parts.username or parts.password:
        raise Refused("bad_url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("bad_url") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path


def host_literal_refused(host: str) -> bool:
    """True when the host is an address (or `localhost`) that sending would refuse: the form says so at once,
    without a DNS lookup in the web request."""
    if host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost"):
        return not settings.WEBHOOKS_ALLOW_PRIVATE
    try:
        return not address_allowed(ipaddress.ip_address(host))
    except ValueError:
        return False


def resolve_checked(host: str, port: int) -> list[IpAddress]:
    """Every address of `host`, each one allowed; Refused if the name does not resolve or any address is not
    allowed (a name that mixes a public and a private address is refused whole)."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise Refused("dns_failed", str(exc)[:200]) from None
        addresses: list[IpAddress] = []
        for info in infos:
            # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of the address.
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
    else:
        addresses = [literal]
    if not addresses:
        raise Refused("dns_failed")
    for address in addresses:
        if not address_allowed(address):
            raise Refused("address_not_allowed", str(address))
    return addresses


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST `body` to `url` through a checked address; Refused before any connection, OSError-like
    urllib3 errors (`urllib3.exceptions.HTTPError`) for a connection that failed."""
    scheme, host, port, path = url_check(url)
    addresses = resolve_checked(host, port)
    address = str(addresses[0])
    host_header = host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port == (443 if scheme == "https" else 80) else f"[{host}]:{port}"
    pool_timeout = urllib3.Timeout(connect=timeout, read=timeout)
    pool: urllib3.HTTPConnectionPool
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=pool_timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            server_hostname=host,
            assert_hostname=host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=pool_timeout, retries=False, maxsize=1)
    deadline = time.monotonic() + timeout * 3
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        try:
            chunks = []
            size = 0
            # A slow trickle must not hold the worker past a bounded time, whatever the per-read timeout.
            while size < _READ_BYTES and time.monotonic() < deadline:
                chunk = response.read(min(1024, _READ_BYTES - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            response.release_conn()
            response.close()
    finally:
        pool.close()
    text = b"".join(chunks).decode("utf-8", errors="replace")
    return Response(status=response.status, excerpt=" ".join(text.split())[:EXCERPT_CHARS])
