"""A stand-in detector for analysis tests that counts what it is asked and finds nothing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alerts.analysis import Detection
from alerts.analysis.objects import Box
from alerts.analysis.tracking import ByteTrack, Tracker


class CountingDetector:
    """Finds nothing, and remembers the regions it was asked to look at."""

    backend = "counting"
    classes = ("person",)

    def __init__(self) -> None:
        self.calls: list[tuple[Box, ...]] = []

    def detect(self, *, image: np.ndarray, regions: Sequence[Box] = ()) -> list[Detection]:
        self.calls.append(tuple(regions))
        return []

    def tracker_new(self, *, fps: float) -> Tracker:
        return ByteTrack(fps=fps)
