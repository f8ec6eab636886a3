"""Cuts each picture into RTP payloads once per camera, and sends them to each viewer under its own headers and SRTP."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Sequence
from struct import pack, unpack_from

from aioice.ice import Connection as IceConnection
from aioice.ice import StunProtocol
from aiortc import RTCDtlsTransport, RTCRtpSender
from aiortc.codecs.h264 import H264Encoder
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import (
    RTCP_RTPFB_NACK,
    RTP_HISTORY_SIZE,
    AnyRtcpPacket,
    HeaderExtensions,
    HeaderExtensionsMap,
    RtcpRtpfbPacket,
)

# Seconds from NTP's epoch (1900) to Unix's (1970).
_NTP_UNIX_OFFSET_S = 2_208_988_800
# RTCRtpSender reads these in its RTCP sender reports and its stats; they are private (name-mangled),
# so they are checked when a stream starts and a newer aiortc that renames them fails loudly, not silently.
_SENDER_COUNTERS = (
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__packet_count",
    "_RTCRtpSender__octet_count",
)
_RTP_VERSION_BITS = 0x80
_RTP_EXTENSION_BIT = 0x10
_RTP_MARKER_BIT = 0x80
_ICE_COMPONENT_RTP = 1


def h264_payloads(data: bytes) -> tuple[bytes, ...]:
    """One Annex B access unit's RTP payloads (RFC 6184 mode 1: single NAL, STAP-A, FU-A), cut as aiortc does."""
    # The same static helpers aiortc's H264Encoder.pack() uses, called once per picture instead of once per viewer.
    return tuple(H264Encoder._packetize(H264Encoder._split_bitstream(data)))


