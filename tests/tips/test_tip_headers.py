"""Every tip route answers with a strict CSP, no referrer to other sites, no caching and no cookie at all; cross-site
posts are refused without a CSRF cookie."""

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
JSON = "application/json"
CROSS_SITE = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}


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
    "api tip filed": lambda c: c.post("/api/tips/", {"category": "other", "description": "d"}, content_type=JSON),
    "api tip refused": lambda c: c.post("/api/tips/", {"category": "nope"}, content_type=JSON),
    "api form refused": lambda c: c.post("/api/tips/", {"category": "other", "description": "d"}),
    "api thread": lambda c: c.post("/api/tips/thread/", {"number": NUMBER, "codename": CODENAME}, content_type=JSON),
    "api wrong codename": lambda c: c.post(
        "/api/tips/thread/", {"number": NUMBER, "codename": "no"}, content_type=JSON
    ),
    "api reply": lambda c: c.post(
        "/api/tips/messages/", {"number": NUMBER, "codename": CODENAME, "body": "b"}, content_type=JSON
    ),
    "cross-site post": lambda c: c.post("/tips/", {"category": "other", "description": "d"}, headers=CROSS_SITE),
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
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies  # not even a CSRF cookie (issue 11, item 21)


def test_the_rate_limit_page_has_the_privacy_headers(settings) -> None:
    settings.TIP_RATE_PER_HOUR = 0
    response = Client().post("/tips/", {"category": "other", "description": "d"})
    assert response.status_code == 429
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "same-origin"


def test_the_pages_load_nothing_from_other_sites() -> None:
    client = Client()
    for page in (client.get("/tips/"), client.get("/tips/follow-up/")):
        html = page.content.decode()
        # Scripts only from this site, never inline (the CSP would refuse inline ones).
        assert all(src.startswith("/static/") for src in re.findall(r'<script src="([^"]+)"', html))
        assert html.count("<script") == html.count("<script src=")
        for url in re.findall(r'(?:src|href|action)="([^"]*)"', html):
            assert url.startswith(("/", "?", "#")), url


SAME_SITE = {"origin": "https://testserver", "sec-fetch-site": "same-origin"}
OLD_BROWSER = {"origin": "https://testserver"}  # no Sec-Fetch-Site before 2020-2023 browsers


@pytest.mark.parametrize("headers", [SAME_SITE, OLD_BROWSER, {}], ids=["browser", "older browser", "app"])
def test_the_forms_work_without_any_csrf_cookie(headers: dict[str, str]) -> None:
    client = Client(enforce_csrf_checks=True)
    form = client.get("/tips/", secure=True)
    assert not form.cookies and "csrfmiddlewaretoken" not in form.content.decode()
    filed = client.post("/tips/", {"category": "other", "description": "d"}, secure=True, headers=headers)
    assert filed.status_code == 201 and not filed.cookies
    opened = client.post("/tips/follow-up/", {"number": NUMBER, "codename": CODENAME}, secure=True, headers=headers)
    assert opened.status_code == 200 and "csrfmiddlewaretoken" not in opened.content.decode()
    replied = client.post(
        "/tips/follow-up/reply/",
        {"number": NUMBER, "codename": CODENAME, "body": "More."},
        secure=True,
        headers=headers,
    )
    assert replied.status_code == 200 and not replied.cookies


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "null", "sec-fetch-site": "cross-site"},
        {"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        {"origin": "https://evil.example"},  # an older browser: Origin alone
        {"origin": "null"},  # a page elsewhere that sends no referrer, in an older browser
        {"sec-fetch-site": "same-site"},  # a sibling subdomain is another site for tips
    ],
)
@pytest.mark.parametrize(
    "route",
    [
        ("/tips/", {"category": "other", "description": "d"}),
        ("/tips/follow-up/reply/", {"number": NUMBER, "codename": CODENAME, "body": "Planted."}),
        ("/api/tips/", {"category": "other", "description": "d"}),
    ],
    ids=["form", "reply", "api"],
)
def test_a_cross_site_post_is_refused_and_stores_nothing(headers: dict[str, str], route: tuple[str, dict]) -> None:
    path, data = route
    response = Client().post(path, data, secure=True, headers=headers)
    assert response.status_code == 403
    assert Tip.objects.count() == 1 and not Tip.objects.get().messages.exists()


def test_the_api_takes_json_only_so_no_cross_site_form_can_reach_it() -> None:
    # A form or text/plain POST from another site's page needs no preflight; JSON does.
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"):
        response = Client().post("/api/tips/", "category=other&description=d", content_type=content_type)
        assert response.status_code == 415, content_type
    assert Tip.objects.count() == 1


def test_the_police_pages_keep_their_csrf_cookie() -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/account/login/")
    assert page.status_code == 200 and django_settings.CSRF_COOKIE_NAME in page.cookies
    # A browser that holds it sends it to the tip routes too; they neither read nor renew it.
    assert not client.get("/tips/").cookies
