"""Every tip route answers with a strict CSP, no referrer, no caching and no session or tracking cookie."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client

from tips.models import Tip
from tips.services import codename_hash

pytestmark = pytest.mark.django_db

NUMBER, CODENAME = "ABCD-EFGH", "alpha bravo charlie delta echo foxtrot golf"


@pytest.fixture(autouse=True)
def _tip_and_fresh_cache() -> None:
    cache.clear()
    Tip.objects.create(number=NUMBER, category="other", description="d", codename_hash=codename_hash(CODENAME))


ROUTES: dict[str, Callable[[Client], HttpResponse]] = {
    "form": lambda c: c.get("/tips/"),
    "form in Spanish": lambda c: c.get("/tips/?lang=es"),
    "tip filed": lambda c: c.post("/tips/", {"category": "other", "description": "d"}),
    "tip refused": lambda c: c.post("/tips/", {"category": "nope"}),
    "follow-up form": lambda c: c.get("/tips/follow-up/"),
    "thread": lambda c: c.post("/tips/follow-up/", {"number": NUMBER, "codename": CODENAME}),
    "wrong codename": lambda c: c.post("/tips/follow-up/", {"number": NUMBER, "codename": "no"}),
    "reply": lambda c: c.post("/tips/follow-up/reply/", {"number": NUMBER, "codename": CODENAME, "body": "b"}),
    "reply refused": lambda c: c.post("/tips/follow-up/reply/", {"number": NUMBER, "codename": "no", "body": "b"}),
    "not found": lambda c: c.get("/tips/nothing-here/"),
    "wrong method": lambda c: c.delete("/tips/"),
    "api tip filed": lambda c: c.post("/api/tips/", {"category": "other", "description": "d"}),
    "api tip refused": lambda c: c.post("/api/tips/", {"category": "nope"}),
    "api thread": lambda c: c.post("/api/tips/thread/", {"number": NUMBER, "codename": CODENAME}),
    "api wrong codename": lambda c: c.post("/api/tips/thread/", {"number": NUMBER, "codename": "no"}),
    "api reply": lambda c: c.post("/api/tips/messages/", {"number": NUMBER, "codename": CODENAME, "body": "b"}),
    "api wrong method": lambda c: c.get("/api/tips/"),
}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("who", ["anonymous", "logged-in owner"])
def test_every_tip_route_has_the_privacy_headers(route: str, who: str, client_for, alice) -> None:
    client = client_for(None) if who == "anonymous" else client_for(alice)
    response = ROUTES[route](client)
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    assert "form-action 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"
    assert set(response.cookies) <= {django_settings.CSRF_COOKIE_NAME}
    if django_settings.CSRF_COOKIE_NAME in response.cookies:
        assert response.cookies[django_settings.CSRF_COOKIE_NAME]["samesite"] == "Strict"


def test_the_rate_limit_page_has_the_privacy_headers(settings) -> None:
    settings.TIP_RATE_PER_HOUR = 0
    response = Client().post("/tips/", {"category": "other", "description": "d"})
    assert response.status_code == 429
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "no-referrer"


def test_the_pages_load_nothing_from_other_sites() -> None:
    client = Client()
    for page in (client.get("/tips/"), client.get("/tips/follow-up/")):
        html = page.content.decode()
        # Scripts only from this site, never inline (the CSP would refuse inline ones).
        assert all(src.startswith("/static/") for src in re.findall(r'<script src="([^"]+)"', html))
        assert html.count("<script") == html.count("<script src=")
        for url in re.findall(r'(?:src|href|action)="([^"]*)"', html):
            assert url.startswith(("/", "?", "#")), url


def test_a_phone_can_post_the_form_with_csrf_but_no_referrer() -> None:
    # Browsers send `Origin: null` and no Referer under `Referrer-Policy: no-referrer`.
    client = Client(enforce_csrf_checks=True)
    form = client.get("/tips/", secure=True)
    token = form.cookies[django_settings.CSRF_COOKIE_NAME].value
    response = client.post(
        "/tips/",
        {"category": "other", "description": "d", "csrfmiddlewaretoken": token},
        secure=True,
        headers={"origin": "null", "sec-fetch-site": "same-origin"},
    )
    assert response.status_code == 201
    assert "sessionid" not in response.cookies


def test_a_cross_site_post_is_refused() -> None:
    client = Client(enforce_csrf_checks=True)
    token = client.get("/tips/", secure=True).cookies[django_settings.CSRF_COOKIE_NAME].value
    for headers in ({"origin": "null", "sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}):
        response = client.post(
            "/tips/",
            {"category": "other", "description": "d", "csrfmiddlewaretoken": token},
            secure=True,
            headers=headers,
        )
        assert response.status_code == 403
    assert Tip.objects.count() == 1
