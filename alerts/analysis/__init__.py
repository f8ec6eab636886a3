"""Video analysis for alerts, free of the ORM: segment decoding, motion, tamper signs, detection and tracking."""

from alerts.analysis.detectors import (
    BACKENDS,
    YOLO_CLASSES,
    Detector,
    DetectorUnavailable,
    OpenCVHogDetector,
    YoloDetector,
    detector_for,
)
from alerts.analysis.objects import Box, Detection
from alerts.analysis.pipeline import (
    CameraAnalysisState,
    FrameAnalysis,
    SegmentAnalysis,
    TamperChange,
    Thumbnail,
    segment_analyse,
)
from alerts.analysis.tamper import TamperFlags
from alerts.analysis.thumbnails import thumbnail_crop

__all__ = [
    "BACKENDS",
    "YOLO_CLASSES",
    "Box",
    "CameraAnalysisState",
    "Detection",
    "Detector",
    "DetectorUnavailable",
    "FrameAnalysis",
    "OpenCVHogDetector",
    "SegmentAnalysis",
    "TamperChange",
    "TamperFlags",
    "Thumbnail",
    "YoloDetector",
    "detector_for",
    "segment_analyse",
    "thumbnail_crop",
]
