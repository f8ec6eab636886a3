"""The citizens' tips API: filing a tip, reading and adding to one's own thread with the codename; the same
anonymity as the pages; and schemathesis over it (no 5xx, responses as the schema says)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tips.models import Tip, TipMessage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def _file(client: APIClient, **extra: Any) -> dict[str, str]:
    response = client.post("/api/tips/", {"category": "theft", "description": "Bikes taken.", **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_tip_filed_through_the_api_gets_a_number_and_codename() -> None:
    receipt = _file(APIClient(), latitude="42.331427", longitude="-83.045754", coarsen=True)
    assert len(receipt["codename"].split()) == 7
    tip = Tip.objects.get(number=receipt["number"])
    assert tip.place_precision_m == 500 and receipt["codename"] not in tip.codename_hash


def test_the_same_submission_token_files_one_tip() -> None:
    client = APIClient()
    receipt = _file(client, submission="app-drawn-token-1")
    again = client.post(
        "/api/tips/",
        {"category": "theft", "description": "Bikes taken.", "submission": "app-drawn-token-1"},
        format="json",
    )
    assert again.status_code == 409
    assert again.json() == {"detail": "This tip was already sent.", "number": receipt["number"]}
    assert Tip.objects.count() == 1
    _file(client, submission="app-drawn-token-2")  # another token, another tip
    assert Tip.objects.count() == 2


def test_the_codename_reads_and_answers_its_own_thread_only() -> None:
    client = APIClient()
    first, second = _file(client), _file(client, description="Second tip")
    TipMessage.objects.create(tip=Tip.objects.get(number=first["number"]), author_kind="police", body="Which rack?")
    thread = client.post("/api/tips/thread/", first, format="json")
    assert thread.status_code == 200
    assert [(m["author"], m["body"]) for m in thread.json()["messages"]] == [("police", "Which rack?")]
    crossed = {"number": second["number"], "codename": first["codename"]}
    assert client.post("/api/tips/thread/", crossed, format="json").status_code == 404
    assert client.post("/api/tips/messages/", {**crossed, "body": "sneaky"}, format="json").status_code == 404
    answered = client.post("/api/tips/messages/", {**first, "body": "The north one."}, format="json")
    assert answered.status_code == 201
    assert [m["body"] for m in answered.json()["messages"]] == ["Which rack?", "The north one."]


def test_the_api_has_the_privacy_headers_and_sets_no_cookie(alice) -> None:
    client = APIClient()
    client.force_login(alice)  # a logged-in browser's session is neither used nor renewed
    response = client.post("/api/tips/", {"category": "other", "description": "d"}, format="json")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "same-origin"
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    assert not response.cookies


def test_the_api_throttles_guesses(settings) -> None:
    settings.TIP_CODENAME_GUESSES_PER_TIP_PER_HOUR = 2
    client = APIClient()
    receipt = _file(client)
    for _ in range(2):
        client.post("/api/tips/thread/", {"number": receipt["number"], "codename": "x"}, format="json")
    assert client.post("/api/tips/thread/", receipt, format="json").status_code == 429


def _tips_schema() -> dict[str, Any]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    schema["paths"] = {path: item for path, item in schema["paths"].items() if path.startswith("/api/tips/")}
    return schema


def test_the_tips_api_is_in_the_schema() -> None:
    assert set(_tips_schema()["paths"]) == {"/api/tips/", "/api/tips/thread/", "/api/tips/messages/"}


api_schema = schemathesis.openapi.from_dict(_tips_schema())
api_schema.app = get_wsgi_application()


@pytest.fixture
def _wsgi_keeps_the_test_database() -> Iterator[None]:
    # The WSGI handler closes the database connection after each request, as in production; the test's
    # transaction lives on that connection (Django's test client disconnects this too).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@api_schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.usefixtures("_wsgi_keeps_the_test_database")
def test_the_tips_api_never_fails_and_matches_its_schema(case: Any) -> None:
    response = case.call()
    assert response.status_code < 500, response.text
    case.validate_response(
        response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
    )
