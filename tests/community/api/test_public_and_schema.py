"""The public transparency report, and the OpenAPI description (signed-in people only, and valid)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from tips.models import Tip

PERSONAS = ("alice", "bob", "charlie", "monitor", "supervisor")


def make_tip(number: str, category: str, *, created_on: date | None = None, **fields) -> Tip:
    fields.setdefault("description", "A van loads stolen bikes behind the market")
    tip = Tip.objects.create(number=number, codename_hash="x", category=category, **fields)
    if created_on is not None:
        # created_on is set on insert (auto_now_add); an update() is how a tip gets an earlier month.
        Tip.objects.filter(pk=tip.pk).update(created_on=created_on)
    return tip


def months_ago(n: int) -> date:
    today = timezone.localdate()
    year, month = divmod(today.year * 12 + today.month - 1 - n, 12)
    return date(year, month + 1, 1)


def tips_per_category(body: dict) -> dict[str, dict[str, int]]:
    """The report's tip counts as {month: {category label: count}}, as a reader of the API would pair them up."""
    labels = body["tip_categories"]
    return {row["month"]: dict(zip(labels, row["counts"], strict=True)) for row in body["tips_by_month"]}


def test_the_transparency_report_is_public_and_counts_without_naming(client, alice_camera, charlie_camera):
    response = client.get("/api/transparency/")

    assert response.status_code == 200
    body = response.json()
    assert (body["partners"], body["cameras_shared"]) == (2, 2)
    assert body["cameras_by_mode"]["Live at any time"] == 2
    text = response.content.decode()
    for private in ("Alice", "alice@", "Main Street", "Woodward", "Front door", "Garage"):
        assert private not in text


def test_the_transparency_report_counts_tips_per_category_and_month(client, db):
    this_month, last_month = months_ago(0).strftime("%Y-%m"), months_ago(1).strftime("%Y-%m")
    make_tip("T-1", Tip.Category.THEFT)
    make_tip("T-2", Tip.Category.THEFT)
    make_tip("T-3", Tip.Category.DRUGS)
    make_tip("T-4", Tip.Category.DRUGS, created_on=months_ago(1))

    body = client.get("/api/transparency/").json()

    assert body["tip_categories"] == [str(label) for label in Tip.Category.labels]
    assert [(row["month"], row["total"]) for row in body["tips_by_month"]] == [
        (this_month, 3),
        (last_month, 1),
    ]
    now, before = tips_per_category(body)[this_month], tips_per_category(body)[last_month]
    theft, drugs = Tip.Category.THEFT.label, Tip.Category.DRUGS.label
    assert (now[theft], now[drugs], sum(now.values())) == (2, 1, 3)
    assert (before[theft], before[drugs], sum(before.values())) == (0, 1, 1)


def test_the_transparency_report_counts_a_merged_duplicate_once(client, db):
    original = make_tip("T-1", Tip.Category.THEFT)
    make_tip("T-2", Tip.Category.THEFT, state=Tip.State.MERGED, merged_into=original)

    body = client.get("/api/transparency/").json()

    (month,) = body["tips_by_month"]
    assert month["total"] == 1
    assert tips_per_category(body)[month["month"]][Tip.Category.THEFT.label] == 1


def test_the_transparency_report_says_nothing_a_tip_says(client, db):
    make_tip(
        "TQ7XK2",
        Tip.Category.VIOLENCE,
        description="Threats shouted at the bakery owner",
        occurred_text="last Tuesday evening",
        place_text="Behind Eastern Market",
        latitude=Decimal("42.331400"),
        longitude=Decimal("-83.045800"),
    )

    response = client.get("/api/transparency/")

    assert response.json()["tips_by_month"][0]["total"] == 1
    text = response.content.decode()
    for private in ("TQ7XK2", "Threats", "bakery", "Tuesday", "Eastern Market", "42.3314", "83.0458"):
        assert private not in text


def test_the_api_description_types_the_tip_counts(client_as):
    schema = client_as("alice").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    report = schema["components"]["schemas"]["TransparencyReport"]["properties"]
    assert report["tip_categories"]["type"] == "array"
    assert report["tip_categories"]["items"]["type"] == "string"
    assert report["tips_by_month"]["type"] == "array"
    assert report["tips_by_month"]["items"]["$ref"] == "#/components/schemas/TransparencyTipMonth"
    assert "newest month first" in report["tips_by_month"]["description"]
    month = schema["components"]["schemas"]["TransparencyTipMonth"]
    assert set(month["required"]) == {"month", "counts", "total"}
    assert month["properties"]["counts"]["items"]["type"] == "integer"
    assert "tip_categories" in month["properties"]["counts"]["description"]
    assert "merged duplicates are counted once" in month["properties"]["total"]["description"]


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
