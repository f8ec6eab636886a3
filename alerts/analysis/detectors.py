"""Object detectors for analysis: OpenCV's HOG people detector (the default) or Ultralytics YOLO, per deployment."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from alerts.analysis.objects import Box, Detection
from alerts.analysis.tracking import ByteTrack, Tracker, UltralyticsByteTrack, ultralytics_quiet

logger = logging.getLogger(__name__)

YOLO_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
BACKENDS = ("opencv", "yolo")


class DetectorUnavailable(RuntimeError):
    """The configured backend cannot run here (a package or the weights are missing); the message says which."""


class Detector(Protocol):
    """Finds objects in a BGR picture. `regions` (normalised boxes where something moved) is a hint a backend may
    use to look at less of the picture; a tracker of the backend's kind follows what it finds from frame to frame."""

    backend: str
    classes: tuple[str, ...]

    def detect(self, *, image: np.ndarray, regions: Sequence[Box] = ()) -> list[Detection]: ...

    def tracker_new(self, *, fps: float) -> Tracker: ...


class OpenCVHogDetector:
    """OpenCV's HOG people detector (Dalal and Triggs): people only, upright and at least ~128 pixels tall at the
    working width. It looks only around the regions that moved, at the scale the whole picture would have."""

    backend: str = "opencv"
    classes: tuple[str, ...] = ("person",)

    def __init__(
        self, *, width: int = 960, scale: float = 1.05, min_confidence: float = 0.3, hit_threshold: float = 0.0
    ) -> None:
        self.width = width
        self.scale = scale
        self.min_confidence = min_confidence
        self.hit_threshold = hit_threshold
        if not hasattr(cv2, "HOGDescriptor"):
            raise DetectorUnavailable("This OpenCV has no HOG detector (OpenCV 5 removed it): install opencv<5.")
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32))

    def detect(self, *, image: np.ndarray, regions: Sequence[Box] = ()) -> list[Detection]:
        height, width = image.shape[:2]
        factor = min(1.0, self.width / width)
        x0, y0, x1, y1 = _around(regions=regions, width=width, height=height, factor=factor)
        crop = image[y0:y1, x0:x1]
        if factor < 1.0:
            crop = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        if crop.shape[0] < 128 or crop.shape[1] < 64:
            return []
        rects, weights = self._hog.detectMultiScale(
            crop, hitThreshold=self.hit_threshold, winStride=(8, 8), padding=(8, 8), scale=self.scale
        )
        found = []
        for (x, y, w, h), weight in zip(rects, np.ravel(weights), strict=True):
            # The SVM's margin is unbounded; squash it into 0..1 so it sorts and thresholds like a probability.
            confidence = 1.0 - math.exp(-max(0.0, float(weight)))
            if confidence < self.min_confidence:
                continue
            left, top = x0 + float(x) / factor, y0 + float(y) / factor
            right, bottom = min(width, left + float(w) / factor), min(height, top + float(h) / factor)
            left, top = max(0.0, left), max(0.0, top)
            box = (left / width, top / height, (right - left) / width, (bottom - top) / height)
            found.append(Detection(box=box, object_class="person", confidence=round(confidence, 4)))
        return found

    def tracker_new(self, *, fps: float) -> Tracker:
        return ByteTrack(fps=fps)


def _around(*, regions: Sequence[Box], width: int, height: int, factor: float) -> tuple[int, int, int, int]:
    """Pixel bounds of what the HOG detector looks at: the regions' union, grown so a person partly moving (an arm,
    the legs) is seen whole; the whole picture without regions."""
    if not regions:
        return 0, 0, width, height
    left = min(x for x, _, _, _ in regions)
    top = min(y for _, y, _, _ in regions)
    right = max(x + w for x, _, w, _ in regions)
    bottom = max(y + h for _, y, _, h in regions)
    # Half the union on every side, and at least the detector's 64x128 window at the working scale.
    grow_x = max((right - left) / 2, 64 / factor / width)
    grow_y = max((bottom - top) / 2, 128 / factor / height)
    return (
        max(0, int((left - grow_x) * width)),
        max(0, int((top - grow_y) * height)),
        min(width, math.ceil((right + grow_x) * width)),
        min(height, math.ceil((bottom + grow_y) * height)),
    )


