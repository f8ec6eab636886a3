"""The public transparency report, and the OpenAPI description (signed-in people only, and valid)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

PERSONAS = ("alice", "bob", "charlie", "monitor", "supervisor")


def test_the_transparency_report_is_public_and_counts_without_naming(client, alice_camera, charlie_camera):
    response = client.get("/api/transparency/")

    assert response.status_code == 200
    body = response.json()
    assert (body["partners"], body["cameras_shared"]) == (2, 2)
    assert body["cameras_by_mode"]["Live at any time"] == 2
    text = response.content.decode()
    for private in ("Alice", "alice@", "Main Street", "Woodward", "Front door", "Garage"):
        assert private not in text


def test_the_transparency_report_ignores_a_bad_token(client, db):
    assert client.get("/api/transparency/", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 200


def test_the_api_description_is_for_signed_in_people_only(client_as):
    assert client_as("anonymous").get("/api/schema/").status_code == 401
    assert client_as("anonymous").get("/api/docs/").status_code == 401


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_signed_in_persona_reads_the_api_description(client_as, persona):
    response = client_as(persona).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/cameras/{id}/snapshot/" in paths
    assert "/api/auth/token/" in paths


def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    text = out.read_text()
    assert "stream_url_encrypted" not in text
    assert "stream_password" in text
