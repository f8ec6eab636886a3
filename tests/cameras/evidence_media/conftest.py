"""Recorded segments as the recorder writes them (fragmented MP4 of Annex B H.264, ~1 s each), made once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

FPS = 10
CLOCK = 90_000
FRAME_TICKS = CLOCK // FPS
_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


@dataclass(frozen=True)
class AccessUnit:
    data: bytes  # Annex B, with SPS and PPS in band before every keyframe
    keyframe: bool


@dataclass(frozen=True)
class Video:
    units: list[AccessUnit]
    width: int
    height: int

    def second(self, index: int) -> list[AccessUnit]:
        return self.units[index * FPS : (index + 1) * FPS]


def h264_encode(*, width: int, height: int, seconds: int, bitrate: int = 2_000_000) -> Video:
    """Moving noise as a camera would send it: no B-frames, a keyframe every second, constant bitrate."""
    codec = av.CodecContext.create("libx264", "w")
    assert isinstance(codec, av.VideoCodecContext)
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, FPS)
    codec.framerate = Fraction(FPS)
    codec.bit_rate = bitrate
    kbps = bitrate // 1000
    codec.options = {
        "preset": "ultrafast",
        "x264-params": (
            f"keyint={FPS}:min-keyint={FPS}:scenecut=0:bframes=0:repeat-headers=1:annexb=1"
            f":vbv-maxrate={kbps}:vbv-bufsize={kbps}:nal-hrd=cbr"
        ),
    }
    picture = np.random.default_rng(7).integers(0, 255, (height, width, 3), dtype=np.uint8)
    units = []
    for index in range(FPS * seconds):
        frame = av.VideoFrame.from_ndarray(np.roll(picture, index * 3, axis=1), format="rgb24")
        frame.pts = index
        units += [AccessUnit(bytes(p), p.is_keyframe) for p in codec.encode(frame)]
    units += [AccessUnit(bytes(p), p.is_keyframe) for p in codec.encode(None)]
    return Video(units=units, width=width, height=height)


def nal_units(annexb: bytes) -> list[bytes]:
    """The NAL units of an Annex B access unit; x264 starts some with 4 bytes (00 00 00 01), others with 3."""
    starts = [match.end() for match in re.finditer(b"\x00\x00\x01", annexb)]
    ends = [start - 3 - (annexb[start - 4] == 0 if start >= 4 else 0) for start in starts[1:]] + [len(annexb)]
    return [annexb[start:end] for start, end in zip(starts, ends, strict=True)]


def segment_write(*, path: Path, video: Video, units: Sequence[AccessUnit], first_pts: int = 0) -> Path:
    """One self-contained fragmented MP4, remuxed by PyAV from Annex B units the way the recorder does: a
    stream without a codec context, so FFmpeg takes the avcC from the first keyframe's SPS and PPS.

    `first_pts` > 0 gives a file whose timestamps carry on from an earlier one (FFmpeg would otherwise
    start every fragmented file at zero), since segments of either kind occur.
    """
    options = {"movflags": _MOVFLAGS + ("+frag_discont" if first_pts else "")}
    if first_pts:
        options["avoid_negative_ts"] = "disabled"
    with av.open(str(path), "w", format="mp4", options=options) as container:
        stream = container.add_mux_stream("h264", width=video.width, height=video.height)
        stream.time_base = Fraction(1, CLOCK)
        for index, unit in enumerate(units):
            packet = av.Packet(unit.data)
            packet.stream = stream
            packet.time_base = Fraction(1, CLOCK)
            packet.pts = packet.dts = first_pts + index * FRAME_TICKS
            packet.duration = FRAME_TICKS
            packet.is_keyframe = unit.keyframe
            container.mux(packet)
    return path


def segment_without_parameter_sets(*, source: Path, path: Path) -> Path:
    """`source` remuxed with SPS and PPS only in its sample entry (avcC), none in band: what a camera that
    sends its parameter sets out of band (in the SDP) would leave, had it been recorded by another tool."""
    with (
        av.open(str(source)) as original,
        av.open(str(path), "w", format="mp4", options={"movflags": _MOVFLAGS}) as out,
    ):
        video = original.streams.video[0]
        stream = out.add_stream_from_template(video)
        for packet in original.demux(video):
            if packet.dts is None:
                continue
            payload = bytes(packet)
            kept = b""
            position = 0
            while position < len(payload):
                size = int.from_bytes(payload[position : position + 4], "big")
                nal = payload[position : position + 4 + size]
                if nal[4] & 0x1F not in (7, 8):
                    kept += nal
                position += 4 + size
            bare = av.Packet(kept)
            bare.stream = stream
            bare.time_base = packet.time_base
            bare.pts, bare.dts, bare.duration = packet.pts, packet.dts, packet.duration
            bare.is_keyframe = packet.is_keyframe
            out.mux(bare)
    return path


@dataclass(frozen=True)
class Recording:
    """Segment files of one camera, in order."""

    paths: list[Path]
    frames_per_segment: int


@pytest.fixture(scope="session")
def video_320() -> Video:
    return h264_encode(width=320, height=180, seconds=4)


@pytest.fixture(scope="session")
def video_160() -> Video:
    return h264_encode(width=160, height=90, seconds=2)


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory, video_320: Video) -> Recording:
    """Four 1-second segments; the second and fourth carry on the timestamps of the one before, as some do."""
    folder = tmp_path_factory.mktemp("segments")
    paths = []
    for index in range(4):
        first_pts = index * FPS * FRAME_TICKS if index % 2 else 0
        path = folder / f"segment-{index}.mp4"
        paths.append(segment_write(path=path, video=video_320, units=video_320.second(index), first_pts=first_pts))
    return Recording(paths=paths, frames_per_segment=FPS)
