"""A viewer's RTP stream on its own: payloads cut once per picture, headers stamped per viewer, NACKs answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import aioice.ice
import av
from aiortc.codecs.h264 import H264Encoder
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import RTCP_RTPFB_NACK, HeaderExtensionsMap, RtcpRrPacket, RtcpRtpfbPacket, RtpPacket, unwrap_rtx

from cameras.media.rtp_fanout import RtpStream, h264_payloads
from cameras.media.source import START_CODE
from tests.cameras.media.conftest import run_async

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
EXTENSIONS = [
    RTCRtpHeaderExtensionParameters(id=4, uri=MID_URI),
    RTCRtpHeaderExtensionParameters(id=2, uri=ABS_SEND_TIME_URI),
]
SPS = bytes([0x67, 0x42, 0xC0, 0x14, 0xDA])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
BIG_IDR = bytes([0x65]) + bytes(range(256)) * 20  # several FU-A fragments


def test_payloads_are_cut_as_aiortc_packs_them() -> None:
    data = b"".join(START_CODE + nal for nal in (SPS, PPS, BIG_IDR))
    packet = av.Packet(data)
    packet.pts, packet.time_base = 0, Fraction(1, 90_000)
    expected, _ = H264Encoder().pack(packet)
    payloads = h264_payloads(data)
    assert list(payloads) == expected
    assert len(payloads) > 3  # a STAP-A of SPS and PPS, then the IDR's fragments


@dataclass
class FakeSocket:
    sent: list[bytes] = field(default_factory=list)

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        assert address == ("127.0.0.1", 5004)
        self.sent.append(data)


@dataclass
class FakeSender:
    """The parts of aiortc's RTCRtpSender and its transports that an RtpStream uses; SRTP leaves data as it is."""

    socket: FakeSocket = field(default_factory=FakeSocket)
    handled: list[Any] = field(default_factory=list)
    _ssrc: int = 0x11223344
    _rtx_ssrc: int = 0x55667788

    def __post_init__(self) -> None:
        protocol = aioice.ice.StunProtocol(receiver=None)  # type: ignore[arg-type]
        protocol.transport = self.socket  # type: ignore[assignment]
        pair = type("Pair", (), {"protocol": protocol, "remote_addr": ("127.0.0.1", 5004)})()
        connection = type("Connection", (), {"_nominated": {1: pair}})()
        srtp = type("Srtp", (), {"protect": staticmethod(lambda data: data)})()
        ice = type("Ice", (), {"_connection": connection})()
        self.transport = type("Dtls", (), {"state": "connected", "transport": ice, "_tx_srtp": srtp})()
        for name in ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count"):
            setattr(self, f"_RTCRtpSender__{name}", 0)

    async def _handle_rtcp_packet(self, packet: Any) -> None:
        self.handled.append(packet)


def stream_for(sender: FakeSender, *, rtx: int | None = 97) -> RtpStream:
    return RtpStream(
        sender=sender,  # type: ignore[arg-type]
        payload_type=96,
        rtx_payload_type=rtx,
        mid="0",
        header_extensions=EXTENSIONS,
    )


def parsed(data: bytes) -> RtpPacket:
    extensions = HeaderExtensionsMap()
    extensions.configure(RTCRtpParameters(headerExtensions=EXTENSIONS))
    return RtpPacket.parse(data, extensions)


@run_async()  # aioice's StunProtocol wants an event loop
async def test_a_picture_goes_out_with_this_viewers_headers_and_the_marker_on_its_last_packet() -> None:
    sender = FakeSender()
    stream = stream_for(sender)
    stream.send(payloads=[b"first", b"second", b"third"], timestamp=3000)
    stream.send(payloads=[b"next"], timestamp=6000)
    packets = [parsed(data) for data in sender.socket.sent]
    assert [p.payload for p in packets] == [b"first", b"second", b"third", b"next"]
    assert [p.marker for p in packets] == [0, 0, 1, 1]
    assert {(p.ssrc, p.payload_type, p.extensions.mid) for p in packets} == {(sender._ssrc, 96, "0")}
    assert all(p.extensions.abs_send_time is not None for p in packets)
    first = packets[0].sequence_number
    assert [p.sequence_number for p in packets] == [(first + n) & 0xFFFF for n in range(4)]
    assert (packets[3].timestamp - packets[0].timestamp) & 0xFFFFFFFF == 3000  # the clock starts anywhere
    # What aiortc's sender reports in its RTCP sender reports and stats.
    assert vars(sender)["_RTCRtpSender__packet_count"] == 4
    assert vars(sender)["_RTCRtpSender__octet_count"] == len(b"firstsecondthirdnext")
    assert vars(sender)["_RTCRtpSender__rtp_timestamp"] == packets[3].timestamp


@run_async()
async def test_a_nacked_packet_is_sent_again_on_the_rtx_stream() -> None:
    sender = FakeSender()
    stream = stream_for(sender)
    stream.send(payloads=[b"first", b"second"], timestamp=3000)
    lost = parsed(sender.socket.sent[1])
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=sender._ssrc, lost=[lost.sequence_number])
    await sender._handle_rtcp_packet(nack)  # what the DTLS transport calls for our SSRC's RTCP
    assert len(sender.socket.sent) == 3
    rtx = parsed(sender.socket.sent[2])
    assert (rtx.ssrc, rtx.payload_type) == (sender._rtx_ssrc, 97)
    again = unwrap_rtx(rtx, payload_type=96, ssrc=sender._ssrc)
    assert (again.sequence_number, again.timestamp, again.marker, again.payload) == (
        lost.sequence_number,
        lost.timestamp,
        1,
        b"second",
    )
    assert sender.handled == []  # the NACK did not reach aiortc's own (empty) history


@run_async()
async def test_without_rtx_a_nacked_packet_is_sent_again_as_it_was() -> None:
    sender = FakeSender()
    stream = stream_for(sender, rtx=None)
    stream.send(payloads=[b"only"], timestamp=0)
    sequence = parsed(sender.socket.sent[0]).sequence_number
    await sender._handle_rtcp_packet(
        RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=sender._ssrc, lost=[sequence, sequence + 1])
    )
    assert sender.socket.sent[1:] == sender.socket.sent[:1]  # one packet we never sent is not invented


@run_async()
async def test_other_rtcp_still_reaches_aiortcs_sender() -> None:
    sender = FakeSender()
    stream_for(sender)
    report = RtcpRrPacket(ssrc=1)
    await sender._handle_rtcp_packet(report)
    assert sender.handled == [report]
