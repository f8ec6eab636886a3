"""Nothing needs the internet: the API docs load Swagger UI from this site's own static files, and a map with
no tile server (the default) says so on the map and how to set one, instead of a blank grey square."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.urls import reverse

URL_ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
NO_BASE_MAP = "No base map is configured"


def test_the_default_is_no_tile_server() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_MAP_")}
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings"
    environment.setdefault("LANTERN_DEBUG", "true")
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(repr(settings.MAP_TILE_URL))",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    ).stdout.strip()

    assert printed == "''"


@pytest.mark.parametrize("persona", ["monitor", "alice"])
def test_the_api_docs_reference_only_this_sites_static_files(request, client_for, persona) -> None:
    response = client_for(request.getfixturevalue(persona)).get("/api/docs/")
    page = response.content.decode()

    urls = URL_ATTRIBUTE.findall(page)
    assert response.status_code == 200
    # This site's own paths only (Swagger UI's start-up script comes from the docs view itself).
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert f"{settings.STATIC_URL}drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in urls
    assert "cdn" not in page.lower() and "@latest" not in page


def test_the_api_docs_are_for_signed_in_people_only(client) -> None:
    assert client.get("/api/docs/").status_code in (401, 403)


@pytest.fixture
def map_pages(alice, alice_business, monitor) -> dict[str, tuple[object, str]]:
    return {
        "police map": (monitor, reverse("cameras:police_map")),
        "detection search": (monitor, reverse("alerts:detection_search")),
        "site form": (alice, reverse("community:site_create", args=[alice_business.pk])),
    }


@pytest.mark.parametrize("page", ["police map", "detection search", "site form"])
def test_a_map_without_a_tile_server_says_so_and_how_to_set_one(client_for, settings, map_pages, page) -> None:
    settings.MAP_TILE_URL = ""
    user, url = map_pages[page]

    html = client_for(user).get(url).content.decode()

    assert NO_BASE_MAP in html
    assert "LANTERN_MAP_TILE_URL" in html


@pytest.mark.parametrize("page", ["police map", "detection search", "site form"])
def test_a_map_with_a_tile_server_shows_no_such_note(client_for, settings, map_pages, page) -> None:
    settings.MAP_TILE_URL = "/tiles/{z}/{x}/{y}.png"
    user, url = map_pages[page]

    html = client_for(user).get(url).content.decode()

    assert NO_BASE_MAP not in html
