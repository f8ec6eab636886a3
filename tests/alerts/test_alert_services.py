"""alert_raise once per key; alert_transition along the allowed steps with notes; offline cameras raise alerts."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from alerts.models import Alert, AlertNote
from alerts.services import alert_raise, alert_transition, camera_health_changed
from cameras.models import Camera
from community.models import User


def _raise(camera: Camera, key: str = "camera:1:rule:2:track:3") -> tuple[Alert, bool]:
    return alert_raise(
        dedup_key=key,
        kind=Alert.Kind.ZONE,
        title="Person in the loading bay",
        occurred_at=timezone.now(),
        camera=camera,
    )


def test_an_alert_is_raised_once_per_key_and_announced_once(
    alice_camera: Camera, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    announced: list[int] = []
    monkeypatch.setattr("alerts.services.alert_changed", lambda alert_id, created: announced.append(alert_id))

    with django_capture_on_commit_callbacks(execute=True):
        first, created = _raise(alice_camera)
        again, created_again = _raise(alice_camera)

    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert announced == [first.pk]
    assert first.latitude == alice_camera.site.latitude


def test_a_monitor_acknowledges_dispatches_and_closes_with_notes(alice_camera: Camera, monitor: User) -> None:
    alert, _ = _raise(alice_camera)

    for state in ("acknowledged", "dispatched", "closed"):
        alert = alert_transition(alert=alert, by=monitor, state=state, note=f"now {state}")

    assert alert.state == Alert.State.CLOSED
    assert list(AlertNote.objects.values_list("state_to", flat=True)) == ["acknowledged", "dispatched", "closed"]


def test_an_impossible_step_is_refused(alice_camera: Camera, monitor: User) -> None:
    alert, _ = _raise(alice_camera)
    alert_transition(alert=alert, by=monitor, state="dispatched")

    with pytest.raises(ValidationError):
        alert_transition(alert=alert, by=monitor, state="new")
    alert.refresh_from_db()
    assert alert.state == Alert.State.DISPATCHED


def test_owners_do_not_handle_alerts(alice_camera: Camera, alice: User) -> None:
    alert, _ = _raise(alice_camera)

    with pytest.raises(PermissionDenied):
        alert_transition(alert=alert, by=alice, state="closed")


def test_a_camera_going_offline_raises_one_low_alert(alice_camera: Camera) -> None:
    alert = camera_health_changed(camera=alice_camera, was="online", now="offline", message="did not answer")

    assert alert is not None and alert.kind == Alert.Kind.OFFLINE and alert.severity == "low"
    assert camera_health_changed(camera=alice_camera, was="offline", now="offline") is None
    assert camera_health_changed(camera=alice_camera, was="unknown", now="offline") is None
