"""Which network addresses a camera stream may be fetched from, checked after resolving, on every hop.

An owner types the stream address, and the server then connects to it: without this check an address such as
http://127.0.0.1:6379/ or http://169.254.169.254/ would make the server fetch its own internal services and show
the answer back as the camera's snapshot. Every address a name resolves to is checked, and FFmpeg is then handed
what was checked, never the name again (DNS may answer differently the second time):

- rtsp/rtsps: the URL is rewritten to the checked IP address (RTSP servers do not route on the host name).
- http/https: FFmpeg goes through `StreamProxy`, a forward proxy on loopback inside this process that checks
  the address of every request FFmpeg makes, so a redirect or an HLS playlist's next hop is checked as well.

Loopback, private, link-local, shared (CGNAT) and every other non-global address is refused unless
STREAM_ALLOW_PRIVATE is on (cameras on a LAN the server shares) or the address is in STREAM_ALLOWED_NETWORKS.
Cloud metadata addresses, multicast and unspecified addresses are refused even then.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import os
import secrets
import select
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# One message for every refusal, whatever the reason or the port: an owner must not learn from Lantern's
# answers which internal addresses exist or which of their ports are open.
REFUSED_MESSAGE = (
    "Lantern does not connect to this address: it is a local, private or reserved network address. "
    "Use the camera's public address, or ask the operator to allow private camera networks."
)
NO_PROXY_MESSAGE = (
    "This server cannot check http(s) camera addresses (its no_proxy setting would let FFmpeg bypass the "
    "check); use the camera's rtsp:// address."
)
# Addresses that answer with credentials in every major cloud; never a camera, whatever else is allowed.
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "169.254.169.253", "100.100.100.200", "fd00:ec2::254")
)
_PROXY_HOPS = frozenset({"http", "https"})
_HEAD_MAX = 64 * 1024
_CONNECT_TIMEOUT_S = 10.0
_CHUNK = 64 * 1024


class StreamAddressRefused(Exception):
    """The stream's host is (or resolves to) an address Lantern does not connect to; str() is for the owner."""

    def __init__(self, message: str = REFUSED_MESSAGE) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class StreamAddressPolicy:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls) -> StreamAddressPolicy:
        # Read at every check, not at import: a changed setting (or a test's override) applies at once.
        from django.conf import settings

        return cls(
            allow_private=bool(getattr(settings, "STREAM_ALLOW_PRIVATE", False)),
            allowed_networks=tuple(
                ipaddress.ip_network(n, strict=False) for n in getattr(settings, "STREAM_ALLOWED_NETWORKS", ())
            ),
        )

    def allows(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return True
        if address in _METADATA or address.is_multicast or address.is_unspecified:
            return False
        return address.is_global or self.allow_private


@dataclass(frozen=True)
class StreamTarget:
    """What to hand FFmpeg for one open: the URL (possibly pinned to a checked address) and its options."""

    url: str
    options: dict[str, str] = field(default_factory=dict)
    proxy_token: str = ""  # names this open's requests in StreamProxy's record, for the probe's message


def host_addresses(*, host: str, port: int | None = None) -> list[IPAddress]:
    """Every address `host` stands for: itself when it is an IP address, else what DNS answers (maybe none)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    addresses: list[IPAddress] = []
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            continue
        if address not in addresses:
            addresses.append(address)
    return addresses


def addresses_check(*, addresses: Iterable[IPAddress], policy: StreamAddressPolicy | None = None) -> None:
    """Raise StreamAddressRefused unless the policy allows every one of `addresses`."""
    policy = policy or StreamAddressPolicy.from_settings()
    if not all(policy.allows(address) for address in addresses):
        raise StreamAddressRefused()


def stream_url_address_refusal(*, url: str, policy: StreamAddressPolicy | None = None) -> str:
    """The owner-facing reason Lantern will not connect to `url`'s host, or "" (also when the name does not
    resolve yet: the probe says that in its own words)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    try:
        addresses_check(addresses=host_addresses(host=host), policy=policy)
    except StreamAddressRefused as refused:
        return str(refused)
    return ""


def stream_target(*, url: str, policy: StreamAddressPolicy | None = None) -> StreamTarget:
    """The checked way to open `url` now; StreamAddressRefused when its host is not allowed.

    A name that does not resolve is handed on unchanged, so that FFmpeg's own error says so.
    """
    policy = policy or StreamAddressPolicy.from_settings()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme in _PROXY_HOPS:
        if os.environ.get("no_proxy"):
            raise StreamAddressRefused(NO_PROXY_MESSAGE)
        # The proxy checks the first hop too, so a refusal reads the same however far down it comes;
        # checking here as well saves starting FFmpeg for an address that is refused anyway.
        addresses_check(addresses=host_addresses(host=host, port=parts.port), policy=policy)
        proxy = StreamProxy.running()
        token = secrets.token_hex(8)
        return StreamTarget(
            url=url,
            options={
                "http_proxy": f"http://{token}:x@127.0.0.1:{proxy.port}",
                # One request per connection, so the proxy judges each request's host on its own.
                "multiple_requests": "0",
                # Nested opens (HLS segments, keys) may only use protocols that go through the proxy.
                "protocol_whitelist": "http,https,tls,tcp,httpproxy,crypto",
            },
            proxy_token=token,
        )
    addresses = host_addresses(host=host, port=parts.port)
    if not addresses:
        return StreamTarget(url=url)
    addresses_check(addresses=addresses, policy=policy)
    return StreamTarget(url=_url_with_host(url=url, address=addresses[0]))


