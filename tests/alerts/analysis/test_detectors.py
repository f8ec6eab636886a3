"""Detector backends on real pictures: OpenCV's HOG finds people and nothing in empty scenes; YOLO from its YAML runs
the whole pipeline, keeps to its classes and never reaches for the network."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from alerts.analysis import (
    YOLO_CLASSES,
    CameraAnalysisState,
    DetectorUnavailable,
    OpenCVHogDetector,
    YoloDetector,
    detector_for,
    segment_analyse,
    thumbnail_crop,
)
from alerts.analysis.objects import box_iou
from tests.alerts.scenes import street_picture

YOLO_MISSING = importlib.util.find_spec("ultralytics") is None
needs_yolo = pytest.mark.skipif(YOLO_MISSING, reason="the yolo extra is not installed: pip install -e '.[yolo]'")
needs_photo = pytest.mark.skipif(
    YOLO_MISSING,
    reason="the street photograph of people in full figure ships with Ultralytics (the yolo extra), which is not "
    "installed; scikit-image's pictures of people show them from the waist up, which HOG does not find",
)


def _bus() -> np.ndarray:
    """Ultralytics' sample street photograph (810x1080): people in full figure in front of a bus. scikit-image's
    sample pictures of people (astronaut, camera) show them from the waist up, which HOG is not made for."""
    spec = importlib.util.find_spec("ultralytics")
    assert spec is not None and spec.submodule_search_locations
    picture = cv2.imread(str(Path(next(iter(spec.submodule_search_locations))) / "assets" / "bus.jpg"))
    assert picture is not None
    return picture


# The man nearest the camera on the left of bus.jpg, in normalised coordinates (48..245 x 399..903 pixels).
BUS_LEFT_MAN = (48 / 810, 399 / 1080, 197 / 810, 504 / 1080)


def _bgr(picture: np.ndarray) -> np.ndarray:
    if picture.ndim == 2:
        return cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(picture[..., 2::-1])


@needs_photo
def test_hog_finds_the_man_in_the_street_photograph():
    found = OpenCVHogDetector(width=405).detect(image=_bus())
    assert found
    best = max(found, key=lambda d: d.confidence)
    assert best.object_class == "person"
    assert box_iou(best.box, BUS_LEFT_MAN) > 0.4


@needs_photo
def test_hog_looks_only_around_the_regions_it_is_given():
    detector = OpenCVHogDetector(width=405)
    # Where motion would put the man had he just walked in: most of him.
    near = detector.detect(image=_bus(), regions=[(0.08, 0.4, 0.2, 0.42)])
    assert any(box_iou(d.box, BUS_LEFT_MAN) > 0.4 for d in near)
    far = detector.detect(image=_bus(), regions=[(0.9, 0.05, 0.05, 0.05)])
    assert not any(box_iou(d.box, BUS_LEFT_MAN) > 0.1 for d in far)


@pytest.mark.parametrize("name", ["coffee", "brick", "grass", "gravel", "chelsea"])
def test_hog_finds_no_one_in_pictures_without_people(name: str):
    assert OpenCVHogDetector().detect(image=_bgr(getattr(data, name)())) == []


def test_hog_finds_no_one_in_the_empty_street():
    assert OpenCVHogDetector().detect(image=street_picture(width=1280, height=720)) == []


@needs_photo
def test_the_tracker_keeps_one_id_for_a_person_walking_across():
    detector = OpenCVHogDetector()
    state = CameraAnalysisState.new(fps=5.0)
    tracker = detector.tracker_new(fps=5.0)
    person = cv2.resize(_bus()[380:920, 30:270], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    h, w = person.shape[:2]
    street = street_picture(width=960, height=540)
    ids = []
    for step in range(14):
        picture = street.copy()
        x = 40 + step * 60
        picture[520 - h : 520, x : x + w] = person
        found = detector.detect(image=picture)
        tracked = tracker.update(detections=found, frame_size=(960, 540), timestamp=step * 0.2)
        for detection in state.tracks.assign(tracked=tracked, dt=0.2):
            assert abs(detection.box[0] * 960 - x) < w / 2
            ids.append(detection.track_id)
    named = [track_id for track_id in ids if track_id is not None]
    assert len(named) >= 11
    assert len(set(named)) == 1


def test_detector_for_gives_the_configured_backend(settings):
    settings.ANALYTICS_BACKEND = "opencv"
    assert isinstance(detector_for(), OpenCVHogDetector)
    with pytest.raises(ValueError, match="Unknown analytics backend"):
        detector_for("facial")


def test_a_thumbnail_is_a_small_jpeg_of_the_box():
    picture = street_picture(width=1280, height=720)
    jpeg = thumbnail_crop(image=picture, box=(0.25, 0.25, 0.25, 0.5))
    assert jpeg[:2] == b"\xff\xd8"
    thumb = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert max(thumb.shape[:2]) == 160
    assert thumbnail_crop(image=picture, box=(1.5, 1.5, 0.1, 0.1)) == b""


@needs_yolo
def test_yolo_weights_come_only_from_a_file(tmp_path: Path):
    with pytest.raises(DetectorUnavailable, match="not found"):
        YoloDetector(weights=tmp_path / "missing.pt")
    # A bare name is what Ultralytics would download; it is refused before Ultralytics sees it.
    with pytest.raises(DetectorUnavailable, match="file path"):
        YoloDetector(model="yolo11n.pt")


@needs_yolo
def test_the_yolo_pipeline_runs_with_a_model_built_from_its_yaml(settings, crossing: Path):
    settings.ANALYTICS_YOLO_WEIGHTS = ""
    settings.ANALYTICS_YOLO_MODEL = "yolo11n.yaml"
    # Random weights are sure of nothing; a very low threshold lets their boxes through the whole pipeline.
    detector = detector_for("yolo", image_size=320, min_confidence=1e-4)
    assert detector.classes == YOLO_CLASSES
    state = CameraAnalysisState.new(fps=5.0)
    analysis = segment_analyse(
        source=crossing, fps=5.0, ignore_masks=[], detector=detector, state=state, thumbnails=True
    )
    assert analysis.detector_calls >= 10
    found = analysis.detections
    assert found
    for _, detection in found:
        x, y, w, h = detection.box
        assert 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 and 0.0 < w <= 1.0 and 0.0 < h <= 1.0
        assert detection.object_class in YOLO_CLASSES
        assert 0.0 < detection.confidence <= 1.0
        assert detection.track_id is None or isinstance(detection.track_id, str)
    assert type(detector.tracker_new(fps=5.0)).__name__ == "UltralyticsByteTrack"
    assert state.to_json()["tracks"]["token"]


@needs_yolo
def test_yolo_keeps_to_its_classes():
    picture = _bus()
    people = YoloDetector(model="yolo11n.yaml", classes=("person",), image_size=320, min_confidence=1e-4)
    vehicles = YoloDetector(model="yolo11n.yaml", classes=("car", "bus"), image_size=320, min_confidence=1e-4)
    assert vehicles.classes == ("car", "bus")
    found_people = people.detect(image=picture)
    assert found_people
    assert {d.object_class for d in found_people} == {"person"}
    assert {d.object_class for d in vehicles.detect(image=picture)} <= {"car", "bus"}
