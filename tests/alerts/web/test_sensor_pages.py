"""/portal/sensors/: owners register their alarm panels and panic buttons and see the secret once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from alerts.models import SensorSource
from cameras.models import Camera
from community.models import User


def test_alice_registers_a_panic_button_and_sees_its_secret_once(
    client_for: Callable[[User | None], Client], alice: User, alice_camera: Camera
) -> None:
    client = client_for(alice)

    response = client.post(
        "/portal/sensors/",
        {
            "name": "Till button",
            "kind": "panic_button",
            "business": alice_camera.business_id,
            "camera": alice_camera.pk,
        },
    )

    assert response.status_code == 201
    sensor = SensorSource.objects.get()
    assert (sensor.business, sensor.camera) == (alice_camera.business, alice_camera)
    secret = response.context["created"][1]
    assert secret in response.content.decode()
    assert secret not in sensor.secret_encrypted
    assert secret not in client.get("/portal/sensors/").content.decode()


def test_charlie_cannot_register_a_sensor_on_alices_business(
    client_for: Callable[[User | None], Client], charlie: User, alice_camera: Camera
) -> None:
    response = client_for(charlie).post(
        "/portal/sensors/", {"name": "Sneaky", "kind": "alarm_panel", "business": alice_camera.business_id}
    )

    assert response.status_code == 400
    assert not SensorSource.objects.exists()


def test_a_camera_of_another_business_is_refused(
    client_for: Callable[[User | None], Client], alice: User, alice_camera: Camera, charlie_camera: Camera
) -> None:
    response = client_for(alice).post(
        "/portal/sensors/",
        {"name": "Alarm", "kind": "alarm_panel", "business": alice_camera.business_id, "camera": charlie_camera.pk},
    )

    # Charlie's camera is not among alice's choices, so the sensor is registered without a camera.
    assert response.status_code == 201
    assert SensorSource.objects.get().camera is None


@pytest.mark.parametrize(
    ("persona", "status"),
    [("anonymous", 302), ("monitor", 403), ("alice", 200), ("bob", 200), ("charlie", 200), ("supervisor", 200)],
)
def test_who_may_open_the_sensors_page(
    client_for: Callable[[User | None], Client],
    request: pytest.FixtureRequest,
    persona: str,
    status: int,
    alice_camera: Camera,
) -> None:
    user = None if persona == "anonymous" else request.getfixturevalue(persona)

    assert client_for(user).get("/portal/sensors/").status_code == status


def test_owners_see_only_their_own_sensors(
    client_for: Callable[[User | None], Client], alice: User, charlie: User, alice_camera: Camera
) -> None:
    client_for(alice).post(
        "/portal/sensors/", {"name": "Alice's panel", "kind": "alarm_panel", "business": alice_camera.business_id}
    )

    assert "Alice's panel" not in client_for(charlie).get("/portal/sensors/").content.decode()