def _url_with_host(*, url: str, address: IPAddress) -> str:
    parts = urlsplit(url)
    host = f"[{address}]" if address.version == 6 else str(address)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=userinfo + host + port))


class StreamProxy:
    """A forward HTTP proxy on loopback that connects only to allowed addresses; FFmpeg's http(s) goes through it.

    Plain requests arrive in absolute form (`GET http://host/path`), https as `CONNECT host:443`. Each is checked
    after resolving, then piped to the checked address; a refusal answers 403 and is recorded under the token
    FFmpeg sends as the proxy user name, which the probe reads to give its one "not allowed" message.
    """

    _instance: StreamProxy | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._events: dict[str, str] = {}
        self._events_lock = threading.Lock()
        threading.Thread(target=self._serve, name="stream-proxy", daemon=True).start()

    @classmethod
    def running(cls) -> StreamProxy:
        with cls._lock:
            if cls._instance is None:
                cls._instance = StreamProxy()
            return cls._instance

    def event(self, *, token: str) -> str:
        """ "refused", "unreachable" or "" for what the proxy met on the requests named by `token`; forgets it."""
        with self._events_lock:
            return self._events.pop(token, "")

    def _note(self, token: str, what: str) -> None:
        if not token:
            return
        with self._events_lock:
            if self._events.get(token) != "refused":
                self._events[token] = what
            # Tokens of opens nobody asked about (the relay's) must not pile up.
            while len(self._events) > 1000:
                self._events.pop(next(iter(self._events)))

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), name="stream-proxy-conn", daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            client.settimeout(_CONNECT_TIMEOUT_S)
            head = _read_head(client)
            if head is None:
                return
            request_line, headers, rest = head
            method, target, version = [*request_line.split(" ", 2), "", ""][:3]
            token = _proxy_token(headers)
            if not token:
                # FFmpeg sends the proxy user name (the open's token) only when asked for it.
                client.sendall(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="lantern"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
                )
                return
            if method.upper() == "CONNECT":
                host, _, port_text = target.rpartition(":")
                path_line = b""
            else:
                parts = urlsplit(target)
                if parts.scheme.lower() != "http" or not parts.hostname:
                    _answer(client, 400, "Bad Request")
                    return
                host, port_text = parts.hostname, str(parts.port or 80)
                path = parts.path or "/"
                if parts.query:
                    path += "?" + parts.query
                kept = [h for h in headers if h.split(":", 1)[0].strip().lower() not in _HOP_HEADERS]
                path_line = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""]).encode(
                    "latin-1"
                )
            try:
                port = int(port_text)
            except ValueError:
                _answer(client, 400, "Bad Request")
                return
            addresses = host_addresses(host=host.strip("[]"), port=port)
            try:
                addresses_check(addresses=addresses)
            except StreamAddressRefused:
                logger.info("stream proxy refused %s:%s", host, port)
                self._note(token, "refused")
                _answer(client, 403, "Forbidden")
                return
            if not addresses:
                self._note(token, "unresolved")
                _answer(client, 502, "Bad Gateway")
                return
            try:
                upstream = socket.create_connection((str(addresses[0]), port), timeout=_CONNECT_TIMEOUT_S)
            except OSError:
                self._note(token, "unreachable")
                _answer(client, 502, "Bad Gateway")
                return
            if path_line:
                upstream.sendall(path_line + rest)
            else:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
            _pipe(client, upstream)
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


_HOP_HEADERS = frozenset({"proxy-authorization", "proxy-connection", "connection", "keep-alive"})


def _read_head(sock: socket.socket) -> tuple[str, list[str], bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > _HEAD_MAX:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return lines[0], [line for line in lines[1:] if line], rest


def _proxy_token(headers: list[str]) -> str:
    for header in headers:
        name, _, value = header.partition(":")
        if name.strip().lower() == "proxy-authorization" and value.strip().lower().startswith("basic "):
            try:
                decoded = base64.b64decode(value.strip()[6:]).decode("latin-1")
            except ValueError:
                return ""
            return decoded.split(":", 1)[0]
    return ""


def _answer(sock: socket.socket, status: int, reason: str) -> None:
    sock.sendall(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copies bytes both ways until either side closes (a live MJPEG stream may last for hours)."""
    a.settimeout(None)
    b.settimeout(None)
    peers = {a: b, b: a}
    while True:
        readable, _, _ = select.select(list(peers), [], [], 60.0)
        if not readable:
            continue
        for sock in readable:
            data = sock.recv(_CHUNK)
            if not data:
                return
            peers[sock].sendall(data)
