"""segment_register: the recorder's edge into the database."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cameras.models import Camera, Segment
from cameras.services import segment_register
from community.models import SharingAgreement


def _register(camera: Camera, *, key: str = "segments/camera-1/a.mp4", minutes_ago: int = 1) -> Segment | None:
    began = timezone.now() - timedelta(minutes=minutes_ago)
    return segment_register(
        camera_id=camera.pk,
        key=key,
        started_at=began,
        ended_at=began + timedelta(seconds=10),
        size_bytes=1234,
        sha256="ab" * 32,
    )


def test_it_records_a_segment_once_when_registered_twice(alice_camera: Camera) -> None:
    first = _register(alice_camera)
    second = _register(alice_camera)

    assert first is not None and second is not None
    assert first.pk == second.pk
    assert Segment.objects.count() == 1


def test_it_ignores_a_segment_of_a_removed_camera(alice_camera: Camera) -> None:
    camera_id = alice_camera.pk
    alice_camera.delete()

    assert (
        segment_register(
            camera_id=camera_id,
            key="segments/gone.mp4",
            started_at=timezone.now(),
            ended_at=timezone.now(),
            size_bytes=1,
            sha256="0" * 64,
        )
        is None
    )
    assert not Segment.objects.exists()


def test_a_segment_recorded_under_live_terms_is_marked_shared(alice_camera: Camera) -> None:
    segment = _register(alice_camera)

    assert segment is not None and segment.shared_live


def test_a_segment_recorded_under_registry_terms_is_not_shared(
    alice_camera: Camera, alice_agreement: SharingAgreement
) -> None:
    alice_agreement.mode = SharingAgreement.Mode.REGISTRY
    alice_agreement.save()

    segment = _register(alice_camera)

    assert segment is not None and not segment.shared_live


def test_a_segment_recorded_outside_the_alarm_window_is_not_shared(
    alice_camera: Camera, alice_agreement: SharingAgreement
) -> None:
    alice_agreement.mode = SharingAgreement.Mode.ALARM
    alice_agreement.save()
    alice_camera.alarm_until = timezone.now() - timedelta(minutes=30)
    alice_camera.save()

    during = _register(alice_camera, key="segments/during.mp4", minutes_ago=40)
    after = _register(alice_camera, key="segments/after.mp4", minutes_ago=5)

    assert during is not None and during.shared_live
    assert after is not None and not after.shared_live
