"""How the browser tests drive Chromium: launch options, the loopback-only guard, and logging in through the forms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, Route

from community.models import User

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces for "nothing leaves loopback": no host name resolves, only 127.0.0.1 is reachable.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    # WebRTC on loopback: Chromium leaves 127.0.0.1 out of its candidates unless told, and hides host
    # addresses behind mDNS names the relay cannot resolve.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
# Nothing listens on the discard port, so tiles fail at once, as they would with no internet.
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
DESKTOP = {"viewport": {"width": 1440, "height": 900}}
STREAM_USERNAME = "lantern"
STREAM_PASSWORD = "p4ss-w0rd!camera"


# An init script that keeps a reference to every Leaflet map a page creates (window.__leafletMaps), so
# tests can read the zoom level without the app exposing its map. Leaflet publishes itself by assigning
# window.L, which the setter below sees.
CAPTURE_LEAFLET_MAPS = """(() => {
  let leaflet;
  Object.defineProperty(window, "L", {
    configurable: true,
    get() { return leaflet; },
    set(value) {
      leaflet = value;
      if (value && value.Map && !value.Map.__captured) {
        value.Map.__captured = true;
        value.Map.addInitHook(function () { (window.__leafletMaps = window.__leafletMaps || []).push(this); });
      }
    },
  });
})();"""


@dataclass
class PageWatch:
    """What a browser context did that a test should know about."""

    off_loopback: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def loopback_only(watch: PageWatch) -> Callable[[Route], None]:
    """A route handler that lets 127.0.0.1 through and aborts (and notes) everything else."""

    def handle(route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1":
            route.continue_()
        else:
            watch.off_loopback.append(url)
            route.abort("blockedbyclient")

    return handle


def confirmed_totp_device(user: User) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="Authenticator app", defaults={"confirmed": True})
    return device


def otp_code(device: TOTPDevice) -> str:
    """The code an authenticator app would show now."""
    device.refresh_from_db()
    return str(totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)).zfill(device.digits)


def log_in_through_form(page: Page, base_url: str, *, email: str, password: str) -> None:
    """The real login form; police officers then pass the real two-factor page with a device set up before."""
    user = User.objects.get(email=email)
    device = confirmed_totp_device(user) if user.is_police else None
    page.goto(f"{base_url}/account/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.locator("button.primary").click()
    if device is not None:
        page.wait_for_url("**/account/2fa/verify/**")
        page.fill("#id_token", otp_code(device))
        with page.expect_navigation():
            page.locator("button.primary").click()
        assert "/account/2fa/" not in page.url, page.locator(".error").all_inner_texts()
    assert "/account/login/" not in page.url, page.locator(".error, .form-errors").all_inner_texts()


def assert_no_horizontal_scroll(page: Page) -> None:
    """Nothing wider than the screen. A phone zooms out to fit wide content, which widens innerWidth
    too, so the content is also held to the device's own width."""
    content, window = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    device = page.viewport_size["width"] if page.viewport_size else window
    assert content <= min(window, device), f"{page.url} scrolls sideways: {content}px of content, {device}px screen"
