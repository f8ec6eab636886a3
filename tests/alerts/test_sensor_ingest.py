"""POST /ingest/sensors/<id>/events: signed events become one alert each; anything unsigned is refused, unstored."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import Alert, SensorSource
from alerts.services import sensor_source_create
from cameras.models import Camera
from community.models import SharingAgreement, User


@pytest.fixture
def panic_button(alice: User, alice_camera: Camera) -> tuple[SensorSource, str]:
    return sensor_source_create(
        by=alice, name="Register panic button", kind="panic_button", business=alice_camera.business, camera=alice_camera
    )


def _post(
    source: SensorSource,
    secret: str,
    payload: dict[str, Any],
    *,
    timestamp: int | None = None,
    signature: str | None = None,
) -> Any:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"HTTP_X_LANTERN_TIMESTAMP": stamp, "HTTP_X_LANTERN_SIGNATURE": signature or f"sha256={digest}"}
    return Client().post(f"/ingest/sensors/{source.pk}/events", body, content_type="application/json", **headers)


def test_a_signed_event_raises_an_alert_at_the_sensors_place(panic_button: tuple[SensorSource, str]) -> None:
    source, secret = panic_button

    response = _post(source, secret, {"id": "evt-1", "message": "Robbery in progress"})

    assert response.status_code == 201
    alert = Alert.objects.get()
    assert alert.kind == Alert.Kind.EXTERNAL
    assert alert.camera == source.camera
    assert alert.latitude == source.latitude
    assert "Robbery in progress" in alert.title


def test_the_same_event_sent_twice_is_one_alert(panic_button: tuple[SensorSource, str]) -> None:
    source, secret = panic_button

    first = _post(source, secret, {"id": "evt-1"})
    again = _post(source, secret, {"id": "evt-1"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert Alert.objects.count() == 1


@pytest.mark.parametrize(
    "how",
    ["no signature", "wrong signature", "wrong secret", "stale timestamp", "unknown source"],
)
def test_an_unsigned_or_badly_signed_event_is_refused_and_nothing_is_stored(
    panic_button: tuple[SensorSource, str], how: str
) -> None:
    source, secret = panic_button
    client = Client()
    if how == "no signature":
        response = client.post(f"/ingest/sensors/{source.pk}/events", b'{"id": "x"}', content_type="application/json")
    elif how == "wrong signature":
        response = _post(source, secret, {"id": "x"}, signature="sha256=" + "0" * 64)
    elif how == "wrong secret":
        response = _post(source, "not-the-secret", {"id": "x"})
    elif how == "stale timestamp":
        response = _post(source, secret, {"id": "x"}, timestamp=int(time.time()) - 3600)
    else:
        source.pk += 1000
        response = _post(source, secret, {"id": "x"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("HMAC-SHA256")
    assert not Alert.objects.exists()


def test_a_body_that_is_not_the_documented_json_is_a_400(panic_button: tuple[SensorSource, str]) -> None:
    source, secret = panic_button

    response = _post(source, secret, {"message": "no id"})

    assert response.status_code == 400
    assert "id" in response.json()["errors"]
    assert not Alert.objects.exists()


def test_an_event_on_a_live_on_alarm_camera_opens_live_viewing(
    panic_button: tuple[SensorSource, str], alice_agreement: SharingAgreement, alice_camera: Camera
) -> None:
    alice_agreement.mode = SharingAgreement.Mode.ALARM
    alice_agreement.alarm_window_minutes = 20
    alice_agreement.save()
    source, secret = panic_button

    _post(source, secret, {"id": "evt-9"})

    alice_camera.refresh_from_db()
    assert alice_camera.alarm_until is not None
    assert alice_camera.alarm_until > timezone.now() + timedelta(minutes=19)


def test_a_get_is_not_allowed(panic_button: tuple[SensorSource, str]) -> None:
    source, _ = panic_button

    assert Client().get(f"/ingest/sensors/{source.pk}/events").status_code == 405


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"occurred_at": "2099-01-01T00:00:00+00:00"}, "occurred_at"),
        ({"occurred_at": "2026-13-45T00:00:00+00:00"}, "occurred_at"),
        ({"occurred_at": "2020-01-01T00:00:00+00:00"}, "occurred_at"),
        ({"latitude": 91, "longitude": 0}, "latitude"),
        ({"latitude": 0, "longitude": -181}, "latitude"),
        ({"latitude": "NaN", "longitude": "NaN"}, "latitude"),
        ({"latitude": "Infinity", "longitude": 0}, "latitude"),
        ({"latitude": 42.33}, "latitude"),
        ({"latitude": True, "longitude": False}, "latitude"),
    ],
)
def test_a_signed_event_at_an_impossible_time_or_place_is_a_400_and_nothing_is_stored(
    panic_button: tuple[SensorSource, str], fields: dict[str, Any], error: str
) -> None:
    source, secret = panic_button

    response = _post(source, secret, {"id": "evt-odd", **fields})

    assert response.status_code == 400, response.content
    assert error in response.json()["errors"]
    assert not Alert.objects.exists()


def test_a_signed_event_a_moment_ago_at_its_own_place_is_kept(panic_button: tuple[SensorSource, str]) -> None:
    source, secret = panic_button
    when = timezone.now() - timedelta(seconds=30)

    response = _post(
        source, secret, {"id": "evt-2", "occurred_at": when.isoformat(), "latitude": 42.331427, "longitude": -83.0458}
    )

    assert response.status_code == 201, response.content
    alert = Alert.objects.get()
    assert abs((alert.occurred_at - when).total_seconds()) < 1
    assert (float(alert.latitude), float(alert.longitude)) == (42.331427, -83.0458)
