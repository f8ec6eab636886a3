"""Renders BGR frames of a synthetic street with moving cars and people and the wall-clock time burned in."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
# The widest the clock text gets; sizing the box from it keeps the box still while digits change.
_CLOCK_TEMPLATE = "0000-00-00 00:00:00.000 UTC"


@dataclass(frozen=True)
class _Mover:
    kind: str  # "car" or "person"
    top: int
    width: int
    height: int
    speed_px_s: float  # negative moves right to left
    phase_px: float
    color: tuple[int, int, int]


def clock_text(*, at: float) -> str:
    """The burned-in timestamp for wall-clock time `at`, e.g. `2026-11-21 05:12:33.417 UTC`."""
    millis = int(at * 1000) % 1000
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + f".{millis:03d} UTC"


class StreetScene:
    """One camera's view: a cached background plus movers drawn per frame, deterministic per camera index."""

    def __init__(
        self,
        *,
        index: int,
        name: str,
        width: int,
        height: int,
        walker: bool = False,
        walker_period_s: float = 12.0,
    ) -> None:
        self.index = index
        # A pedestrian who crosses the view from left to right every walker_period_s on the near pavement, drawn
        # with a person's proportions so that a people detector finds them (the street's movers are only motion).
        self._walker = pedestrian_sprite(height=max(32, int(height * 0.5))) if walker else None
        self._walker_period_s = walker_period_s
        self.name = name
        self.width = width
        self.height = height
        rng = random.Random(index)
        self._background = _draw_background(rng=rng, width=width, height=height)
        self._movers = _make_movers(rng=rng, width=width, height=height)
        self._font_scale = max(0.35, height / 400)
        self._thickness = max(1, round(self._font_scale * 2))
        (text_w, text_h), baseline = cv2.getTextSize(_CLOCK_TEMPLATE, _FONT, self._font_scale, self._thickness)
        self._pad = max(4, text_h // 3)
        self._clock_box = (text_w + 2 * self._pad, text_h + baseline + 2 * self._pad)
        self._clock_origin = (self._pad, self._pad + text_h)
        self._name_scale = self._font_scale * 0.6
        name_thickness = max(1, round(self._name_scale * 2))
        (name_w, name_h), name_base = cv2.getTextSize(name, _FONT, self._name_scale, name_thickness)
        self._name_thickness = name_thickness
        self._name_box = (name_w + 2 * self._pad, name_h + name_base + 2 * self._pad)
        self._name_origin = (self._pad, self._clock_box[1] + self._pad + name_h)

    def render(self, *, at: float) -> np.ndarray:
        """The frame at wall-clock time `at` (seconds since the epoch) as an HxWx3 uint8 BGR array."""
        frame = self._background.copy()
        for mover in self._movers:
            span = self.width + mover.width
            left = int((mover.phase_px + mover.speed_px_s * at) % span) - mover.width
            if mover.kind == "car":
                _draw_car(frame=frame, left=left, mover=mover)
            else:
                _draw_person(frame=frame, left=left, mover=mover)
        if self._walker is not None:
            self._walker_draw(frame=frame, at=at)
        box_w, box_h = self._clock_box
        frame[0:box_h, 0:box_w] = 0
        cv2.putText(
            frame,
            clock_text(at=at),
            self._clock_origin,
            _FONT,
            self._font_scale,
            (255, 255, 255),
            self._thickness,
            cv2.LINE_AA,
        )
        name_w, name_h = self._name_box
        frame[box_h : box_h + name_h, 0:name_w] = (40, 40, 40)
        cv2.putText(
            frame,
            self.name,
            self._name_origin,
            _FONT,
            self._name_scale,
            (0, 255, 255),
            self._name_thickness,
            cv2.LINE_AA,
        )
        return frame

    def _walker_draw(self, *, frame: np.ndarray, at: float) -> None:
        assert self._walker is not None
        sprite, mask = self._walker
        left = walker_position(at=at, width=self.width, walker_width=sprite.shape[1], period_s=self._walker_period_s)
        top = self.height - sprite.shape[0] - max(2, self.height // 40)
        _paste(frame=frame, sprite=sprite, mask=mask, left=left, top=top)


def walker_position(*, at: float, width: int, walker_width: int, period_s: float) -> int:
    """The walker's left edge at `at`: it enters at the left edge at each multiple of period_s and leaves at the
    right edge by the end of the period."""
    progress = (at % period_s) / period_s
    return int(-walker_width + progress * (width + walker_width))


def pedestrian_sprite(*, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A standing person in dark clothes, `height` pixels tall: (BGR picture, mask of the person). Head, torso,
    arms and legs in a person's proportions, which OpenCV's HOG people detector finds."""
    width = height // 2
    mask = np.zeros((height, width), dtype=np.uint8)
    cx = width // 2

    def at(share: float) -> int:
        return int(height * share)

    cv2.ellipse(mask, (cx, at(0.08)), (at(0.055), at(0.07)), 0, 0, 360, 255, -1)
    torso = np.array(
        [[cx - at(0.11), at(0.17)], [cx + at(0.11), at(0.17)], [cx + at(0.09), at(0.52)], [cx - at(0.09), at(0.52)]]
    )
    cv2.fillPoly(mask, [torso], 255)
    for side in (-1, 1):
        cv2.line(mask, (cx + side * at(0.11), at(0.19)), (cx + side * at(0.15), at(0.48)), 255, max(1, at(0.05)))
        cv2.line(mask, (cx + side * at(0.05), at(0.5)), (cx + side * at(0.08), at(0.97)), 255, max(1, at(0.07)))
    sprite = np.zeros((height, width, 3), dtype=np.uint8)
    sprite[:] = (60, 50, 45)
    sprite[: at(0.16)] = (90, 110, 150)  # face and hair: a lighter head
    return sprite, mask > 0


def _paste(*, frame: np.ndarray, sprite: np.ndarray, mask: np.ndarray, left: int, top: int) -> None:
    h, w = mask.shape
    x0, x1 = max(0, left), min(frame.shape[1], left + w)
    y0, y1 = max(0, top), min(frame.shape[0], top + h)
    if x0 < x1 and y0 < y1:
        region = frame[y0:y1, x0:x1]
        cut = mask[y0 - top : y1 - top, x0 - left : x1 - left]
        region[cut] = sprite[y0 - top : y1 - top, x0 - left : x1 - left][cut]


def _draw_background(*, rng: random.Random, width: int, height: int) -> np.ndarray:
    frame = np.empty((height, width, 3), dtype=np.uint8)
    far_walk, road_top, road_bottom = int(height * 0.38), int(height * 0.48), int(height * 0.82)
    frame[:far_walk] = (150, 120, 90)
    x = 0
    while x < width:
        building_w = rng.randint(width // 10, width // 4)
        building_top = rng.randint(int(height * 0.05), int(height * 0.25))
        shade = rng.randint(60, 160)
        color = (shade, rng.randint(60, 160), rng.randint(60, 160))
        cv2.rectangle(frame, (x, building_top), (x + building_w - 2, far_walk), color, -1)
        for wy in range(building_top + height // 30, far_walk - height // 20, max(4, height // 18)):
            for wx in range(x + width // 80, x + building_w - width // 40, max(4, width // 30)):
                cv2.rectangle(frame, (wx, wy), (wx + width // 80, wy + height // 60), (200, 230, 240), -1)
        x += building_w
    frame[far_walk:road_top] = (170, 170, 175)
    frame[road_top:road_bottom] = (70, 70, 70)
    frame[road_bottom:] = (165, 168, 170)
    lane_y = (road_top + road_bottom) // 2
    dash = max(8, width // 20)
    for dx in range(0, width, dash * 2):
        cv2.rectangle(frame, (dx, lane_y - 1), (dx + dash, lane_y + 1), (0, 215, 255), -1)
    return frame


def _make_movers(*, rng: random.Random, width: int, height: int) -> list[_Mover]:
    road_top, road_bottom = int(height * 0.48), int(height * 0.82)
    lane_y = (road_top + road_bottom) // 2
    movers = []
    for n in range(rng.randint(3, 5)):
        car_h = int(height * rng.uniform(0.09, 0.12))
        car_w = int(car_h * rng.uniform(2.0, 2.6))
        eastbound = n % 2 == 0
        top = (lane_y + 4 if eastbound else road_top + 4) + rng.randint(0, max(1, (lane_y - road_top) - car_h - 8))
        speed = width * rng.uniform(0.12, 0.35) * (1 if eastbound else -1)
        color = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        movers.append(_Mover("car", top, car_w, car_h, speed, rng.uniform(0, width * 2), color))
    for n in range(rng.randint(3, 6)):
        person_h = int(height * rng.uniform(0.10, 0.14))
        near_side = n % 2 == 0
        feet = rng.randint(road_bottom + person_h // 2, height - 2) if near_side else int(height * 0.47)
        speed = width * rng.uniform(0.02, 0.06) * rng.choice((1, -1))
        color = (rng.randint(30, 220), rng.randint(30, 220), rng.randint(30, 220))
        movers.append(
            _Mover(
                "person",
                min(feet, height - 1) - person_h,
                max(4, person_h // 3),
                person_h,
                speed,
                rng.uniform(0, width),
                color,
            )
        )
    return movers


def _draw_car(*, frame: np.ndarray, left: int, mover: _Mover) -> None:
    top, w, h = mover.top, mover.width, mover.height
    cv2.rectangle(frame, (left, top + h // 4), (left + w, top + h - h // 6), mover.color, -1)
    cv2.rectangle(frame, (left + w // 4, top), (left + 3 * w // 4, top + h // 4), mover.color, -1)
    cv2.rectangle(frame, (left + w // 4 + 2, top + 2), (left + 3 * w // 4 - 2, top + h // 4), (90, 60, 40), -1)
    wheel = max(2, h // 6)
    for wx in (left + w // 5, left + 4 * w // 5):
        cv2.circle(frame, (wx, top + h - h // 6), wheel, (20, 20, 20), -1)


def _draw_person(*, frame: np.ndarray, left: int, mover: _Mover) -> None:
    top, w, h = mover.top, mover.width, mover.height
    head = max(2, w // 2)
    cv2.circle(frame, (left + w // 2, top + head), head, (140, 170, 210), -1)
    cv2.rectangle(frame, (left, top + 2 * head), (left + w, top + h - h // 3), mover.color, -1)
    cv2.rectangle(frame, (left + 1, top + h - h // 3), (left + w - 1, top + h), (60, 40, 30), -1)
