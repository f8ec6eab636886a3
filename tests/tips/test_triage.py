"""Triage services and selectors: the queue's filters, states, assignment, notes, replies, merging and counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from community.models import AuditEvent
from tests.factories import AgencyFactory, OfficerFactory
from tips import triage
from tips.models import Tip, TipAttachment, TipMessage, TipNote


def make_tip(number: str = "T-1", **fields) -> Tip:
    fields.setdefault("category", Tip.Category.THEFT)
    fields.setdefault("description", "A van loads stolen bikes behind the market")
    return Tip.objects.create(number=number, codename_hash="x", **fields)


@pytest.fixture
def tip(db) -> Tip:
    return make_tip(latitude=Decimal("42.331400"), longitude=Decimal("-83.045800"))


# ---------------------------------------------------------------- the queue


def test_the_queue_filters_by_state_category_area_and_attachments(monitor):
    downtown = make_tip("T-1", latitude=Decimal("42.33"), longitude=Decimal("-83.04"))
    drugs = make_tip("T-2", category=Tip.Category.DRUGS, state=Tip.State.TRIAGED)
    far = make_tip("T-3", latitude=Decimal("40.0"), longitude=Decimal("-80.0"))
    merged = make_tip("T-4", state=Tip.State.MERGED, merged_into=downtown)
    TipAttachment.objects.create(tip=far, state=TipAttachment.State.READY, file="tips/a.jpg")
    TipAttachment.objects.create(tip=downtown, state=TipAttachment.State.REFUSED)

    assert set(triage.tips_for_triage(user=monitor)) == {downtown, drugs, far}
    assert list(triage.tips_for_triage(user=monitor, state="new")) == [far, downtown]
    assert list(triage.tips_for_triage(user=monitor, state="merged")) == [merged]
    assert list(triage.tips_for_triage(user=monitor, category="drugs")) == [drugs]
    assert list(triage.tips_for_triage(user=monitor, bbox=(42.0, -84.0, 43.0, -83.0))) == [downtown]
    assert list(triage.tips_for_triage(user=monitor, with_attachments=True)) == [far]


def test_assigned_me_shows_only_the_tips_assigned_to_the_officer_looking(monitor, supervisor):
    mine = make_tip("T-1", assigned_to=monitor)
    sams = make_tip("T-2", assigned_to=supervisor)
    make_tip("T-3")

    assert list(triage.tips_for_triage(user=monitor, assigned="me")) == [mine]
    assert list(triage.tips_for_triage(user=supervisor, assigned="me")) == [sams]


def test_assigned_none_shows_only_the_tips_nobody_has_taken(monitor, supervisor):
    make_tip("T-1", assigned_to=monitor)
    make_tip("T-2", assigned_to=supervisor)
    nobodys = make_tip("T-3")

    assert list(triage.tips_for_triage(user=monitor, assigned="none")) == [nobodys]


def test_the_assignment_filter_works_together_with_the_other_filters(monitor):
    mine = make_tip("T-1", assigned_to=monitor, latitude=Decimal("42.33"), longitude=Decimal("-83.04"))
    mine_drugs = make_tip("T-2", category=Tip.Category.DRUGS, assigned_to=monitor)
    nobodys_drugs = make_tip("T-3", category=Tip.Category.DRUGS)
    mine_closed = make_tip("T-4", state=Tip.State.CLOSED, assigned_to=monitor)
    mine_merged = make_tip("T-5", state=Tip.State.MERGED, merged_into=mine, assigned_to=monitor)
    TipAttachment.objects.create(tip=mine_drugs, state=TipAttachment.State.READY, file="tips/a.jpg")

    # Merged duplicates stay out of "mine" unless asked for by state, as they do from the whole queue.
    assert list(triage.tips_for_triage(user=monitor, assigned="me")) == [mine_closed, mine_drugs, mine]
    assert list(triage.tips_for_triage(user=monitor, assigned="me", category="drugs")) == [mine_drugs]
    assert list(triage.tips_for_triage(user=monitor, assigned="none", category="drugs")) == [nobodys_drugs]
    assert list(triage.tips_for_triage(user=monitor, assigned="me", state="closed")) == [mine_closed]
    assert list(triage.tips_for_triage(user=monitor, assigned="me", state="merged")) == [mine_merged]
    assert list(triage.tips_for_triage(user=monitor, assigned="none", state="closed")) == []
    assert list(triage.tips_for_triage(user=monitor, assigned="me", bbox=(42.0, -84.0, 43.0, -83.0))) == [mine]
    assert list(triage.tips_for_triage(user=monitor, assigned="me", with_attachments=True)) == [mine_drugs]


def test_the_assignment_filter_refuses_a_value_it_does_not_know(monitor, tip):
    with pytest.raises(ValueError):
        triage.tips_for_triage(user=monitor, assigned="everyone")  # type: ignore[arg-type]


def test_the_queue_is_empty_for_owners(alice, tip):
    assert not triage.tips_for_triage(user=alice).exists()


def test_a_tip_is_found_for_police_only(monitor, supervisor, alice, charlie, tip):
    assert triage.tip_for_police(user=monitor, tip_id=tip.pk) == tip
    assert triage.tip_for_police(user=supervisor, tip_id=tip.pk) == tip
    for outsider in (alice, charlie):
        with pytest.raises(Http404):
            triage.tip_for_police(user=outsider, tip_id=tip.pk)
    with pytest.raises(Http404):
        triage.tip_for_police(user=monitor, tip_id=tip.pk + 1000)


# ---------------------------------------------------------------- states and assignment


def test_a_tip_moves_through_its_states_and_each_move_is_audited(monitor, tip):
    triage.tip_transition(tip=tip, by=monitor, state="triaged")
    triage.tip_transition(tip=tip, by=monitor, state="closed")
    tip.refresh_from_db()
    assert tip.state == "closed"
    event = AuditEvent.objects.filter(action="tip.transition").latest("id")
    assert event.details == {"from": "triaged", "to": "closed"}


@pytest.mark.parametrize("state", ["merged", "new", "bogus"])
def test_it_refuses_a_move_the_states_do_not_allow(monitor, tip, state):
    with pytest.raises(ValidationError):
        triage.tip_transition(tip=tip, by=monitor, state=state)
    tip.refresh_from_db()
    assert tip.state == "new"


def test_owners_cannot_write_anything_on_a_tip(alice, monitor, tip):
    other = make_tip("T-2")
    for call in (
        lambda: triage.tip_transition(tip=tip, by=alice, state="triaged"),
        lambda: triage.tip_assign(tip=tip, by=alice, to=monitor),
        lambda: triage.tip_note_add(tip=tip, by=alice, body="x"),
        lambda: triage.tip_reply(tip=tip, by=alice, body="x"),
        lambda: triage.tip_merge(tip=tip, into=other, by=alice),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert not TipMessage.objects.exists() and not TipNote.objects.exists()


def test_a_tip_is_assigned_to_an_officer_of_the_same_agency(monitor, supervisor, tip):
    triage.tip_assign(tip=tip, by=supervisor, to=monitor)
    tip.refresh_from_db()
    assert tip.assigned_to == monitor
    triage.tip_assign(tip=tip, by=supervisor, to=None)
    tip.refresh_from_db()
    assert tip.assigned_to is None


def test_a_tip_is_never_assigned_to_an_owner_or_another_agency(monitor, alice, tip):
    stranger = OfficerFactory(email="other@police.example", agency=AgencyFactory(name="State Police"))
    for to in (alice, stranger):
        with pytest.raises(ValidationError):
            triage.tip_assign(tip=tip, by=monitor, to=to)
    tip.refresh_from_db()
    assert tip.assigned_to is None
    assert not AuditEvent.objects.filter(action="tip.assign").exists()


# ---------------------------------------------------------------- notes and replies


def test_notes_stay_internal_and_replies_reach_the_thread(monitor, tip):
    triage.tip_note_add(tip=tip, by=monitor, body="INTERNAL: plate matches case 24-118")
    reply = triage.tip_reply(tip=tip, by=monitor, body="Thank you, can you say what colour the van was?")

    assert reply.author_kind == TipMessage.Author.POLICE and reply.author == monitor
    # What the tipster can read is the thread, TipMessage, and only the reply is there.
    thread = list(TipMessage.objects.filter(tip=tip).values_list("body", flat=True))
    assert thread == ["Thank you, can you say what colour the van was?"]
    assert not any("INTERNAL" in body for body in TipMessage.objects.values_list("body", flat=True))
    assert TipNote.objects.get(tip=tip).body.startswith("INTERNAL")


def test_audit_events_carry_no_tip_content(monitor, tip):
    triage.tip_note_add(tip=tip, by=monitor, body="secret note words")
    triage.tip_reply(tip=tip, by=monitor, body="secret reply words")
    triage.tip_open(tip=tip, by=monitor)
    events = AuditEvent.objects.filter(action__startswith="tip.")
    assert {e.action for e in events} == {"tip.note", "tip.reply", "tip.view"}
    for event in events:
        text = f"{event.target_label} {event.details}"
        assert "secret" not in text and "van" not in text.lower()


@pytest.mark.parametrize("body", ["", "   ", "x" * 5001])
def test_an_empty_or_overlong_reply_changes_nothing(monitor, tip, body):
    with pytest.raises(ValidationError):
        triage.tip_reply(tip=tip, by=monitor, body=body)
    with pytest.raises(ValidationError):
        triage.tip_note_add(tip=tip, by=monitor, body=body)
    assert not TipMessage.objects.exists() and not TipNote.objects.exists()


def test_opening_a_tip_marks_what_the_tipster_wrote_as_read(monitor, tip):
    assert tip.has_unread_from_citizen
    triage.tip_open(tip=tip, by=monitor)
    tip.refresh_from_db()
    assert not tip.has_unread_from_citizen


# ---------------------------------------------------------------- merging


def test_a_duplicate_is_merged_and_its_thread_stays_readable_from_both_sides(monitor, tip):
    duplicate = make_tip("T-2")
    TipMessage.objects.create(tip=duplicate, author_kind="citizen", body="It was a white van")
    attachment = TipAttachment.objects.create(tip=duplicate, state="ready", file="tips/b.jpg")

    triage.tip_merge(tip=duplicate, into=tip, by=monitor)

    duplicate.refresh_from_db()
    assert (duplicate.state, duplicate.merged_into) == ("merged", tip)
    # The tipster of the duplicate still reads their own thread on their own tip ...
    assert list(TipMessage.objects.filter(tip=duplicate).values_list("body", flat=True)) == ["It was a white van"]
    # ... and police read it, and its attachments, from the surviving tip.
    assert [m.body for m in triage.tip_thread_for_police(tip=tip)] == ["It was a white van"]
    assert triage.tip_attachment_for_police(tip=tip, attachment_id=attachment.pk) == attachment
    assert AuditEvent.objects.get(action="tip.merge").details == {"into": tip.pk}


def test_duplicates_of_a_merged_tip_follow_it(monitor, tip):
    middle, first = make_tip("T-2"), make_tip("T-3")
    triage.tip_merge(tip=first, into=middle, by=monitor)
    triage.tip_merge(tip=middle, into=tip, by=monitor)
    first.refresh_from_db()
    assert first.merged_into == tip


def test_it_refuses_merging_into_itself_or_into_a_merged_tip(monitor, tip):
    other, merged = make_tip("T-2"), make_tip("T-3", state="merged", merged_into=tip)
    for source, into in ((tip, tip), (other, merged), (merged, other)):
        with pytest.raises(ValidationError):
            triage.tip_merge(tip=source, into=into, by=monitor)
    other.refresh_from_db()
    assert other.state == "new" and other.merged_into is None


def test_an_attachment_of_another_tip_is_not_found_through_this_one(monitor, tip):
    other = make_tip("T-2")
    attachment = TipAttachment.objects.create(tip=other, state="ready", file="tips/c.jpg")
    pending = TipAttachment.objects.create(tip=tip, state="pending")
    for attachment_id in (attachment.pk, pending.pk):
        with pytest.raises(Http404):
            triage.tip_attachment_for_police(tip=tip, attachment_id=attachment_id)


# ---------------------------------------------------------------- counts


def test_tips_are_counted_by_category_and_month_without_duplicates(monitor, tip):
    make_tip("T-2")
    make_tip("T-3", category=Tip.Category.DRUGS)
    make_tip("T-4", state="merged", merged_into=tip)

    (month,) = triage.tips_by_category_and_month(months=12)
    counts = dict(zip(Tip.Category.values, month["counts"], strict=True))
    assert (counts["theft"], counts["drugs"], month["total"]) == (2, 1, 3)
