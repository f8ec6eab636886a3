"""Packs H.264 (RFC 6184) and H.265 (RFC 7798) access units into RTP payloads and builds RTCP sender reports."""

from __future__ import annotations

import struct
import time

PAYLOAD_TYPE = 96
CLOCK_RATE = 90_000
# Keeps every RTP packet plus headers under a 1500-byte Ethernet MTU, with room for tunnelling.
MAX_PAYLOAD = 1400
_NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01


def payloads_h264(*, nals: tuple[bytes, ...] | list[bytes], max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """Single NAL unit packets for small NALs, FU-A fragments for the rest (packetization-mode=1)."""
    out = []
    for nal in nals:
        if len(nal) <= max_payload:
            out.append(nal)
            continue
        indicator = (nal[0] & 0xE0) | 28
        nal_type = nal[0] & 0x1F
        body = nal[1:]
        step = max_payload - 2
        for offset in range(0, len(body), step):
            start = 0x80 if offset == 0 else 0
            end = 0x40 if offset + step >= len(body) else 0
            out.append(bytes((indicator, start | end | nal_type)) + body[offset : offset + step])
    return out


def payloads_hevc(*, nals: tuple[bytes, ...] | list[bytes], max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """Single NAL unit packets for small NALs, FU fragments (type 49) for the rest."""
    out = []
    for nal in nals:
        if len(nal) <= max_payload:
            out.append(nal)
            continue
        nal_type = (nal[0] >> 1) & 0x3F
        # PayloadHdr keeps F, LayerId and TID from the NAL header and puts type 49 in between.
        header = bytes(((nal[0] & 0x81) | (49 << 1), nal[1]))
        body = nal[2:]
        step = max_payload - 3
        for offset in range(0, len(body), step):
            start = 0x80 if offset == 0 else 0
            end = 0x40 if offset + step >= len(body) else 0
            out.append(header + bytes((start | end | nal_type,)) + body[offset : offset + step])
    return out


def rtp_header(*, marker: bool, sequence: int, timestamp: int, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | PAYLOAD_TYPE, sequence, timestamp, ssrc)


def rtp_timestamp(*, wall_time: float, offset: int) -> int:
    """The 90 kHz media timestamp for a wall-clock instant; one mapping for RTP and RTCP keeps them in sync."""
    return (offset + round(wall_time * CLOCK_RATE)) & 0xFFFFFFFF


def rtcp_sender_report(
    *, ssrc: int, rtp_offset: int, packets: int, octets: int, cname: str, now: float | None = None
) -> bytes:
    """A compound RTCP packet: SR tying NTP wall-clock time to the RTP clock, then SDES with the CNAME."""
    now = time.time() if now is None else now
    ntp = now + _NTP_EPOCH_OFFSET
    ntp_seconds = int(ntp)
    ntp_fraction = int((ntp - ntp_seconds) * (1 << 32)) & 0xFFFFFFFF
    sr = struct.pack(
        "!BBHIIIIII",
        0x80,
        200,
        6,
        ssrc,
        ntp_seconds & 0xFFFFFFFF,
        ntp_fraction,
        rtp_timestamp(wall_time=now, offset=rtp_offset),
        packets & 0xFFFFFFFF,
        octets & 0xFFFFFFFF,
    )
    name = cname.encode()[:255]
    chunk = struct.pack("!IBB", ssrc, 1, len(name)) + name + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    sdes = struct.pack("!BBH", 0x81, 202, (4 + len(chunk)) // 4 - 1) + chunk
    return sr + sdes
