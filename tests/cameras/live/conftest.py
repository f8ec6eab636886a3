"""Fixtures for the live tests: a camera streaming from the simulator, and the monitor's API token."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from cameras.credentials import stream_url_encrypt, stream_url_mask
from cameras.models import Camera


@pytest.fixture
def live_camera(alice_camera, simulator):
    url = simulator.url(1)
    Camera.objects.filter(pk=alice_camera.pk).update(
        stream_url_encrypted=stream_url_encrypt(url),
        stream_url_masked=stream_url_mask(url),
        health="online",
        codec="h264",
    )
    alice_camera.refresh_from_db()
    return alice_camera


@pytest.fixture
def monitor_token(monitor):
    return Token.objects.create(user=monitor).key
