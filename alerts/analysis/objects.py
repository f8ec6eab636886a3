"""What analysis finds in a frame: boxes in normalised coordinates and the detections that carry them."""

from __future__ import annotations

from dataclasses import dataclass, replace

Box = tuple[float, float, float, float]  # x, y, width, height; normalised 0..1, origin top left


@dataclass(frozen=True)
class Detection:
    """An object in one frame: where (x, y, width, height, normalised 0..1), what, how sure, and its track."""

    box: Box
    object_class: str
    confidence: float
    track_id: str | None = None

    def with_track(self, track_id: str | None) -> Detection:
        return replace(self, track_id=track_id)


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
