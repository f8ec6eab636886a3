"""The police map: a supervisor verifies a partner, then a monitor finds its camera on the map; and 10,000 cameras."""

from __future__ import annotations

import random
import time
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cameras import services as camera_services
from cameras.models import Camera
from community.models import Business, SharingAgreement, Site
from tests.browser.browsing import CAPTURE_LEAFLET_MAPS, DESKTOP, log_in_through_form
from tests.conftest import PASSWORD
from tests.factories import AgreementFactory, BusinessFactory, CameraFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.usefixtures("no_tiles")

# Cameras the map accounts for inside its own rectangle: the numbers on the clusters plus single markers.
VISIBLE_TOTAL = """() => {
  const map = document.getElementById("camera-map").getBoundingClientRect();
  const inside = el => {
    const r = el.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
    return x >= map.left && x <= map.right && y >= map.top && y <= map.bottom;
  };
  let total = 0;
  for (const c of document.querySelectorAll("#camera-map .marker-cluster")) {
    if (inside(c)) total += Number(c.textContent);
  }
  for (const m of document.querySelectorAll("#camera-map .cam-marker")) {
    if (inside(m)) total += 1;
  }
  return total;
}"""
# Arms a flag for the next zoomend; the cluster layer handles zoomend first (it listened first) and
# marks the map pane while it animates its clusters apart or together.
EXPECT_ZOOMEND = """() => {
  window.__zoomed = false;
  window.__leafletMaps[0].once("zoomend", () => { window.__zoomed = true; });
}"""
SETTLED = """() => window.__zoomed
  && !document.querySelector("#camera-map .leaflet-zoom-anim, #camera-map .leaflet-cluster-anim")"""


@pytest.fixture
def pending_partner(simulator) -> Camera:
    """A submitted business waiting for verification, whose one camera the simulator serves (and was probed)."""
    owner = UserFactory(email="pat@example.com", full_name="Pat Pharmacy")
    business = BusinessFactory(
        owner=owner, name="Pat's Pharmacy", state=Business.State.PENDING, verified_at=None, submitted_at=timezone.now()
    )
    agreement = AgreementFactory(business=business, name="Live always", state=SharingAgreement.State.PENDING)
    site = SiteFactory(business=business, name="Woodward", latitude=Decimal("42.3490"), longitude=Decimal("-83.0600"))
    camera = CameraFactory(site=site, name="Pharmacy entrance", agreement=agreement, stream_url=simulator.url(2))
    camera_services.camera_probe(camera=camera)
    camera.refresh_from_db()
    assert camera.health == Camera.Health.ONLINE and camera.snapshot, camera.health_message
    return camera


def wait_for_count(page: Page, text: str) -> None:
    expect(page.locator("#map-count")).to_have_text(text, timeout=30_000)


@pytest.mark.browser
def test_a_verified_partner_shows_up_on_the_monitors_map(
    live_server, open_context, supervisor, monitor, pending_partner, tmp_path
):
    camera = pending_partner
    _context, page, _watch = open_context(**DESKTOP)
    log_in_through_form(page, live_server.url, email=supervisor.email, password=PASSWORD)
    page.goto(f"{live_server.url}/police/partners/")
    page.locator("a", has_text="Pat's Pharmacy").click()
    page.wait_for_url(f"**/police/partners/{camera.business_id}/")
    expect(page.locator("h1 .badge")).to_have_text("Waiting for verification")
    page.fill("#id_reason", "Met the owner at the store; business licence 2026-0415 checked.")
    with page.expect_navigation():
        page.locator("button[name=action][value=verify]").click()
    expect(page.locator("h1 .badge")).to_have_text("Verified partner")
    business = Business.objects.get(pk=camera.business_id)
    assert (business.state, business.verified_by_id) == (Business.State.VERIFIED, supervisor.pk)
    assert SharingAgreement.objects.get(pk=camera.agreement_id).state == SharingAgreement.State.ACTIVE

    _context, page, _watch = open_context(**DESKTOP)
    log_in_through_form(page, live_server.url, email=monitor.email, password=PASSWORD)
    page.goto(f"{live_server.url}/police/map/")
    wait_for_count(page, "1 of 1 cameras shown")
    marker = page.locator("#camera-map .cam-marker.health-online.mode-always")
    expect(marker).to_have_count(1)
    # The tile server is unreachable: Leaflet asked it for tiles and carried on without them.
    assert page.evaluate("[...document.querySelectorAll('#camera-map img.leaflet-tile')].length") > 0
    page.screenshot(path=str(tmp_path / "map.png"))

    marker.click()
    popup = page.locator("#camera-map .leaflet-popup-content")
    expect(popup).to_contain_text("Pharmacy entrance")
    expect(popup).to_contain_text("Woodward")
    expect(popup.locator("a").first).to_have_attribute("href", f"/police/cameras/{camera.pk}/")
    expect(popup.locator("a", has_text="watch live")).to_have_attribute("href", f"/police/wall/?add={camera.pk}")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=popup.locator("img").element_handle(), timeout=10_000
    )
    page.screenshot(path=str(tmp_path / "map-popup.png"))

    page.locator("input[name=health][value=online]").uncheck()
    wait_for_count(page, "0 of 1 cameras shown")
    expect(page.locator("#camera-map .cam-marker")).to_have_count(0)
    page.locator("input[name=health][value=online]").check()
    wait_for_count(page, "1 of 1 cameras shown")
    expect(page.locator("#camera-map .cam-marker")).to_have_count(1)
    page.locator("input[name=mode][value=always]").uncheck()
    wait_for_count(page, "0 of 1 cameras shown")
    expect(page.locator("#camera-map .cam-marker")).to_have_count(0)
    page.locator("input[name=mode][value=always]").check()
    wait_for_count(page, "1 of 1 cameras shown")


