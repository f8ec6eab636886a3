"""segment_analyse: a recorded segment becomes detections for search and alerts by the camera's rules, once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from alerts.models import Alert, CameraAnalytics, Detection, Rule
from alerts.services import segment_analyse
from cameras.models import Camera, Segment
from tests.alerts.scenes import SIZE, crossing_segment, scene_frames, segment_write
from tests.cameras.recorded import segment_store

BOTTOM_HALF = [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]


@pytest.fixture(autouse=True)
def analytics_on(settings: Any) -> None:
    settings.ANALYTICS_ENABLED = False  # the test calls the service itself
    settings.ANALYTICS_BACKEND = "opencv"


def _stored(camera: Camera, path: Path, *, start_ago_s: float = 120, seconds: float = 4.0) -> Segment:
    return segment_store(
        camera=camera, path=path, started_at=timezone.now() - timedelta(seconds=start_ago_s), seconds=seconds
    )


@pytest.fixture
def zone_rule(alice_camera: Camera) -> Rule:
    return Rule.objects.create(
        camera=alice_camera, name="Storefront", kind="zone", zone=BOTTOM_HALF, classes=["person"]
    )


def test_a_person_crossing_the_zone_raises_one_alert_with_a_snapshot(
    alice_camera: Camera, zone_rule: Rule, tmp_path: Path
) -> None:
    segment = _stored(alice_camera, crossing_segment(path=tmp_path / "crossing.mp4"))

    assert segment_analyse(segment_id=segment.pk) == 1

    alert = Alert.objects.get()
    assert (alert.kind, alert.camera, alert.rule, alert.object_class) == ("zone", alice_camera, zone_rule, "person")
    assert segment.started_at <= alert.occurred_at <= segment.ended_at
    assert alert.snapshot
    assert list(alert.segments.all()) == [segment]
    detections = Detection.objects.filter(segment=segment)
    assert detections.exists() and {d.object_class for d in detections} == {"person"}
    assert len({d.track_id for d in detections if d.track_id}) == 1  # untracked: seen before the tracker confirmed it
    assert detections.exclude(thumbnail="").exists()


def test_an_empty_street_raises_nothing_and_stores_nothing(
    alice_camera: Camera, zone_rule: Rule, tmp_path: Path
) -> None:
    segment = _stored(alice_camera, crossing_segment(path=tmp_path / "empty.mp4", person_at_s=None))

    assert segment_analyse(segment_id=segment.pk) == 0
    assert not Alert.objects.exists() and not Detection.objects.exists()


def test_a_worker_that_dies_before_saving_its_state_raises_no_second_alert_on_the_rerun(
    alice_camera: Camera, zone_rule: Rule, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    segment = _stored(alice_camera, crossing_segment(path=tmp_path / "crossing.mp4"))

    def die(**kwargs: Any) -> None:
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr("alerts.services._analysis_state_save", die)
        with pytest.raises(SystemExit):
            segment_analyse(segment_id=segment.pk)
    assert Alert.objects.count() == 1

    assert segment_analyse(segment_id=segment.pk) == 0
    assert Alert.objects.count() == 1
    assert CameraAnalytics.objects.get(camera=alice_camera).last_segment_end == segment.ended_at


def test_a_segment_already_analysed_is_skipped(alice_camera: Camera, zone_rule: Rule, tmp_path: Path) -> None:
    segment = _stored(alice_camera, crossing_segment(path=tmp_path / "crossing.mp4"))
    segment_analyse(segment_id=segment.pk)

    assert segment_analyse(segment_id=segment.pk) == 0
    assert Alert.objects.count() == 1


def test_a_person_inside_an_ignore_mask_raises_nothing(alice_camera: Camera, zone_rule: Rule, tmp_path: Path) -> None:
    CameraAnalytics.objects.create(camera=alice_camera, ignore_masks=[[[0, 0], [1, 0], [1, 1], [0, 1]]])
    segment = _stored(alice_camera, crossing_segment(path=tmp_path / "crossing.mp4"))

    assert segment_analyse(segment_id=segment.pk) == 0


def test_a_covered_lens_raises_a_tamper_alert(alice_camera: Camera, tmp_path: Path) -> None:
    width, height = SIZE
    frames = scene_frames(width=width, height=height, fps=15, seconds=6, covered_from_s=1.0)
    segment = _stored(alice_camera, segment_write(path=tmp_path / "covered.mp4", frames=frames), seconds=6)

    segment_analyse(segment_id=segment.pk)

    alert = Alert.objects.get(kind="tamper")
    assert alert.severity == "high" and "covered" in alert.title


def test_a_disabled_camera_is_not_analysed(alice_camera: Camera, zone_rule: Rule, tmp_path: Path) -> None:
    CameraAnalytics.objects.create(camera=alice_camera, enabled=False)
    segment = _stored(alice_camera, crossing_segment(path=tmp_path / "crossing.mp4"))

    assert segment_analyse(segment_id=segment.pk) == 0
    assert not Detection.objects.exists()
