"""Tamper signs in a camera's picture: a covered or blank lens, a sudden change of the whole view (turned, sprayed)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

# The view is compared block by block, each block by normalised correlation, which ignores a change of brightness
# or contrast (daylight, clouds, the camera's exposure) and sees a change of what is in the picture.
_GRID = (6, 8)  # rows, columns
_BLOCK_SAME = 0.5  # correlation above which a block still shows what it showed
_FLAT_STD = 3.0  # grey levels: a block this even has no structure to correlate
_VIEW_CHANGED = 0.75  # share of blocks that must differ: a passing truck hides less than this
# Gradient above which a pixel is an edge, and the share of edge pixels below which a picture shows nothing.
_EDGE = 24.0
_FEATURELESS = 0.002
_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 90]  # for the state: a tenth of a PNG's size, within a grey level or two
_WIDTH = 160  # pixels: a view's layout shows at this size, and the reference kept in the state stays small


@dataclass(frozen=True)
class TamperFlags:
    """Tamper signs for one frame, each raised only after it lasted and lowered only after it was gone a while."""

    covered: bool = False
    scene_changed: bool = False


def picture_featureless(*, grey: np.ndarray) -> bool:
    """Whether `grey` shows nothing: a covered lens, a blank or black picture (edges on almost no pixel)."""
    if float(grey.std()) < 4.0:
        return True
    gx = cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_16S, 0, 1, ksize=3)
    # Sobel's 3x3 kernel weighs 4 grey levels per level of step; an edge is a step of _EDGE levels or more.
    strong = (np.abs(gx).astype(np.int32) + np.abs(gy)) >= 4 * _EDGE
    return float(np.count_nonzero(strong)) / grey.size < _FEATURELESS


def view_changed_share(*, grey: np.ndarray, reference: np.ndarray) -> float:
    """The share of blocks of `grey` that no longer show what the same blocks of `reference` show."""
    rows, cols = _GRID
    height, width = (grey.shape[0] // rows) * rows, (grey.shape[1] // cols) * cols
    a = _blocks(grey[:height, :width], rows=rows, cols=cols)
    b = _blocks(reference[:height, :width], rows=rows, cols=cols)
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    std_a = np.sqrt((a * a).mean(axis=-1))
    std_b = np.sqrt((b * b).mean(axis=-1))
    correlation = (a * b).mean(axis=-1) / (std_a * std_b + 1e-6)
    flat_a, flat_b = std_a < _FLAT_STD, std_b < _FLAT_STD
    # Blocks even in both (sky, a wall) say nothing either way and are left out.
    telling = ~(flat_a & flat_b)
    if not telling.any():
        return 0.0
    changed = np.where(flat_a | flat_b, True, correlation < _BLOCK_SAME)
    return float(changed[telling].mean())


def _blocks(picture: np.ndarray, *, rows: int, cols: int) -> np.ndarray:
    height, width = picture.shape
    blocks = picture.astype(np.float32).reshape(rows, height // rows, cols, width // cols)
    return blocks.transpose(0, 2, 1, 3).reshape(rows, cols, -1)


class TamperWatch:
    """Tamper hysteresis for one camera, carried from segment to segment.

    `covered` rises after the picture has shown nothing for `covered_after_s` and falls after it has shown something
    for `clear_after_s`. `scene_changed` rises when most of the view differs from the reference view for
    `changed_after_s` (a person walking past the lens is shorter); it falls when the old view is back for
    `clear_after_s`, or once the new view has held still for `adopt_after_s`, which then becomes the reference (a
    camera turned on purpose raises one alert, not one per segment from then on).
    """

    def __init__(
        self,
        *,
        covered_after_s: float = 2.0,
        changed_after_s: float = 1.0,
        clear_after_s: float = 3.0,
        adopt_after_s: float = 10.0,
        reference_s: float = 30.0,
    ) -> None:
        self.covered_after_s = covered_after_s
        self.changed_after_s = changed_after_s
        self.clear_after_s = clear_after_s
        self.adopt_after_s = adopt_after_s
        self.reference_s = reference_s
        self.covered = False
        self.scene_changed = False
        self._covered_for = 0.0  # seconds the sign has lasted (or, once raised, been gone)
        self._changed_for = 0.0
        self._restored_for = 0.0
        self._still_for = 0.0
        self._reference: np.ndarray | None = None  # float32 grey, slowly following the normal view
        self._new_view: np.ndarray | None = None

    def update(self, *, grey: np.ndarray, dt: float) -> TamperFlags:
        """Judge `grey`, which follows the previous frame by `dt` seconds."""
        if grey.shape[1] > _WIDTH:
            size = (_WIDTH, max(1, round(grey.shape[0] * _WIDTH / grey.shape[1])))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        if self._reference is None or self._reference.shape != grey.shape:
            self._reference = grey.astype(np.float32)
        featureless = picture_featureless(grey=grey)
        self._covered_update(featureless=featureless, dt=dt)
        # A covered lens differs from every view; it is reported as covered, not as a second sign.
        if not featureless and not self.covered:
            self._view_update(grey=grey, dt=dt)
        return TamperFlags(covered=self.covered, scene_changed=self.scene_changed)

    def _covered_update(self, *, featureless: bool, dt: float) -> None:
        if featureless != self.covered:
            self._covered_for += dt
            if self._covered_for >= (self.covered_after_s if featureless else self.clear_after_s):
                self.covered, self._covered_for = featureless, 0.0
        else:
            self._covered_for = 0.0

    def _view_update(self, *, grey: np.ndarray, dt: float) -> None:
        assert self._reference is not None
        differs = view_changed_share(grey=grey, reference=self._reference.astype(np.uint8)) >= _VIEW_CHANGED
        if not self.scene_changed:
            if differs:
                self._changed_for += dt
                if self._changed_for >= self.changed_after_s:
                    self.scene_changed, self._changed_for = True, 0.0
                    self._new_view, self._still_for, self._restored_for = grey.astype(np.float32), 0.0, 0.0
            else:
                self._changed_for = 0.0
                # Follow slow changes (daylight, a parked car) so that only sudden ones count.
                cv2.accumulateWeighted(grey, self._reference, min(1.0, dt / self.reference_s))
            return
        if not differs:
            self._restored_for += dt
            if self._restored_for >= self.clear_after_s:
                self.scene_changed = False
            return
        self._restored_for = 0.0
        assert self._new_view is not None
        if view_changed_share(grey=grey, reference=self._new_view.astype(np.uint8)) < _VIEW_CHANGED:
            self._still_for += dt
            if self._still_for >= self.adopt_after_s:
                self._reference, self.scene_changed = grey.astype(np.float32), False
        else:
            self._new_view, self._still_for = grey.astype(np.float32), 0.0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "covered": self.covered,
            "scene_changed": self.scene_changed,
            "covered_for": round(self._covered_for, 3),
            "changed_for": round(self._changed_for, 3),
            "restored_for": round(self._restored_for, 3),
            "still_for": round(self._still_for, 3),
        }
        for key, picture in (("reference_jpeg", self._reference), ("new_view_jpeg", self._new_view)):
            if picture is not None:
                ok, jpeg = cv2.imencode(".jpg", np.clip(picture, 0, 255).astype(np.uint8), _JPEG)
                if ok:
                    data[key] = base64.b64encode(jpeg.tobytes()).decode("ascii")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TamperWatch:
        watch = cls()
        watch.covered = bool(data.get("covered", False))
        watch.scene_changed = bool(data.get("scene_changed", False))
        watch._covered_for = float(data.get("covered_for", 0.0))
        watch._changed_for = float(data.get("changed_for", 0.0))
        watch._restored_for = float(data.get("restored_for", 0.0))
        watch._still_for = float(data.get("still_for", 0.0))
        for key, attribute in (("reference_jpeg", "_reference"), ("new_view_jpeg", "_new_view")):
            encoded = data.get(key)
            if encoded:
                raw = np.frombuffer(base64.b64decode(encoded), dtype=np.uint8)
                picture = cv2.imdecode(raw, cv2.IMREAD_GRAYSCALE)
                if picture is not None:
                    setattr(watch, attribute, picture.astype(np.float32))
        return watch
