"""Test footage for analysis: a still street where people cross, a lens is covered or the view changes, as H.264."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from devtools.simulator.scene import pedestrian_sprite as person_sprite

SIZE = (640, 360)
FPS = 15
# Fragmented MP4 as the recorder writes its segments.
FRAG_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


def street_picture(*, width: int, height: int, seed: int = 7) -> np.ndarray:
    """A made-up street (sky, buildings with windows, pavement) in BGR, textured enough to look like a camera view."""
    rng = np.random.default_rng(seed)
    picture = np.zeros((height, width, 3), dtype=np.uint8)
    horizon = int(height * 0.55)
    sky = np.linspace(235, 170, horizon, dtype=np.float32)[:, None]
    picture[:horizon] = np.stack([sky + 10, sky, sky - 25], axis=-1).astype(np.uint8)
    x = 0
    while x < width:
        w = int(rng.integers(width // 12, width // 5))
        top = int(rng.integers(int(height * 0.12), int(height * 0.4)))
        colour = [int(c) for c in rng.integers(70, 190, size=3)]
        cv2.rectangle(picture, (x, top), (x + w, horizon), colour, -1)
        for wy in range(top + height // 40, horizon - height // 30, height // 14):
            for wx in range(x + w // 10, x + w - w // 8, max(4, w // 5)):
                cv2.rectangle(picture, (wx, wy), (wx + w // 10, wy + height // 30), (60, 50, 40), -1)
        x += w
    ground = np.linspace(120, 90, height - horizon, dtype=np.float32)[:, None]
    picture[horizon:] = np.stack([ground, ground, ground + 5], axis=-1).astype(np.uint8)
    cv2.line(picture, (0, int(height * 0.78)), (width, int(height * 0.78)), (200, 200, 200), max(1, height // 120))
    grain = rng.normal(0, 6, picture.shape).astype(np.float32)
    return cv2.GaussianBlur(np.clip(picture + grain, 0, 255).astype(np.uint8), (3, 3), 0)


def sprite_paste(*, picture: np.ndarray, sprite: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
    """Paste `sprite` where `mask` is set, its top left at (x, y) of `picture`, clipped to the picture."""
    height, width = picture.shape[:2]
    h, w = mask.shape
    left, top, right, bottom = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if right <= left or bottom <= top:
        return
    region = picture[top:bottom, left:right]
    cut = mask[top - y : bottom - y, left - x : right - x]
    region[cut] = sprite[top - y : bottom - y, left - x : right - x][cut]


@dataclass(frozen=True)
class Crossing:
    """A person walking left to right across the whole picture from `start_s` for `duration_s` seconds."""

    start_s: float
    duration_s: float = 3.0
    height: float = 0.55  # share of the picture's height
    feet: float = 0.95  # where the feet are, as a share of the picture's height
    right_to_left: bool = False

    def box_at(self, *, t: float, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The person's (x, y, w, h) in pixels at `t` seconds, or None while not in the picture."""
        if not self.start_s <= t <= self.start_s + self.duration_s:
            return None
        h = int(height * self.height)
        w = h // 2
        progress = (t - self.start_s) / self.duration_s
        if self.right_to_left:
            progress = 1.0 - progress
        x = int(-w + progress * (width + w))
        return x, int(height * self.feet) - h, w, h


@dataclass(frozen=True)
class Vehicle:
    """A boxy vehicle driving across the picture (busy scenes for benchmarks)."""

    start_s: float
    duration_s: float = 2.0
    lane: float = 0.8
    colour: tuple[int, int, int] = (40, 40, 170)


