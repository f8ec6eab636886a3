"""/police/wall/?place=lat,lng (a tip's or any place's link) puts the shared cameras around it on the wall."""

from __future__ import annotations

import time

import pytest

from cameras.models import Camera, MonitorWall
from community.models import User
from tests.browser.browsing import DESKTOP, log_in_through_form
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_tiles")]


def test_the_cameras_near_a_place_go_up_on_the_wall(
    asgi_server, open_context, monitor: User, alice_camera: Camera
) -> None:
    _, page, _ = open_context(**DESKTOP)
    log_in_through_form(page, asgi_server.url, email=monitor.email, password=PASSWORD)
    site = alice_camera.site

    page.goto(f"{asgi_server.url}/police/wall/?place={site.latitude},{site.longitude}")

    # A function, not an expression: Playwright evaluates a bare expression with eval, which the page's CSP refuses.
    page.wait_for_function(f"() => window.lanternWall.tiles.includes({alice_camera.pk})", timeout=60_000)
    # The wall is saved for the monitor too (a POST of its own, a moment later; a busy machine may take long).
    deadline = time.monotonic() + 60
    while alice_camera.pk not in (
        MonitorWall.objects.filter(user=monitor).values_list("tiles", flat=True).first() or []
    ):
        assert time.monotonic() < deadline, "the wall was not saved"
        time.sleep(0.1)
