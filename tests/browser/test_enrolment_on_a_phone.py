"""A new business owner enrols on a phone: sign up, business, site on the map, a real camera, terms, submit."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cameras.credentials import stream_url_decrypt
from cameras.models import Camera
from community.models import Business, SharingAgreement
from tests.browser.browsing import (
    STREAM_PASSWORD,
    STREAM_USERNAME,
    assert_no_horizontal_scroll,
    log_in_through_form,
)
from tests.conftest import PASSWORD
from tests.factories import BusinessFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.usefixtures("no_tiles")


class Steps:
    """Screenshots of each step on the phone, and the sideways-scroll check on every page."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.taken: list[Path] = []

    def shot(self, name: str) -> None:
        assert_no_horizontal_scroll(self.page)
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


@pytest.mark.browser
def test_a_new_owner_enrols_a_camera_on_a_phone(live_server, phone, simulator, tmp_path):
    page = phone
    steps = Steps(page, tmp_path)
    base = live_server.url

    page.goto(f"{base}/account/signup/")
    steps.shot("signup")
    page.fill("#id_full_name", "Dana Diner")
    page.fill("#id_email", "dana@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.tap("button.primary")

    page.wait_for_url("**/portal/businesses/new/")
    expect(page.locator("#id_contact_email")).to_have_value("dana@example.com")
    steps.shot("business")
    page.fill("#id_name", "Dana's Diner")
    page.fill("#id_contact_phone", "+1 313 555 0199")
    page.tap("button.primary")

    page.wait_for_url("**/sites/new/")
    expect(page.locator("#place-map.leaflet-container")).to_be_visible()
    page.fill("#id_name", "Gratiot Avenue")
    page.fill("#id_address", "4000 Gratiot Ave, Detroit, MI")
    expect(page.locator("#id_latitude")).to_have_value("")
    # A tap off-centre, so the coordinates cannot be the map's starting centre by accident.
    page.locator("#place-map").tap(position={"x": 250, "y": 90})
    expect(page.locator("#place-map .leaflet-marker-icon")).to_be_visible()
    latitude = float(page.input_value("#id_latitude"))
    longitude = float(page.input_value("#id_longitude"))
    assert 42.2 < latitude < 42.5 and -83.3 < longitude < -82.8, (latitude, longitude)
    assert (round(latitude, 4), round(longitude, 4)) != (42.3314, -83.0458)
    steps.shot("site")
    page.tap("button.primary")

    page.wait_for_url("**/cameras/new/")
    steps.shot("camera-form")
    page.fill("#id_name", "Front counter")
    page.fill("#id_stream_url", simulator.url(1, with_credentials=False))
    page.fill("#id_stream_username", STREAM_USERNAME)
    page.fill("#id_stream_password", STREAM_PASSWORD)
    page.fill("#id_views", "Counter and the front door")
    # Saving probes the simulator inside the request (Celery is eager in tests).
    page.tap("button.primary")

    page.wait_for_url("**/portal/cameras/*/")
    expect(page.locator("h1 .badge")).to_have_text("Online")
    expect(page.locator(".facts")).to_contain_text("H264")
    snapshot = page.locator(".snapshot img")
    expect(snapshot).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=snapshot.element_handle())
    masked = f"rtsp://{STREAM_USERNAME}:••••••@127.0.0.1:{simulator.port}/cam1"
    expect(page.locator(".facts code")).to_have_text(masked)
    assert STREAM_PASSWORD not in page.content()
    steps.shot("camera")

    page.goto(f"{base}/portal/")
    page.locator("a", has_text="Dana's Diner").first.tap()
    page.locator("a.button", has_text="Choose sharing terms").tap()
    page.wait_for_url("**/terms/new/")
    page.check("input[name=mode][value=always]")
    expect(page.locator("input[name=cameras]")).to_be_checked()
    page.check("#id_terms_accepted")
    steps.shot("terms")
    page.tap("button.primary")

    page.wait_for_url("**/portal/businesses/*/")
    with page.expect_navigation():
        page.locator("form[action$='/submit/'] button").tap()
    expect(page.locator("h1 .badge")).to_have_text("Waiting for verification")
    steps.shot("submitted")

    business = Business.objects.get(name="Dana's Diner")
    assert business.state == Business.State.PENDING
    camera = Camera.objects.get(business=business)
    assert (camera.health, camera.codec, camera.width, camera.height) == ("online", "h264", 640, 360)
    assert camera.agreement is not None and camera.agreement.mode == SharingAgreement.Mode.ALWAYS
    assert camera.agreement.state == SharingAgreement.State.PENDING
    # The simulator refuses anonymous viewers, so Online above also proves the typed credentials were used.
    assert stream_url_decrypt(camera.stream_url_encrypted) == simulator.url(1)
    print("screenshots:", *steps.taken, sep="\n  ")


@pytest.mark.browser
def test_a_bad_stream_address_is_explained_next_to_the_field(live_server, phone, tmp_path):
    owner = UserFactory(email="erin@example.com", full_name="Erin Owner")
    business = BusinessFactory(owner=owner, name="Erin's Shop", state=Business.State.DRAFT, verified_at=None)
    SiteFactory(business=business, name="Main Street")
    page = phone

    log_in_through_form(page, live_server.url, email=owner.email, password=PASSWORD)
    page.goto(f"{live_server.url}/portal/businesses/{business.pk}/cameras/new/")
    page.fill("#id_name", "Back door")
    page.fill("#id_stream_url", "ftp://x")
    with page.expect_navigation():
        page.tap("button.primary")
    page.screenshot(path=str(tmp_path / "bad-stream-address.png"), full_page=True)

    field = page.locator(".field", has=page.locator("#id_stream_url"))
    expect(field.locator(".error")).to_contain_text("rtsp://")
    expect(field.locator(".error")).to_contain_text("not ftp://")
    expect(page.locator("#id_stream_url")).to_have_value("ftp://x")
    assert_no_horizontal_scroll(page)
    assert not Camera.objects.filter(business=business).exists()
