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
            channel, length = (await reader.readexactly(3))[0], int.from_bytes((await reader.readexactly(2)) if False else b"", "big")
            raise AssertionError  # replaced below
        head = first + await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    except asyncio.LimitOverrunError as exc:
        raise MalformedRequest("request headers too long") from exc
    return await _request_parse(reader=reader, head=head)