def scene_frames(
    *,
    width: int,
    height: int,
    fps: float,
    seconds: float,
    crossings: Sequence[Crossing] = (),
    vehicles: Sequence[Vehicle] = (),
    noise: float = 2.0,
    gain: Callable[[float], float] | None = None,
    covered_from_s: float | None = None,
    view_change_at_s: float | None = None,
    seed: int = 7,
) -> Iterator[np.ndarray]:
    """BGR frames of the street: sensor noise of `noise` grey levels, brightness times `gain(t)`, people crossing,
    vehicles, a lens covered from `covered_from_s`, a different view from `view_change_at_s` (camera turned)."""
    street = street_picture(width=width, height=height, seed=seed)
    # The camera knocked round: another street, upside down.
    turned = np.ascontiguousarray(street_picture(width=width, height=height, seed=seed + 101)[::-1, ::-1])
    sprites: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    rng = np.random.default_rng(seed)
    # A fixed bank of noise fields cycled through: fresh noise per 1080p frame would cost more than the encoding.
    bank = [rng.normal(0, noise, (height, width, 1)).astype(np.float32) for _ in range(7)] if noise else []
    for index in range(math.ceil(seconds * fps)):
        t = index / fps
        if covered_from_s is not None and t >= covered_from_s:
            frame = np.full((height, width, 3), 12, dtype=np.uint8)
        else:
            frame = (turned if view_change_at_s is not None and t >= view_change_at_s else street).copy()
            for vehicle in vehicles:
                _vehicle_draw(frame=frame, vehicle=vehicle, t=t)
            for crossing in crossings:
                box = crossing.box_at(t=t, width=width, height=height)
                if box is not None:
                    if box[3] not in sprites:
                        sprites[box[3]] = person_sprite(height=box[3])
                    sprite, mask = sprites[box[3]]
                    sprite_paste(picture=frame, sprite=sprite, mask=mask, x=box[0], y=box[1])
        shaded = frame.astype(np.float32)
        if gain is not None:
            shaded *= gain(t)
        if bank:
            shaded += bank[index % len(bank)]
        yield np.clip(shaded, 0, 255).astype(np.uint8)


def _vehicle_draw(*, frame: np.ndarray, vehicle: Vehicle, t: float) -> None:
    if not vehicle.start_s <= t <= vehicle.start_s + vehicle.duration_s:
        return
    height, width = frame.shape[:2]
    w, h = width // 5, height // 8
    x = int(-w + (t - vehicle.start_s) / vehicle.duration_s * (width + w))
    y = int(height * vehicle.lane) - h
    cv2.rectangle(frame, (x, y), (x + w, y + h), vehicle.colour, -1)
    cv2.rectangle(frame, (x + w // 5, y - h // 2), (x + w * 4 // 5, y), vehicle.colour, -1)
    for wheel in (x + w // 5, x + w * 4 // 5):
        cv2.circle(frame, (wheel, y + h), h // 3, (20, 20, 20), -1)


def segment_write(
    *,
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int = FPS,
    gop_frames: int | None = None,
    bframes: int = 0,
    bit_rate: int | None = None,
) -> Path:
    """Encode BGR `frames` with libx264 into a fragmented MP4 at `path`: a keyframe every `gop_frames` (default one
    a second), `bframes` B-frames in a row (cameras send none), constant quality unless `bit_rate` is given."""
    with av.open(str(path), "w", format="mp4", options=FRAG_OPTIONS) as container:
        stream: av.VideoStream | None = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=fps)
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                options = {"g": str(gop_frames or fps), "keyint_min": str(gop_frames or fps), "bf": str(bframes)}
                options |= {"preset": "ultrafast", "sc_threshold": "0"}
                if bframes:
                    options["b-pyramid"] = "none"  # B-frames nothing refers to, which a decoder may skip
                if bit_rate:
                    stream.bit_rate = bit_rate
                stream.codec_context.options = options
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return path


def crossing_segment(
    *,
    path: Path,
    seconds: float = 4.0,
    person_at_s: float | None = 0.5,
    crossing_s: float = 3.0,
    size: tuple[int, int] = SIZE,
    fps: int = FPS,
    right_to_left: bool = False,
) -> Path:
    """A segment of the still street in which a person crosses the picture from `person_at_s` for `crossing_s`
    seconds (left to right unless told otherwise); no one when `person_at_s` is None."""
    crossings = [Crossing(start_s=person_at_s, duration_s=crossing_s, right_to_left=right_to_left)]
    frames = scene_frames(
        width=size[0], height=size[1], fps=fps, seconds=seconds, crossings=crossings if person_at_s is not None else []
    )
    return segment_write(path=path, frames=frames, fps=fps)
