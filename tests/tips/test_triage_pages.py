"""Triage pages under /police/tips/: who may open them, the forms, and the tip counts on the transparency page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from community.models import AuditEvent
from tips.models import Tip, TipAttachment, TipMessage, TipNote
from tips.services import tip_create


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


# ---------------------------------------------------------------- who may open the pages

PAGES = ("tip_queue", "tip_detail")
POSTS = ("tip_reply", "tip_note", "tip_state", "tip_assign", "tip_merge")


def url(name: str, tip: Tip) -> str:
    return reverse(f"tip_triage:{name}") if name == "tip_queue" else reverse(f"tip_triage:{name}", args=[tip.pk])


@pytest.mark.parametrize("name", PAGES + POSTS)
def test_anonymous_visitors_are_sent_to_log_in(client, tip, name):
    response = client.post(url(name, tip)) if name in POSTS else client.get(url(name, tip))
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize("persona", ["alice", "bob", "charlie"])
@pytest.mark.parametrize("name", PAGES + POSTS)
def test_owners_get_403_for_every_triage_page(request, client_for, tip, persona, name):
    client = client_for(request.getfixturevalue(persona))
    response = client.post(url(name, tip), {"reply-body": "x"}) if name in POSTS else client.get(url(name, tip))
    assert response.status_code == 403
    assert not TipMessage.objects.exists()


@pytest.mark.parametrize("persona", ["monitor", "supervisor"])
def test_police_open_the_queue_and_the_tip(request, client_for, tip, persona):
    client = client_for(request.getfixturevalue(persona))
    queue = client.get(reverse("tip_triage:tip_queue"))
    assert queue.status_code == 200 and "T-1" in queue.content.decode()
    page = client.get(reverse("tip_triage:tip_detail", args=[tip.pk]))
    assert page.status_code == 200
    assert "stolen bikes" in page.content.decode()


@pytest.mark.parametrize("name", ["tip_detail", *POSTS])
def test_a_tip_that_does_not_exist_is_404(client_for, monitor, tip, name):
    client = client_for(monitor)
    missing = reverse(f"tip_triage:{name}", args=[tip.pk + 1000])
    response = client.post(missing) if name in POSTS else client.get(missing)
    assert response.status_code == 404


def test_the_queue_filters_and_refuses_a_bad_area(client_for, monitor, tip):
    make_tip("T-2", category=Tip.Category.DRUGS)
    client = client_for(monitor)
    page = client.get(reverse("tip_triage:tip_queue"), {"category": "drugs"}).content.decode()
    assert "T-2" in page and "T-1" not in page
    page = client.get(reverse("tip_triage:tip_queue"), {"area": "42,-84,43,-83"}).content.decode()
    assert "T-1" in page and "T-2" not in page
    assert client.get(reverse("tip_triage:tip_queue"), {"area": "north pole"}).status_code == 400


def test_the_queue_shows_my_tips_or_the_unassigned_ones(client_for, monitor, supervisor, tip):
    tip.assigned_to = monitor
    tip.save()
    make_tip("T-2", assigned_to=supervisor)
    make_tip("T-3")
    client = client_for(monitor)

    mine = client.get(reverse("tip_triage:tip_queue"), {"assigned": "me"}).content.decode()
    assert "T-1" in mine and "T-2" not in mine and "T-3" not in mine
    nobodys = client.get(reverse("tip_triage:tip_queue"), {"assigned": "none"}).content.decode()
    assert "T-3" in nobodys and "T-1" not in nobodys and "T-2" not in nobodys
    everyone = client.get(reverse("tip_triage:tip_queue"), {"assigned": ""}).content.decode()
    assert "T-1" in everyone and "T-2" in everyone and "T-3" in everyone


def test_the_assignment_filter_combines_with_the_category_filter(client_for, monitor, tip):
    tip.assigned_to = monitor
    tip.save()
    make_tip("T-2", category=Tip.Category.DRUGS, assigned_to=monitor)
    make_tip("T-3", category=Tip.Category.DRUGS)
    client = client_for(monitor)

    page = client.get(reverse("tip_triage:tip_queue"), {"assigned": "me", "category": "drugs"}).content.decode()
    assert "T-2" in page and "T-1" not in page and "T-3" not in page
    page = client.get(reverse("tip_triage:tip_queue"), {"assigned": "none", "category": "theft"}).content.decode()
    assert "No tips match these filters." in page


def test_the_assignment_filter_has_a_label_and_keeps_its_choice(client_for, monitor, tip):
    page = client_for(monitor).get(reverse("tip_triage:tip_queue"), {"assigned": "none"}).content.decode()
    assert '<label for="id_assigned">Assigned to</label>' in page
    assert '<option value="none" selected>Nobody yet</option>' in page


def test_an_unknown_assignment_filter_is_400_with_a_message(client_for, monitor, tip):
    response = client_for(monitor).get(reverse("tip_triage:tip_queue"), {"assigned": "everyone"})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert "T-1" not in response.content.decode()


# ---------------------------------------------------------------- the forms


def test_a_reply_goes_to_the_thread_and_a_note_does_not(client_for, monitor, tip):
    client = client_for(monitor)
    reply = client.post(reverse("tip_triage:tip_reply", args=[tip.pk]), {"reply-body": "What colour was the van?"})
    note = client.post(reverse("tip_triage:tip_note", args=[tip.pk]), {"note-body": "INTERNAL matches case 24-118"})
    assert reply.status_code == note.status_code == 302
    thread = list(TipMessage.objects.filter(tip=tip).values_list("author_kind", "body"))
    assert thread == [("police", "What colour was the van?")]
    assert TipNote.objects.get(tip=tip).body == "INTERNAL matches case 24-118"


def test_an_empty_reply_is_400_and_changes_nothing(client_for, monitor, tip):
    response = client_for(monitor).post(reverse("tip_triage:tip_reply", args=[tip.pk]), {"reply-body": "  "})
    assert response.status_code == 400
    assert not TipMessage.objects.exists()


def test_states_move_by_the_form_and_a_bad_state_is_400(client_for, monitor, tip):
    client = client_for(monitor)
    assert client.post(reverse("tip_triage:tip_state", args=[tip.pk]), {"state": "triaged"}).status_code == 302
    assert client.post(reverse("tip_triage:tip_state", args=[tip.pk]), {"state": "merged"}).status_code == 400
    assert client.post(reverse("tip_triage:tip_state", args=[tip.pk]), {"state": "nonsense"}).status_code == 400
    tip.refresh_from_db()
    assert tip.state == "triaged"


def test_assignment_is_offered_only_to_police_of_the_agency(client_for, supervisor, monitor, alice, tip):
    client = client_for(supervisor)
    assert client.post(reverse("tip_triage:tip_assign", args=[tip.pk]), {"to": alice.pk}).status_code == 400
    tip.refresh_from_db()
    assert tip.assigned_to is None
    assert client.post(reverse("tip_triage:tip_assign", args=[tip.pk]), {"to": monitor.pk}).status_code == 302
    tip.refresh_from_db()
    assert tip.assigned_to == monitor


def test_a_duplicate_is_merged_by_number(client_for, monitor, tip):
    duplicate = make_tip("T-2")
    TipMessage.objects.create(tip=duplicate, author_kind="citizen", body="It was a white van")
    client = client_for(monitor)
    assert client.post(reverse("tip_triage:tip_merge", args=[duplicate.pk]), {"into": "T-404"}).status_code == 400
    response = client.post(reverse("tip_triage:tip_merge", args=[duplicate.pk]), {"into": "T-1"})
    assert response.status_code == 302
    duplicate.refresh_from_db()
    assert (duplicate.state, duplicate.merged_into) == ("merged", tip)
    assert "It was a white van" in client.get(reverse("tip_triage:tip_detail", args=[tip.pk])).content.decode()


def test_the_tip_page_lists_shared_cameras_near_its_place(client_for, monitor, alice_camera):
    site = alice_camera.site
    near = make_tip("T-9", latitude=site.latitude, longitude=site.longitude)
    page = client_for(monitor).get(reverse("tip_triage:tip_detail", args=[near.pk])).content.decode()
    assert "Front door" in page
    assert f"/police/wall/?add={alice_camera.pk}" in page
    assert f"/police/wall/?place={site.latitude},{site.longitude}" in page


# ---------------------------------------------------------------- attachments


def test_attachments_are_served_to_police_only_through_their_tip(client_for, monitor, alice, tip, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    other = make_tip("T-2")
    attachment = TipAttachment.objects.create(tip=tip, state="ready", content_type="image/jpeg", kind="image")
    attachment.file.save("scrubbed.jpg", ContentFile(b"\xff\xd8\xff jpeg bytes"))
    mine = reverse("tip_triage:tip_attachment", args=[tip.pk, attachment.pk])
    through_other = reverse("tip_triage:tip_attachment", args=[other.pk, attachment.pk])

    response = client_for(monitor).get(mine)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\xff\xd8")
    assert client_for(monitor).get(through_other).status_code == 404
    assert client_for(alice).get(mine).status_code == 403
    assert AuditEvent.objects.filter(action="tip.attachment_view").count() == 1


# ---------------------------------------------------------------- what the tipster reads


def test_the_tipster_reads_the_reply_but_never_the_note_nor_who_wrote(client, client_for, monitor, db):
    receipt = tip_create(category="theft", description="Bikes loaded into a van")
    duplicate = tip_create(category="theft", description="Same van again")
    police = client_for(monitor)
    police.post(reverse("tip_triage:tip_reply", args=[receipt.tip.pk]), {"reply-body": "Which street was it?"})
    police.post(reverse("tip_triage:tip_note", args=[receipt.tip.pk]), {"note-body": "INTERNAL suspect known"})
    police.post(reverse("tip_triage:tip_merge", args=[duplicate.tip.pk]), {"into": receipt.tip.number})

    page = client.post(reverse("tips:open"), {"number": receipt.tip.number, "codename": receipt.codename})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Which street was it?" in text
    assert "INTERNAL" not in text and "Monica" not in text and "monica@" not in text
    # The tipster of the merged duplicate still reaches their own tip.
    again = client.post(reverse("tips:open"), {"number": duplicate.tip.number, "codename": duplicate.codename})
    assert again.status_code == 200 and "Same van again" in again.content.decode()


def test_the_tip_page_says_when_in_the_agencys_time_zone(settings, client_for, monitor):
    from datetime import UTC, datetime

    settings.AGENCY_TIME_ZONE = "America/Detroit"
    tip = make_tip(occurred_at=datetime(2026, 7, 5, 1, 30, tzinfo=UTC))
    page = client_for(monitor).get(reverse("tip_triage:tip_detail", args=[tip.pk])).content.decode()
    assert "2026-07-04 21:30 EDT" in page
