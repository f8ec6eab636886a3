"""Owner, police and admin pages run under the Content-Security-Policy in Chromium without a single violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from community.models import User
from tests.browser.browsing import DESKTOP, log_in_through_form
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("no_tiles")

# Every violation the page reports (blocked inline scripts and styles, blocked sources), kept for the test.
RECORD_VIOLATIONS = """(() => {
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", e => {
    const where = `${e.sourceFile}:${e.lineNumber}`;
    window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
  });
})();"""


def visit_all(page: Page, base_url: str, paths: list[str], console: list[str]) -> list[str]:
    problems = []
    for path in paths:
        response = page.goto(f"{base_url}{path}", wait_until="load")
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        policy = response.headers.get("content-security-policy", "")
        if "script-src 'self'" not in policy or "unsafe-inline" in policy:
            problems.append(f"{path}: policy {policy!r}")
        page.wait_for_function("() => document.readyState === 'complete'")
        problems += [f"{path}: {v}" for v in page.evaluate("window.__cspViolations")]
    problems += [line for line in console if "Content Security Policy" in line]
    return problems


def open_as(open_context, user: User, base_url: str) -> tuple[Page, list[str]]:
    context, page, _ = open_context(**DESKTOP)
    context.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    log_in_through_form(page, base_url, email=user.email, password=PASSWORD)
    return page, console


def test_owner_police_and_admin_pages_work_under_the_policy(
    asgi_server, open_context, alice: User, alice_camera, monitor: User, supervisor: User
):
    page, console = open_as(open_context, alice, asgi_server.url)
    owner_paths = ["/portal/", f"/portal/cameras/{alice_camera.pk}/", "/portal/access-log/", "/alerts/"]
    problems = visit_all(page, asgi_server.url, owner_paths, console)

    page, console = open_as(open_context, monitor, asgi_server.url)
    police_paths = ["/police/map/", "/police/wall/", "/alerts/", "/search/"]
    problems += visit_all(page, asgi_server.url, police_paths, console)

    page, console = open_as(open_context, supervisor, asgi_server.url)
    admin_paths = ["/admin/", "/admin/community/auditevent/", f"/admin/cameras/camera/{alice_camera.pk}/change/"]
    problems += visit_all(page, asgi_server.url, admin_paths, console)

    assert problems == []
