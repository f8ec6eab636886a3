"""Owner, police and admin pages carry a Content-Security-Policy without inline script; the tip portal keeps its own."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tips.middleware import TIP_CONTENT_SECURITY_POLICY


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.partition(" ")[2] for part in (p.strip() for p in policy.split(";")) if part}


@pytest.mark.parametrize(
    ("persona", "url"),
    [
        ("alice", "/portal/"),
        ("alice", "/portal/access-log/"),
        ("monitor", "/police/map/"),
        ("monitor", "/police/wall/"),
        ("supervisor", "/police/partners/"),
        ("supervisor", "/admin/"),
        (None, "/account/login/"),
    ],
)
def test_pages_carry_a_policy_without_inline_script(request, client_for, persona, url):
    client = client_for(request.getfixturevalue(persona) if persona else None)
    response = client.get(url)
    assert response.status_code == 200
    policy = directives(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]


def test_the_map_tiles_and_the_object_store_are_allowed_by_origin(client_for, monitor, settings):
    settings.MAP_TILE_URL = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    settings.S3_PUBLIC_ENDPOINT_URL = "https://media.example.org"
    policy = directives(client_for(monitor).get("/police/map/"))
    assert "https://*.tiles.example.org" in policy["img-src"].split()
    assert "https://media.example.org" in policy["media-src"].split()
    assert "https://media.example.org" in policy["connect-src"].split()


def test_the_tip_portal_keeps_its_own_policy(client):
    response = client.get(reverse("tips:new"))
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == TIP_CONTENT_SECURITY_POLICY


def test_the_api_docs_page_has_no_inline_script(client_for, alice):
    page = client_for(alice).get("/api/docs/").content.decode()
    assert "<script>" not in page.replace(" ", "")
