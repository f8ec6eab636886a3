"""Motion: background subtraction on small grey frames, outside each camera's ignore masks, as a fraction and boxes."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from alerts.analysis.objects import Box

Point = tuple[float, float]  # x, y; normalised 0..1
Polygon = Sequence[Point] | Sequence[Sequence[float]]

# Blobs smaller than this share of the picture are coding noise or leaves, not objects worth a box.
_MIN_BLOB_FRACTION = 0.0003
_OPEN = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
# Parts of one person (head, legs) come apart in the mask; growing blobs before boxing joins them.
_JOIN = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))


@dataclass(frozen=True)
class Motion:
    """What moved in one frame: the share of the watched picture that differs from the background, and where."""

    fraction: float
    boxes: tuple[Box, ...]


def ignore_mask_draw(*, polygons: Sequence[Polygon], width: int, height: int) -> np.ndarray:
    """A mask of the watched picture: 255 where motion counts, 0 inside any of `polygons` (normalised 0..1)."""
    mask = np.full((height, width), 255, dtype=np.uint8)
    for polygon in polygons:
        points = np.array([[float(x) * width, float(y) * height] for x, y in polygon], dtype=np.float32)
        if len(points) >= 3:
            cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 0)
    return mask


class BackgroundModel:
    """OpenCV's MOG2 over one camera's small grey frames. A newcomer who stops stays foreground until the model
    learns them (about `history_frames` frames), so someone loitering keeps the detector running for that long."""

    def __init__(self, *, history_frames: int = 600, var_threshold: float = 25.0) -> None:
        self.history_frames = history_frames
        self.var_threshold = var_threshold
        self._model = self._model_new()
        self._seeded_shape: tuple[int, ...] | None = None
        self._mask_key: tuple[Any, ...] | None = None
        self._mask: np.ndarray | None = None

    def _model_new(self) -> cv2.BackgroundSubtractorMOG2:
        # Shadows are motion too for gating, and their detection costs a third more time.
        return cv2.createBackgroundSubtractorMOG2(
            history=self.history_frames, varThreshold=self.var_threshold, detectShadows=False
        )

    @property
    def seeded(self) -> bool:
        return self._seeded_shape is not None

    def seed(self, *, grey: np.ndarray) -> None:
        """Start the model from `grey` alone (a learning rate of 1 makes it the whole background)."""
        self._model = self._model_new()
        self._model.apply(grey, learningRate=1.0)
        self._seeded_shape = grey.shape

    def update(self, *, grey: np.ndarray, ignore_masks: Sequence[Polygon] = ()) -> Motion | None:
        """Learn `grey` and say what moved in it; None for the frame that seeds a new model, which has no past."""
        if self._seeded_shape != grey.shape:
            self.seed(grey=grey)
            return None
        foreground = self._model.apply(grey)
        watched = self._watched(ignore_masks=ignore_masks, shape=grey.shape)
        if watched is not None:
            foreground = cv2.bitwise_and(foreground, watched)
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, _OPEN)
        watched_pixels = int(np.count_nonzero(watched)) if watched is not None else grey.size
        moving = cv2.countNonZero(foreground)
        if not moving or not watched_pixels:
            return Motion(fraction=0.0, boxes=())
        return Motion(fraction=moving / watched_pixels, boxes=_boxes(foreground=foreground))

    def _watched(self, *, ignore_masks: Sequence[Polygon], shape: tuple[int, ...]) -> np.ndarray | None:
        if not ignore_masks:
            return None
        key = (shape, tuple(tuple(tuple(float(v) for v in point) for point in polygon) for polygon in ignore_masks))
        if key != self._mask_key:
            self._mask = ignore_mask_draw(polygons=ignore_masks, width=shape[1], height=shape[0])
            self._mask_key = key
        return self._mask

    def to_json(self) -> dict[str, Any]:
        """The learned background as a JPEG (quality 90: a sixth of a PNG, and off by a grey level or two, well within
        what the model calls background): enough to start the next segment's model where this one left off."""
        if not self.seeded:
            return {}
        ok, jpeg = cv2.imencode(".jpg", self._model.getBackgroundImage(), [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            return {}
        return {"background_jpeg": base64.b64encode(jpeg.tobytes()).decode("ascii")}

    @classmethod
    def from_json(cls, data: dict[str, Any], *, history_frames: int = 600) -> BackgroundModel:
        model = cls(history_frames=history_frames)
        encoded = data.get("background_jpeg")
        if encoded:
            picture = cv2.imdecode(np.frombuffer(base64.b64decode(encoded), dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
            if picture is not None:
                model.seed(grey=picture)
        return model


def _boxes(*, foreground: np.ndarray) -> tuple[Box, ...]:
    height, width = foreground.shape
    joined = cv2.dilate(foreground, _JOIN)
    count, _labels, stats, _centroids = cv2.connectedComponentsWithStats(joined, connectivity=8)
    min_area = _MIN_BLOB_FRACTION * width * height
    boxes = []
    for x, y, w, h, area in stats[1:count]:
        if area >= min_area:
            boxes.append((x / width, y / height, w / width, h / height))
    return tuple(sorted(boxes))
