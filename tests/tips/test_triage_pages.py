"""Triage pages under /police/tips/: who may open them, the forms, and the tip counts on the transparency page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from tips.models import Tip


def make_tip(number: str = "T-1", **fields) -> Tip:
    fields.setdefault("category", Tip.Category.THEFT)
    fields.setdefault("description", "A van loads stolen bikes behind the market")
    return Tip.objects.create(number=number, codename_hash="x", **fields)


@pytest.fixture
def tip(db) -> Tip:
    return make_tip(latitude=Decimal("42.331400"), longitude=Decimal("-83.045800"), place_text="Behind Eastern Market")


# ---------------------------------------------------------------- transparency


def test_the_transparency_page_counts_tips_by_category_without_their_content(client, tip):
    make_tip("T-2", category=Tip.Category.DRUGS, description="Dealing on the corner of 7th")
    response = client.get(reverse("community:transparency"))

    (month,) = response.context["report"]["tips_by_month"]
    assert month["total"] == 2
    page = response.content.decode()
    assert "Tips received by month" in page
    for private in ("stolen bikes", "Dealing", "Eastern Market", "T-1", "T-2", "42.3314"):
        assert private not in page
