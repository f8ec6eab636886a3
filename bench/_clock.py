"""Reads the simulator's burned-in wall-clock time back from a decoded frame by matching digit templates."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from typing import Any, cast

import av
import cv2
import numpy as np

from devtools.simulator.scene import StreetScene, clock_text

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_TEMPLATE = "0000-00-00 00:00:00.000 UTC"
_DIGITS = [i for i, c in enumerate(_TEMPLATE) if c == "0"]
# Hershey glyphs are drawn with a thick antialiased pen that spills a few pixels into the next cell; the
# cell's edges are left out of the comparison so that a neighbour's spill cannot tip the match.
_EDGE = 6


@dataclass(frozen=True)
class Reading:
    at: float  # the burned-in time, seconds since the epoch
    text: str
    margin: float  # worst (second best - best) / second best over the digits; near 0 means a doubtful read


class ClockReader:
    """Reads `YYYY-MM-DD HH:MM:SS.mmm UTC` from the top-left corner of a frame of the given size."""

    def __init__(self, *, width: int, height: int) -> None:
        # The font, scale, pen and origin are the scene's own; a self-check against scene.render() in
        # reader_checked() catches any change to how the scene draws its clock.
        scene = StreetScene(index=1, name="cam1", width=width, height=height)
        scale, thickness = scene._font_scale, scene._thickness
        origin_x, origin_y = scene._clock_origin
        box_w, box_h = scene._clock_box
        self.box = (box_w, box_h)
        (_, text_h), baseline = cv2.getTextSize(_TEMPLATE, _FONT, scale, thickness)
        self._rows = slice(max(0, origin_y - text_h - thickness), min(box_h, origin_y + baseline // 2))
        # cv2 advances each glyph by a fixed width, so a prefix's width gives where each character starts.
        empty = cv2.getTextSize("", _FONT, scale, thickness)[0][0]
        starts = [origin_x + cv2.getTextSize(_TEMPLATE[:i], _FONT, scale, thickness)[0][0] - empty for i in _DIGITS]
        advance = cv2.getTextSize("0", _FONT, scale, thickness)[0][0] - empty
        self._cols = [slice(x + _EDGE, x + advance - _EDGE) for x in starts]
        templates = []
        for digit in "0123456789":
            canvas = np.zeros((box_h, box_w), dtype=np.uint8)
            text = _TEMPLATE.replace("0", digit)
            cv2.putText(canvas, text, (origin_x, origin_y), _FONT, scale, 255, thickness, cv2.LINE_AA)
            templates.append(np.stack([canvas[self._rows, cols] for cols in self._cols]))
        # (10 digits, positions, pixels)
        self._templates = np.stack(templates).reshape(10, len(_DIGITS), -1).astype(np.float32)

    def read_luma(self, luma: np.ndarray) -> Reading | None:
        """The time shown in a frame's luma plane (at least the clock box), or None if it is not a valid time."""
        cells = np.stack([luma[self._rows, cols] for cols in self._cols]).reshape(len(_DIGITS), -1)
        diff = self._templates - cells.astype(np.float32)[None]
        cost = np.einsum("dpk,dpk->dp", diff, diff)  # (digit, position)
        order = np.sort(cost, axis=0)
        margin = float(np.min((order[1] - order[0]) / np.maximum(order[1], 1.0)))
        digits = cost.argmin(axis=0)
        chars = list(_TEMPLATE)
        for position, digit in zip(_DIGITS, digits, strict=True):
            chars[position] = str(digit)
        text = "".join(chars)
        try:
            parsed = time.strptime(text[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
        return Reading(at=calendar.timegm(parsed) + int(text[20:23]) / 1000, text=text, margin=margin)

    def read_frame(self, frame: av.VideoFrame) -> Reading | None:
        """The time shown in a decoded frame, reading only the top-left box of its Y plane."""
        box_w, box_h = self.box
        plane = frame.planes[0]
        luma = np.frombuffer(cast(Any, plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
        return self.read_luma(luma[:box_h, :box_w])


def reader_checked(*, width: int, height: int, fps: int = 15, bitrate: int = 4_000_000) -> ClockReader:
    """A ClockReader that has read back, exactly, the clock of frames the scene rendered and x264 encoded."""
    from devtools.simulator.encoder import EncoderSettings, encoder_open

    reader = ClockReader(width=width, height=height)
    scene = StreetScene(index=1, name="cam1", width=width, height=height)
    settings = EncoderSettings(codec="h264", width=width, height=height, fps=fps, gop_s=1.0, bitrate=bitrate)
    encoder = encoder_open(settings=settings)
    decoder = av.CodecContext.create("h264", "r")
    base = time.time()
    times = [base + n * 1.0 / fps + n * 0.0371 for n in range(12)]
    decoded: list[av.VideoFrame] = []
    for n, at in enumerate(times):
        yuv = cast(np.ndarray, cv2.cvtColor(scene.render(at=at), cv2.COLOR_BGR2YUV_I420))
        picture = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        picture.pts = n
        for packet in encoder.encode(picture):
            decoded.extend(decoder.decode(packet))
    for packet in encoder.encode(None):
        decoded.extend(decoder.decode(packet))
    decoded.extend(decoder.decode(None))
    if len(decoded) != len(times):
        raise RuntimeError(f"clock self-check decoded {len(decoded)} of {len(times)} frames")
    for at, frame in zip(times, decoded, strict=True):
        reading = reader.read_frame(frame)
        if reading is None or reading.text != clock_text(at=at):
            raise RuntimeError(f"clock self-check read {reading} for {clock_text(at=at)!r}")
    return reader
