"""Encodes one camera's scene to H.264 or H.265 access units at a steady wall-clock frame rate in a thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import cv2
import numpy as np
from av.video.frame import PictureType

from devtools.simulator.scene import StreetScene

logger = logging.getLogger(__name__)

# Codec name in our API -> PyAV/FFmpeg encoder name.
ENCODERS = {"h264": "libx264", "hevc": "libx265"}


@dataclass(frozen=True)
class EncoderSettings:
    codec: str  # "h264" or "hevc"
    width: int
    height: int
    fps: int
    gop_s: float
    bitrate: int

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.gop_s * self.fps))


@dataclass(frozen=True)
class AccessUnit:
    """One encoded picture: its NAL units without start codes, and when it was captured."""

    nals: tuple[bytes, ...]
    capture_time: float  # wall clock, seconds since the epoch
    keyframe: bool


def codec_available(*, codec: str) -> bool:
    return codec in ENCODERS and ENCODERS[codec] in av.codecs_available


def encoder_open(*, settings: EncoderSettings) -> av.VideoCodecContext:
    """An opened encoder that emits Annex B access units with parameter sets in band before every IDR."""
    if not codec_available(codec=settings.codec):
        raise ValueError(f"this PyAV build has no {ENCODERS.get(settings.codec, settings.codec)} encoder")
    ctx = av.CodecContext.create(ENCODERS[settings.codec], "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width = settings.width
    ctx.height = settings.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, settings.fps)
    ctx.framerate = Fraction(settings.fps)
    ctx.bit_rate = settings.bitrate
    ctx.gop_size = settings.gop_frames
    ctx.max_b_frames = 0
    keyint = settings.gop_frames
    kbps = max(1, settings.bitrate // 1000)
    # scenecut=0 keeps keyframes exactly one GOP apart; repeat-headers lets a client that joins at any IDR
    # decode without the SDP. Our scene is simpler than a real street, so x264 pads to the bitrate with filler
    # (nal-hrd=cbr) the way a camera in CBR mode does; bandwidth tests then see the load they asked for.
    if settings.codec == "h264":
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "forced-idr": "1",
            "x264-params": (
                f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0:repeat-headers=1:annexb=1"
                f":vbv-maxrate={kbps}:vbv-bufsize={kbps}:nal-hrd=cbr"
            ),
        }
    else:
        # open-gop=0 makes x265 emit IDR rather than CRA pictures, which is what cameras send.
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "forced-idr": "1",
            "x265-params": (
                f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0:open-gop=0:repeat-headers=1:annexb=1"
                f":vbv-maxrate={kbps}:vbv-bufsize={kbps}:log-level=error"
            ),
        }
    ctx.open()
    return ctx


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream, start codes removed."""
    nals = []
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        begin = start + 3
        end = data.find(b"\x00\x00\x01", begin)
        nal = data[begin:] if end == -1 else data[begin:end]
        # A 4-byte start code leaves its leading zero on the end of the previous NAL.
        nals.append(nal.rstrip(b"\x00") if end != -1 else nal)
        start = end
    return [nal for nal in nals if nal]


def parameter_sets(*, settings: EncoderSettings) -> list[bytes]:
    """The VPS/SPS/PPS NAL units this stream's encoder will send, for the SDP, by encoding one black frame."""
    ctx = encoder_open(settings=settings)
    yuv = np.zeros((settings.height * 3 // 2, settings.width), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
    frame.pts = 0
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    nals = split_annexb(b"".join(bytes(p) for p in packets))
    if settings.codec == "h264":
        wanted = [n for n in nals if n[0] & 0x1F in (7, 8)]
    else:
        wanted = [n for n in nals if (n[0] >> 1) & 0x3F in (32, 33, 34)]
    # Keep the first of each type; the in-band repeats are identical.
    seen: dict[int, bytes] = {}
    for nal in wanted:
        seen.setdefault(nal[0], nal)
    return list(seen.values())


class StreamEncoder:
    """Renders and encodes frames paced by the wall clock until stopped, handing each access unit to a callback.

    The callback runs on the encoder thread; it must be quick and thread-safe.
    """

    def __init__(
        self, *, scene: StreetScene, settings: EncoderSettings, on_access_unit: Callable[[AccessUnit], None]
    ) -> None:
        self.scene = scene
        self.settings = settings
        self._on_access_unit = on_access_unit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"encoder-{scene.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, wait: bool = False) -> None:
        self._stop.set()
        if wait and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        try:
            self._encode_until_stopped()
        except Exception:  # a thread's exception is otherwise lost; viewers just see the stream stop
            logger.exception("encoder for %s failed", self.scene.name)

    def _encode_until_stopped(self) -> None:
        settings = self.settings
        ctx = encoder_open(settings=settings)
        wall0, mono0 = time.time(), time.monotonic()
        frame_index = 0
        next_keyframe = 0
        while not self._stop.is_set():
            delay = mono0 + frame_index / settings.fps - time.monotonic()
            if delay > 0:
                if self._stop.wait(delay):
                    break
            elif delay < -2 / settings.fps:
                # We fell behind (a busy machine): drop the frames we missed rather than run slow.
                frame_index = int((time.monotonic() - mono0) * settings.fps)
            captured = wall0 + frame_index / settings.fps
            yuv = cast(np.ndarray, cv2.cvtColor(self.scene.render(at=captured), cv2.COLOR_BGR2YUV_I420))
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts = frame_index
            # The encoder counts GOPs in frames; after dropped frames that would stretch the GOP in time,
            # so keyframes are asked for by the clock as well.
            if frame_index >= next_keyframe:
                frame.pict_type = PictureType.I
                next_keyframe = frame_index + settings.gop_frames
            for packet in ctx.encode(frame):
                if packet.pts is None:
                    continue
                self._on_access_unit(
                    AccessUnit(
                        nals=tuple(split_annexb(bytes(packet))),
                        capture_time=wall0 + packet.pts / settings.fps,
                        keyframe=packet.is_keyframe,
                    )
                )
            frame_index += 1
