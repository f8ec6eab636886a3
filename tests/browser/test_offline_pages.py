"""Pages that used to need the internet, in Chromium with every request off 127.0.0.1 refused (the fixtures fail
the test on any): the API docs draw Swagger UI from this site's files, and the map without tiles explains itself."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.browsing import DESKTOP, log_in_through_form
from tests.conftest import PASSWORD


def test_the_api_docs_load_with_nothing_from_outside(live_server, open_context, monitor) -> None:
    _, page, watch = open_context(**DESKTOP)
    log_in_through_form(page, live_server.url, email=monitor.email, password=PASSWORD)

    page.goto(f"{live_server.url}/api/docs/")

    # Drawn by Swagger UI's script from the schema: the page's own HTML holds neither line.
    expect(page.locator("#swagger-ui")).to_contain_text("Partner cameras, sharing agreements", timeout=60_000)
    expect(page.locator("#swagger-ui")).to_contain_text("/api/cameras/{id}/snapshot/", timeout=60_000)
    assert watch.off_loopback == []


def test_the_map_without_tiles_says_no_base_map_is_configured(live_server, open_context, monitor, settings) -> None:
    settings.MAP_TILE_URL = ""
    _, page, watch = open_context(**DESKTOP)
    log_in_through_form(page, live_server.url, email=monitor.email, password=PASSWORD)

    page.goto(f"{live_server.url}/police/map/")

    note = page.locator("#camera-map .map-note")
    expect(note).to_be_visible(timeout=60_000)
    expect(note).to_contain_text("LANTERN_MAP_TILE_URL")
    expect(page.locator("#camera-map.leaflet-container")).to_be_visible(timeout=60_000)
    assert watch.off_loopback == []
