"""Reads RTSP/1.0 requests and interleaved frames off a connection and formats responses (RFC 2326)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    451: "Parameter Not Understood",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "RTSP Version Not Supported",
}
MAX_BODY = 64 * 1024


@dataclass
class RtspRequest:
    method: str
    uri: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def cseq(self) -> str | None:
        return self.header("CSeq")

    @property
    def session_id(self) -> str | None:
        value = self.header("Session")
        return value.split(";", 1)[0].strip() if value else None


@dataclass(frozen=True)
class InterleavedFrame:
    """RTP/RTCP a client sends back over the RTSP connection (RFC 2326 §10.12), e.g. receiver reports."""

    channel: int
    payload: bytes


class MalformedRequest(Exception):
    pass


async def message_read(*, reader: asyncio.StreamReader) -> RtspRequest | InterleavedFrame | None:
    """The next request or interleaved frame, or None when the client closed the connection."""
    try:
        first = await reader.readexactly(1)
        # Some clients send bare CRLFs as keepalives between requests.
        while first in (b"\r", b"\n"):
            first = await reader.readexactly(1)
        if first == b"$":
            prefix = await reader.readexactly(3)
            payload = await reader.readexactly(int.from_bytes(prefix[1:3], "big"))
            return InterleavedFrame(channel=prefix[0], payload=payload)
        head = first + await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    except asyncio.LimitOverrunError as exc:
        raise MalformedRequest("request headers too long") from exc
    request = request_parse(head=head)
    length = request.header("Content-Length")
    if length:
        if not length.isdigit() or int(length) > MAX_BODY:
            raise MalformedRequest("bad Content-Length")
        try:
            request.body = await reader.readexactly(int(length))
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
    return request


def request_parse(*, head: bytes) -> RtspRequest:
    """The request line and headers of one RTSP request (everything up to the blank line)."""
    try:
        lines = head.decode("utf-8").split("\r\n")
    except UnicodeDecodeError as exc:
        raise MalformedRequest("request is not UTF-8") from exc
    parts = lines[0].split()
    if len(parts) != 3:
        raise MalformedRequest(f"bad request line {lines[0][:80]!r}")
    request = RtspRequest(method=parts[0].upper(), uri=parts[1], version=parts[2])
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise MalformedRequest(f"bad header line {line[:80]!r}")
        request.headers[name.strip().lower()] = value.strip()
    return request


def response_format(
    *, status: int, cseq: str | None, headers: list[tuple[str, str]] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Error')}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines.append("Server: Lantern camera simulator")
    lines.extend(f"{name}: {value}" for name, value in headers or [])
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class TransportSpec:
    """One alternative from a client's Transport header that we can serve."""

    tcp: bool
    interleaved: tuple[int, int] | None = None
    client_port: tuple[int, int] | None = None


def transport_choose(*, header: str) -> TransportSpec | None:
    """The first unicast RTP/AVP alternative in a Transport header we support (TCP interleaved or UDP)."""
    for alternative in header.split(","):
        fields = [f.strip() for f in alternative.split(";") if f.strip()]
        if not fields:
            continue
        protocol = fields[0].upper()
        params = {}
        for item in fields[1:]:
            name, _, value = item.partition("=")
            params[name.strip().lower()] = value.strip()
        if "multicast" in params:
            continue
        if protocol == "RTP/AVP/TCP":
            return TransportSpec(tcp=True, interleaved=_port_pair(params.get("interleaved")))
        if protocol in ("RTP/AVP", "RTP/AVP/UDP"):
            ports = _port_pair(params.get("client_port"))
            if ports is not None:
                return TransportSpec(tcp=False, client_port=ports)
    return None


def _port_pair(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    first, _, second = value.partition("-")
    try:
        low = int(first)
        high = int(second) if second else low + 1
    except ValueError:
        return None
    if not (0 <= low <= 65535 and 0 <= high <= 65535):
        return None
    return low, high