def partners_with_cameras(*, cameras: int, per_business: int = 100, seed: int = 7) -> None:
    """Verified partners with active live-always terms and `cameras` cameras spread over Detroit, in bulk."""
    rng = random.Random(seed)
    owner = UserFactory(email="bulk-owner@example.com")
    now = timezone.now()
    businesses = Business.objects.bulk_create(
        Business(
            owner=owner,
            name=f"Partner {n:04d}",
            contact_name="Owner",
            contact_email=f"partner{n}@example.com",
            state=Business.State.VERIFIED,
            verified_at=now,
        )
        for n in range(-(-cameras // per_business))
    )
    agreements = SharingAgreement.objects.bulk_create(
        SharingAgreement(
            business=business,
            name="Live always",
            mode=SharingAgreement.Mode.ALWAYS,
            state=SharingAgreement.State.ACTIVE,
            terms_version="2026-11",
            terms_accepted_at=now,
            terms_accepted_by=owner,
        )
        for business in businesses
    )
    sites = Site.objects.bulk_create(
        Site(
            business=businesses[n // per_business],
            name=f"Site {n:05d}",
            address=f"{n} Main St, Detroit, MI",
            latitude=Decimal(f"{rng.uniform(42.26, 42.45):.6f}"),
            longitude=Decimal(f"{rng.uniform(-83.28, -82.92):.6f}"),
        )
        for n in range(cameras)
    )
    healths = [Camera.Health.ONLINE] * 8 + [Camera.Health.OFFLINE, Camera.Health.ERROR]
    Camera.objects.bulk_create(
        Camera(
            business=site.business,
            site=site,
            name=f"Camera {n:05d}",
            agreement=agreements[n // per_business],
            health=rng.choice(healths),
        )
        for n, site in enumerate(sites)
    )


@pytest.mark.browser
def test_ten_thousand_cameras_cluster_and_zoom(live_server, desktop, monitor):
    partners_with_cameras(cameras=10_000)
    page = desktop
    page.add_init_script(CAPTURE_LEAFLET_MAPS)
    log_in_through_form(page, live_server.url, email=monitor.email, password=PASSWORD)

    started = time.perf_counter()
    page.goto(f"{live_server.url}/police/map/")
    wait_for_count(page, "10000 of 10000 cameras shown")
    expect(page.locator("#camera-map .marker-cluster").first).to_be_visible(timeout=30_000)
    page.wait_for_function(f"() => ({VISIBLE_TOTAL})() === 10000", timeout=30_000)
    elapsed = time.perf_counter() - started
    api = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/cameras/map/'))"
        ".map(e => [e.responseEnd - e.startTime, e.encodedBodySize])[0]"
    )
    print(f"\n10,000 cameras: {api[1] / 1024:.0f} KB in {api[0]:.0f} ms; loaded and clustered in {elapsed:.2f} s")
    assert elapsed < 30

    # Leaflet drops a zoom asked for while it animates one, so each click waits for the map to settle.
    fitted = page.evaluate("window.__leafletMaps[0].getZoom()")
    clusters_fitted = page.locator("#camera-map .marker-cluster").count()
    for button, steps in [("in", 1), ("in", 2), ("out", 1), ("out", 0)]:
        page.evaluate(EXPECT_ZOOMEND)
        page.locator(f".leaflet-control-zoom-{button}").click()
        page.wait_for_function(SETTLED, timeout=15_000)
        assert page.evaluate("window.__leafletMaps[0].getZoom()") == fitted + steps
        # Zoomed in, part of the city is out of view; back at the fitted view, every camera is accounted for.
        assert (page.evaluate(VISIBLE_TOTAL) == 10_000) == (steps == 0)
    assert page.locator("#camera-map .marker-cluster").count() == clusters_fitted

    # Filters re-cluster all 10,000, even when changed again before the previous load has finished.
    online = Camera.objects.filter(health=Camera.Health.ONLINE).count()
    health_online = page.locator("input[name=health][value=online]")
    health_online.uncheck()
    health_online.check()
    health_online.uncheck()
    wait_for_count(page, f"{10_000 - online} of 10000 cameras shown")
    page.wait_for_function(f"() => ({VISIBLE_TOTAL})() === {10_000 - online}", timeout=15_000)
    health_online.check()
    wait_for_count(page, "10000 of 10000 cameras shown")
    page.wait_for_function(f"() => ({VISIBLE_TOTAL})() === 10000", timeout=15_000)

    # A cluster opens to the level that splits it, as an officer would drill in.
    page.evaluate(EXPECT_ZOOMEND)
    page.locator("#camera-map .marker-cluster").first.click()
    page.wait_for_function(SETTLED, timeout=15_000)
    assert page.evaluate("window.__leafletMaps[0].getZoom()") > fitted
