"""The relay's parts on their own: a viewer's bounded queue and timestamps, access units, ICE addresses."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import aioice.ice
import av
import numpy as np
import pytest

from cameras.media import ice
from cameras.media.relay import ViewerQueue
from cameras.media.source import CLOCK_RATE, START_CODE, AccessUnit, AccessUnits, nal_units
from tests.cameras.media.conftest import run_async

SPS = bytes([0x67, 0x42, 0xC0, 0x14, 0xDA])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
AUD = bytes([0x09, 0xF0])
IDR = bytes([0x65, 0x88, 0x84, 0x21])
SLICE = bytes([0x41, 0x9A, 0x02, 0x10])
FILLER = bytes([0x0C]) + b"\xff" * 20 + b"\x80"
FRAME = CLOCK_RATE // 10


def unit(n: int, *, keyframe: bool = False, epoch: int = 1, received: float | None = None) -> AccessUnit:
    return AccessUnit(
        data=b"k" if keyframe else b"p",
        pts=n * FRAME,
        keyframe=keyframe,
        epoch=epoch,
        received=n / 10 if received is None else received,
    )


def annexb(*nals: bytes) -> bytes:
    return b"".join(START_CODE + nal for nal in nals)


def packet(data: bytes, *, pts: int | None, keyframe: bool) -> av.Packet:
    result = av.Packet(data)
    result.pts = pts
    result.time_base = Fraction(1, CLOCK_RATE)
    result.is_keyframe = keyframe
    return result


@run_async(timeout_s=5)
async def test_a_slow_viewer_skips_to_the_next_keyframe_and_counts_what_it_lost() -> None:
    queue = ViewerQueue(capacity=5)
    queue.put(unit(0, keyframe=True))
    await queue.get()  # playing now
    for n in range(1, 9):
        queue.put(unit(n))
        assert len(queue) <= 5
    # The 6th unit found 5 waiting: all 6 lost; the two after it cannot be decoded without them.
    assert (len(queue), queue.dropped) == (0, 8)
    queue.put(unit(9, keyframe=True))
    queue.put(unit(10))
    assert queue.dropped == 8
    assert [(await queue.get())[0].pts for _ in range(2)] == [9 * FRAME, 10 * FRAME]


@run_async(timeout_s=5)
async def test_a_new_viewer_starts_at_the_newest_keyframe_without_counting_a_loss() -> None:
    queue = ViewerQueue(capacity=50)
    queue.put(unit(0))  # mid-GOP: useless without its keyframe
    for n in range(1, 4):
        queue.put(unit(n, keyframe=n == 1))
    queue.put(unit(4, keyframe=True))
    queue.put(unit(5))
    assert len(queue) == 2
    assert (await queue.get())[0].pts == 4 * FRAME
    assert queue.dropped == 0


@run_async(timeout_s=5)
async def test_the_backlog_is_squeezed_so_the_newest_picture_shows_at_once() -> None:
    queue = ViewerQueue(capacity=50)
    for n in range(10, 14):
        queue.put(unit(n, keyframe=n == 10))
    timestamps = [(await queue.get())[1] for _ in range(4)]
    # One tick apart, ending at the newest unit's own time; live units then follow at camera pace.
    assert timestamps == [13 * FRAME - 3, 13 * FRAME - 2, 13 * FRAME - 1, 13 * FRAME]
    queue.put(unit(14))
    assert (await queue.get())[1] == 14 * FRAME


@run_async(timeout_s=5)
async def test_timestamps_run_on_across_a_reconnect_by_the_time_that_passed() -> None:
    queue = ViewerQueue(capacity=50)
    queue.put(unit(100, keyframe=True, received=10.0))
    assert (await queue.get())[1] == 100 * FRAME
    # The camera came back 2.5 s later on a fresh connection whose clock starts at 0; what it sent
    # before its first keyframe is skipped, and is nobody's fault.
    queue.put(unit(0, epoch=2, received=12.4))
    queue.put(unit(1, keyframe=True, epoch=2, received=12.5))
    queue.put(unit(2, epoch=2, received=12.6))
    first, second = (await queue.get())[1], (await queue.get())[1]
    assert first == 100 * FRAME + round(2.5 * CLOCK_RATE)
    assert second == first + FRAME
    assert queue.dropped == 0


@run_async(timeout_s=5)
async def test_a_closed_queue_ends_the_track() -> None:
    from aiortc.mediastreams import MediaStreamError

    queue = ViewerQueue(capacity=5)
    waiter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(MediaStreamError):
        await waiter


def test_a_keyframe_without_parameter_sets_gets_those_from_the_sdp_and_loses_its_filler() -> None:
    units = AccessUnits(extradata=annexb(SPS, PPS), epoch=3, avcc_filter=None)
    key = units.from_packet(packet(annexb(AUD, IDR, FILLER), pts=None, keyframe=True))[0]
    assert nal_units(key.data) == [AUD, SPS, PPS, IDR]
    assert (key.keyframe, key.epoch, key.pts) == (True, 3, 0)  # FFmpeg leaves the first packet untimed
    delta = units.from_packet(packet(annexb(SLICE, FILLER), pts=FRAME, keyframe=False))[0]
    assert nal_units(delta.data) == [SLICE]
    assert (delta.keyframe, delta.pts) == (False, FRAME)
    assert units.from_packet(packet(annexb(FILLER), pts=2 * FRAME, keyframe=False)) == []


def test_parameter_sets_seen_in_band_are_reused_for_keyframes_that_lack_them() -> None:
    units = AccessUnits(extradata=b"", epoch=1, avcc_filter=None)
    first = units.from_packet(packet(annexb(SPS, PPS, IDR), pts=0, keyframe=True))[0]
    assert nal_units(first.data) == [SPS, PPS, IDR]
    # An IDR marks itself as a keyframe even when the container does not say so.
    later = units.from_packet(packet(annexb(IDR), pts=FRAME, keyframe=False))[0]
    assert later.keyframe
    assert nal_units(later.data) == [SPS, PPS, IDR]


def test_mp4_style_h264_becomes_annex_b_with_parameter_sets_before_each_keyframe(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10, options={"g": "5", "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for n in range(12):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), n * 20, dtype=np.uint8), format="rgb24")
            frame.pts = n
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.extradata or b"")[:1] == b"\x01"  # avcC
        units = AccessUnits.for_stream(stream=video, epoch=1)
        produced = [u for p in container.demux(video) for u in units.from_packet(p)]
    keyframes = [u for u in produced if u.keyframe]
    assert len(produced) == 12 and len(keyframes) >= 2
    for each in keyframes:
        types = [nal[0] & 0x1F for nal in nal_units(each.data)]
        assert types[:2] == [7, 8] or types[1:3] == [7, 8], types
    assert all(u.data.startswith(START_CODE) for u in produced)
    assert [u.pts for u in produced] == sorted(u.pts for u in produced)


def test_host_addresses_are_limited_only_inside_the_block() -> None:
    with ice.host_addresses_only(["127.0.0.1", "::1"]):
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
    # Outside it aioice gathers as it always did: every interface but loopback.
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)


@pytest.mark.parametrize("addresses", [[], ["camera.local"], "127.0.0.1"])
def test_ice_host_addresses_must_be_ip_addresses(addresses: list[str]) -> None:
    with pytest.raises(ValueError):
        ice.addresses_checked(addresses)


def test_only_the_private_host_candidates_are_announced_on_the_public_address() -> None:
    sdp = "\r\n".join(
        [
            "v=0",
            "c=IN IP4 10.0.0.5",
            "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host",
            "a=candidate:2 1 udp 2130706431 192.168.1.9 40002 typ host",
            "a=candidate:3 1 udp 1694498815 198.51.100.1 40004 typ srflx raddr 10.0.0.5 rport 40000",
        ]
    )
    announced = ice.public_address_announce(sdp=sdp, private="10.0.0.5", public="203.0.113.7")
    assert "c=IN IP4 203.0.113.7" in announced
    assert "a=candidate:1 1 udp 2130706431 203.0.113.7 40000 typ host" in announced
    assert "a=candidate:2 1 udp 2130706431 192.168.1.9 40002 typ host" in announced
    assert "raddr 10.0.0.5" in announced  # a server-reflexive candidate's own line is left as the server saw it
    assert ice.host_candidate_addresses(sdp=announced) == {"203.0.113.7", "192.168.1.9"}


def test_mdns_candidates_are_dropped_from_an_offer_to_a_loopback_relay() -> None:
    sdp = "\r\n".join(
        [
            "v=0",
            "a=candidate:1 1 udp 2122260223 6b1f0c4e-1d2a-4a9e-9c1e-5b0f5f4b3a21.local 53012 typ host",
            "a=candidate:2 1 udp 2122260223 127.0.0.1 53013 typ host",
            "a=end-of-candidates",
        ]
    )
    assert ice.loopback_only(["127.0.0.1", "::1"])
    assert not ice.loopback_only(["127.0.0.1", "10.0.0.5"])
    kept = ice.mdns_candidates_removed(sdp=sdp)
    assert ".local" not in kept
    assert "127.0.0.1 53013 typ host" in kept
    # Not complete any more: the browser's checks still tell the relay where it is.
    assert "end-of-candidates" not in kept
    assert ice.mdns_candidates_removed(sdp=kept) == kept