class RtpStream:
    """One viewer's outgoing video: the camera's shared payloads under this viewer's SSRC, sequence numbers and clock.

    It takes over from aiortc's per-packet sending loop, which builds an RtpPacket, reads a datetime and awaits a
    chain of coroutines for every packet. The RTCRtpSender stays for signalling and RTCP: its sender reports
    and stats are fed from here, and the NACKs it receives are answered from this stream's history.
    """

    def __init__(
        self,
        *,
        sender: RTCRtpSender,
        payload_type: int,
        rtx_payload_type: int | None,
        mid: str | None,
        header_extensions: Sequence[RTCRtpHeaderExtensionParameters],
    ) -> None:
        missing = [name for name in _SENDER_COUNTERS if not hasattr(sender, name)]
        if missing:
            raise RuntimeError(f"aiortc's RTCRtpSender no longer has {missing}; its sender reports would be wrong")
        self._sender = sender
        self._dtls: RTCDtlsTransport = sender.transport
        self._ice: IceConnection = self._dtls.transport._connection
        self._payload_type = payload_type
        self._rtx_payload_type = rtx_payload_type
        self._mid = mid
        self._extensions = HeaderExtensionsMap()
        self._extensions.configure(RTCRtpParameters(headerExtensions=list(header_extensions)))
        self._ssrc = sender._ssrc
        self._rtx_ssrc = sender._rtx_ssrc
        # As aiortc starts them: sequence numbers in the lower half, so SRTP's rollover counter is not
        # confused by an early wrap (Chromium drops such packets).
        self._sequence = random.randrange(32768)
        self._rtx_sequence = random.randrange(32768)
        self._timestamp_origin = random.getrandbits(32)
        self._history: list[bytes | None] = [None] * RTP_HISTORY_SIZE  # plain RTP packets by sequence number
        self._packets = 0
        self._octets = 0
        # Every byte this stream put on the wire (SRTP packets, retransmissions included): what the viewer
        # really cost, which aiortc's counters never see since its sender does not send these packets.
        self.bytes_sent = 0
        sender_rtcp: Callable[[AnyRtcpPacket], Awaitable[None]] = sender._handle_rtcp_packet

        async def rtcp_received(packet: AnyRtcpPacket) -> None:
            if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                for sequence in packet.lost:
                    self._retransmit(sequence)
            else:
                await sender_rtcp(packet)

        # The DTLS transport hands each RTCP packet for our SSRC to the sender's _handle_rtcp_packet; the
        # sender would look a NACKed packet up in its own history, which this stream leaves empty.
        setattr(sender, "_handle_rtcp_packet", rtcp_received)  # noqa: B010 (assigning to a method: mypy refuses)

    def send(self, *, payloads: Sequence[bytes], timestamp: int) -> None:
        """Sends one picture's payloads, the last with the marker bit; ConnectionError once the connection is gone."""
        if self._dtls.state != "connected":
            raise ConnectionError("the viewer's DTLS transport is not connected")
        pair = self._ice._nominated.get(_ICE_COMPONENT_RTP)
        if pair is None:
            raise ConnectionError("the viewer's ICE connection has no selected pair")
        protocol = pair.protocol
        if not isinstance(protocol, StunProtocol):
            raise RuntimeError(f"aioice's selected pair has a {type(protocol).__name__}, not a StunProtocol")
        # StunProtocol.send_data() is exactly this call, behind two more coroutines (over TURN too).
        sendto, address = protocol.transport.sendto, pair.remote_addr
        protect = self._dtls._tx_srtp.protect

        rtp_timestamp = (self._timestamp_origin + timestamp) & 0xFFFFFFFF
        # Every packet of a picture leaves in this one burst, so one send time serves them all.
        ntp = int((time.time() + _NTP_UNIX_OFFSET_S) * (1 << 32))
        tail = pack("!LL", rtp_timestamp, self._ssrc) + self._extension_block(ntp=ntp)
        first = _RTP_VERSION_BITS | (_RTP_EXTENSION_BIT if len(tail) > 8 else 0)
        payload_type = self._payload_type
        history = self._history
        sequence = self._sequence
        last = len(payloads) - 1
        octets = wire = 0
        for index, payload in enumerate(payloads):
            marker = _RTP_MARKER_BIT if index == last else 0
            packet = b"".join((pack("!BBH", first, marker | payload_type, sequence), tail, payload))
            protected = protect(packet)
            sendto(protected, address)
            wire += len(protected)
            history[sequence % RTP_HISTORY_SIZE] = packet
            octets += len(payload)
            sequence = (sequence + 1) & 0xFFFF
        self._sequence = sequence
        self._packets += len(payloads)
        self._octets += octets
        self.bytes_sent += wire
        sender = self._sender
        setattr(sender, "_RTCRtpSender__ntp_timestamp", ntp)  # noqa: B010
        setattr(sender, "_RTCRtpSender__rtp_timestamp", rtp_timestamp)  # noqa: B010
        setattr(sender, "_RTCRtpSender__packet_count", self._packets)  # noqa: B010
        setattr(sender, "_RTCRtpSender__octet_count", self._octets)  # noqa: B010

    def _extension_block(self, *, ntp: int) -> bytes:
        values = HeaderExtensions(mid=self._mid, abs_send_time=(ntp >> 14) & 0x00FFFFFF)
        profile, value = self._extensions.set(values)
        return pack("!HH", profile, len(value) >> 2) + value if value else b""

    def _retransmit(self, sequence: int) -> None:
        packet = self._history[sequence % RTP_HISTORY_SIZE]
        if packet is None or unpack_from("!H", packet, 2)[0] != sequence:
            return
        pair = self._ice._nominated.get(_ICE_COMPONENT_RTP)
        if self._dtls.state != "connected" or pair is None:
            return
        if self._rtx_payload_type is not None:
            # RFC 4588: the lost packet's header on the RTX stream, its sequence number in front of its payload.
            header_size = 12 + (4 + 4 * unpack_from("!H", packet, 14)[0] if packet[0] & _RTP_EXTENSION_BIT else 0)
            packet = b"".join(
                (
                    pack("!BBH", packet[0], (packet[1] & _RTP_MARKER_BIT) | self._rtx_payload_type, self._rtx_sequence),
                    packet[4:8],
                    pack("!L", self._rtx_ssrc),
                    packet[12:header_size],
                    packet[2:4],
                    packet[header_size:],
                )
            )
            self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        protected = self._dtls._tx_srtp.protect(packet)
        pair.protocol.transport.sendto(protected, pair.remote_addr)
        self.bytes_sent += len(protected)