class YoloDetector:
    """Ultralytics YOLO on the whole picture, limited to people and road vehicles.

    Weights come only from a file the deployment provides (`weights`); without one the network is built from its
    YAML (`model`) with random weights, which runs the real pipeline but finds nothing meaningful (tests,
    benchmarks). Names that would make Ultralytics download something are refused.
    """

    backend: str = "yolo"
    classes: tuple[str, ...]

    def __init__(
        self,
        *,
        weights: str | Path = "",
        model: str = "yolo11n.yaml",
        classes: Sequence[str] = YOLO_CLASSES,
        min_confidence: float = 0.25,
        image_size: int = 640,
        device: str | None = None,
    ) -> None:
        ultralytics_quiet()
        try:
            from ultralytics import YOLO
        except ImportError as error:
            raise DetectorUnavailable(
                "The yolo analytics backend needs Ultralytics: pip install 'lantern[yolo]'."
            ) from error
        if weights:
            path = Path(weights)
            if not path.is_file():
                raise DetectorUnavailable(f"YOLO weights not found at {path} (ANALYTICS_YOLO_WEIGHTS).")
            source = str(path)
        elif model.endswith((".yaml", ".yml")):
            source = model
            logger.warning("YOLO built from %s without weights: detections are meaningless", model)
        else:
            raise DetectorUnavailable("Give YOLO weights as a file path; a bare model name would be downloaded.")
        self._model = YOLO(source, task="detect")
        names: dict[int, str] = dict(self._model.names)
        if not weights and all(name == str(index) for index, name in names.items()):
            names = _coco_names(count=len(names))
            self._model.model.names = names  # type: ignore[union-attr]
        wanted = set(classes)
        self._class_ids = sorted(index for index, name in names.items() if name in wanted)
        if not self._class_ids:
            raise DetectorUnavailable(f"The YOLO model knows none of the classes {sorted(wanted)}.")
        self._names = names
        self.classes = tuple(names[index] for index in self._class_ids)
        self.min_confidence = min_confidence
        self.image_size = image_size
        self.device = device

    def detect(self, *, image: np.ndarray, regions: Sequence[Box] = ()) -> list[Detection]:
        # YOLO resizes to `image_size` whatever it is given, so a crop would not be cheaper; regions are ignored.
        results: Any = self._model.predict(
            image,
            classes=self._class_ids,
            conf=self.min_confidence,
            imgsz=self.image_size,
            device=self.device,
            verbose=False,
            save=False,
        )
        boxes = results[0].boxes
        if boxes is None or len(boxes) == 0:
            return []
        height, width = image.shape[:2]
        found = []
        xyxy = boxes.xyxy.cpu().numpy()
        for (x1, y1, x2, y2), confidence, index in zip(
            xyxy, boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy().astype(int), strict=True
        ):
            name = self._names.get(int(index))
            if name not in self.classes:
                continue
            box = (float(x1) / width, float(y1) / height, float(x2 - x1) / width, float(y2 - y1) / height)
            found.append(Detection(box=box, object_class=name, confidence=round(float(confidence), 4)))
        return found

    def tracker_new(self, *, fps: float) -> Tracker:
        return UltralyticsByteTrack(fps=fps, classes=self.classes)


def _coco_names(*, count: int) -> dict[int, str]:
    """COCO's class names, which the YOLO YAMLs are laid out for but do not carry (weights do)."""
    from ultralytics.utils import YAML
    from ultralytics.utils.checks import check_yaml

    names = YAML.load(check_yaml("coco.yaml"))["names"]
    if len(names) != count:
        raise DetectorUnavailable(f"A YOLO model of {count} classes without weights has no class names.")
    return {int(index): str(name) for index, name in names.items()}


def detector_for(backend: str | None = None, **options: Any) -> Detector:
    """The detector of `backend` (default: settings.ANALYTICS_BACKEND, "opencv"). For yolo, `weights` and `model`
    default to settings.ANALYTICS_YOLO_WEIGHTS and ANALYTICS_YOLO_MODEL; other options go to the detector."""
    backend = backend or analysis_setting("ANALYTICS_BACKEND", "opencv")
    if backend == "opencv":
        return OpenCVHogDetector(**options)
    if backend == "yolo":
        options.setdefault("weights", analysis_setting("ANALYTICS_YOLO_WEIGHTS", ""))
        options.setdefault("model", analysis_setting("ANALYTICS_YOLO_MODEL", "yolo11n.yaml"))
        return YoloDetector(**options)
    raise ValueError(f"Unknown analytics backend {backend!r}; choose one of {', '.join(BACKENDS)}.")


def analysis_setting(name: str, default: Any) -> Any:
    """A Django setting, or `default` where it is not set or Django is not configured (benchmarks, scripts)."""
    from django.conf import settings

    return getattr(settings, name, default) if settings.configured else default
