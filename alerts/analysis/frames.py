"""Segment decoding for analysis: a recorded segment's frames at a few per second, decoding no more than needed."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import av.container
import av.video
import cv2
import numpy as np

# The mp4 header already names the codec, size and pixel format; the default probe would decode the first pictures
# again only to learn what the header says (cameras/media/export.py measured ~20 ms per 1080p segment for that).
_OPEN_OPTIONS = {"probesize": "32", "analyzeduration": "0"}
# Pixel formats whose first plane is 8-bit luma, so a grey picture is a view of it and needs no conversion.
_LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"})
# A frame belongs to the sample that starts within it; a little slack keeps rounded timestamps on the right side.
_SLACK = 1e-3

Source = str | Path | BinaryIO


@dataclass
class DecodeStats:
    """What decoding one segment cost: packets read, sent to the decoder, frames it produced, and frames kept."""

    packets: int = 0
    packets_decoded: int = 0
    frames_decoded: int = 0
    frames_sampled: int = 0


@dataclass(frozen=True)
class SampledFrame:
    """One frame kept for analysis, `offset` seconds after the segment's first frame."""

    offset: float
    frame: av.VideoFrame

    @property
    def size(self) -> tuple[int, int]:
        return self.frame.width, self.frame.height

    def grey(self, *, width: int) -> np.ndarray:
        """The picture in grey, `width` pixels wide, for motion and tamper checks."""
        return frame_grey(frame=self.frame, width=width)

    def bgr(self) -> np.ndarray:
        """The full picture as OpenCV wants it; converted only for frames that reach a detector."""
        return self.frame.to_ndarray(format="bgr24")


def frame_grey(*, frame: av.VideoFrame, width: int) -> np.ndarray:
    """A grey copy of `frame`, area-averaged down to `width` pixels (which also smooths sensor and coding noise)."""
    if frame.format.name in _LUMA_FIRST:
        plane = frame.planes[0]
        luma: np.ndarray = np.frombuffer(memoryview(plane), dtype=np.uint8)
        luma = luma.reshape(frame.height, plane.line_size)[:, : frame.width]
    else:
        luma = frame.to_ndarray(format="gray")
    if width >= frame.width:
        return np.ascontiguousarray(luma)
    height = max(1, round(frame.height * width / frame.width))
    return cv2.resize(luma, (width, height), interpolation=cv2.INTER_AREA)


def _sampled(*, offset: float, duration: float, fps: float) -> bool:
    """Whether a frame shown from `offset` for `duration` seconds holds one of the sample times k / fps."""
    first = math.ceil((offset - _SLACK) * fps)
    return first / fps < offset + duration - _SLACK


def frames_sample(*, source: Source, fps: float, stats: DecodeStats | None = None) -> Iterator[SampledFrame]:
    """The frames of the segment at `source` (a path or a binary stream) at `fps` per second, first frame included.

    Sample k is the first frame shown at or after k / fps seconds. Frames no sample needs are not decoded where the
    stream allows it: after the last sample of a group of pictures nothing is decoded until the next keyframe, and
    within a group the decoder skips pictures no other picture refers to (B-frames, or P-frames cameras mark so).
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    stats = stats if stats is not None else DecodeStats()
    opened = str(source) if isinstance(source, Path) else source
    with av.open(opened, "r", options=_OPEN_OPTIONS) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        time_base = stream.time_base or Fraction(1, 90_000)
        rate = stream.average_rate or stream.guessed_rate
        frame_duration = 1.0 / float(rate) if rate else 1.0 / 15
        start: int | None = None
        group: list[av.Packet] = []

        def offset_of(pts: int) -> float:
            return float((pts - (start or 0)) * time_base)

        def needed(packet: av.Packet) -> bool:
            if packet.pts is None:
                return True
            duration = float(packet.duration * time_base) if packet.duration else frame_duration
            return _sampled(offset=offset_of(packet.pts), duration=duration, fps=fps)

        def decode(packets: list[av.Packet]) -> Iterator[SampledFrame]:
            wanted = [needed(packet) for packet in packets]
            if True not in wanted:
                return
            # Packets are in decoding order, so every picture a wanted one refers to comes before the last wanted.
            last = len(wanted) - 1 - wanted[::-1].index(True)
            for packet, want in zip(packets[: last + 1], wanted[: last + 1], strict=True):
                context.skip_frame = "DEFAULT" if want else "NONREF"
                stats.packets_decoded += 1
                yield from keep(context.decode(packet))

        def keep(frames: list[av.VideoFrame]) -> Iterator[SampledFrame]:
            for frame in frames:
                stats.frames_decoded += 1
                if frame.pts is None:
                    continue
                offset = offset_of(frame.pts)
                duration = float(frame.duration * time_base) if frame.duration else frame_duration
                if _sampled(offset=offset, duration=duration, fps=fps):
                    stats.frames_sampled += 1
                    yield SampledFrame(offset=round(offset, 6), frame=frame)

        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            stats.packets += 1
            if start is None and packet.pts is not None:
                start = packet.pts
            if packet.is_keyframe and group:
                yield from decode(group)
                group = []
            group.append(packet)
        yield from decode(group)
        context.skip_frame = "DEFAULT"
        yield from keep(context.decode(None))
