"""Police triage of tips: the queue and its filters, states, assignment, internal notes, replies, merging, counts.

Audit events name the tip (its number) and who acted, never what the tip or a message says.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils import timezone

from community.models import User
from community.selectors import AnyUser
from community.services import audit_record
from tips.models import Tip, TipAttachment, TipMessage, TipNote

# Where a tip may go from where it is; "merged" is reached only through tip_merge, and a merged tip stays merged.
_TRANSITIONS: dict[str, set[str]] = {
    Tip.State.NEW: {Tip.State.TRIAGED, Tip.State.INVESTIGATING, Tip.State.CLOSED},
    Tip.State.TRIAGED: {Tip.State.INVESTIGATING, Tip.State.CLOSED},
    Tip.State.INVESTIGATING: {Tip.State.TRIAGED, Tip.State.CLOSED},
    Tip.State.CLOSED: {Tip.State.INVESTIGATING},
    Tip.State.MERGED: set(),
}


# The queue's assignment filter: tips assigned to the officer looking, or to nobody yet.
Assigned = Literal["me", "none"]


def _require_police(user: User) -> None:
    if not user.is_active or not user.is_police:
        raise PermissionDenied("Only police monitors triage tips.")


# ---------------------------------------------------------------- reads


def tips_for_triage(
    *,
    user: AnyUser,
    state: str | None = None,
    category: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    with_attachments: bool = False,
    assigned: Assigned | None = None,
) -> QuerySet[Tip]:
    """The queue: tips by state (merged ones only when asked for), category, map area (south, west, north, east),
    whether they carry a ready attachment, and whom they are assigned to ("me": the user, "none": nobody);
    newest first."""
    if not getattr(user, "is_police", False):
        return Tip.objects.none()
    tips = Tip.objects.select_related("assigned_to").annotate(
        ready_attachments=Count("attachments", filter=Q(attachments__state=TipAttachment.State.READY))
    )
    tips = tips.filter(state=state) if state else tips.exclude(state=Tip.State.MERGED)
    if category:
        tips = tips.filter(category=category)
    if bbox is not None:
        south, west, north, east = bbox
        tips = tips.filter(latitude__range=(south, north), longitude__range=(west, east))
    if with_attachments:
        ready = TipAttachment.objects.filter(tip=OuterRef("pk"), state=TipAttachment.State.READY)
        tips = tips.filter(Exists(ready))
    if assigned == "me":
        tips = tips.filter(assigned_to_id=user.pk)
    elif assigned == "none":
        tips = tips.filter(assigned_to__isnull=True)
    elif assigned is not None:
        # Callers validate what people type; anything else here is our bug, not an empty queue to show.
        raise ValueError(f"assigned must be 'me', 'none' or None, not {assigned!r}")
    return tips.order_by("-created_on", "-id")


def tip_for_police(*, user: AnyUser, tip_id: int) -> Tip:
    """One tip for a police officer, or 404 (for anyone else, too)."""
    if not getattr(user, "is_police", False):
        raise Http404
    tip = Tip.objects.select_related("assigned_to", "merged_into").filter(pk=tip_id).first()
    if tip is None:
        raise Http404
    return tip


def tip_by_number_for_police(*, user: AnyUser, number: str) -> Tip | None:
    """The tip with this number (as officers quote it), for police only."""
    if not getattr(user, "is_police", False):
        return None
    return Tip.objects.filter(number=number.strip()).first()


def tip_family(*, tip: Tip) -> list[Tip]:
    """The tip and the duplicates merged into it, whose threads and attachments police read along with it."""
    return [tip, *Tip.objects.filter(merged_into=tip).order_by("id")]


def tip_thread_for_police(*, tip: Tip) -> QuerySet[TipMessage]:
    return (
        TipMessage.objects.filter(tip__in=tip_family(tip=tip))
        .select_related("tip", "author")
        .order_by("created_at", "id")
    )


def tip_attachments_for_police(*, tip: Tip) -> QuerySet[TipAttachment]:
    return (
        TipAttachment.objects.filter(tip__in=tip_family(tip=tip)).select_related("tip").order_by("tip_id", "position")
    )


def tip_attachment_for_police(*, tip: Tip, attachment_id: int) -> TipAttachment:
    """A ready attachment of the tip (or of a duplicate merged into it), or 404."""
    attachment = (
        TipAttachment.objects.filter(pk=attachment_id, tip__in=tip_family(tip=tip), state=TipAttachment.State.READY)
        .exclude(file="")
        .first()
    )
    if attachment is None:
        raise Http404
    return attachment


def tip_next_states(*, tip: Tip) -> list[str]:
    return [state for state in Tip.State.values if state in _TRANSITIONS[Tip.State(tip.state)]]


def tip_assignees(*, by: User) -> QuerySet[User]:
    """Whom this officer may assign a tip to: active police of their own agency."""
    if not by.is_police or by.agency_id is None:
        return User.objects.none()
    return User.objects.police().filter(agency_id=by.agency_id, is_active=True).order_by("full_name", "email")


def tips_by_category_and_month(*, months: int) -> list[dict[str, Any]]:
    """Tips received per month and category over the last `months` months, newest month first: counts only.

    Duplicates merged into another tip are not counted twice."""
    today = timezone.localdate()
    first = date(today.year, today.month, 1)
    for _ in range(max(months, 1) - 1):
        first = date(first.year - 1, 12, 1) if first.month == 1 else date(first.year, first.month - 1, 1)
    rows = (
        Tip.objects.filter(created_on__gte=first)
        .exclude(state=Tip.State.MERGED)
        .annotate(month=TruncMonth("created_on"))
        .values("month", "category")
        .annotate(n=Count("id"))
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["month"].strftime("%Y-%m"), {})[row["category"]] = row["n"]
    return [
        {
            "month": month,
            "counts": [by_category.get(value, 0) for value in Tip.Category.values],
            "total": sum(by_category.values()),
        }
        for month, by_category in sorted(counts.items(), reverse=True)
    ]


# ---------------------------------------------------------------- writes


def tip_open(*, tip: Tip, by: User) -> Tip:
    """An officer reads a tip: the access is traced, and what the tipster wrote since counts as read."""
    _require_police(by)
    audit_record(actor=by, action="tip.view", target=tip)
    if tip.has_unread_from_citizen:
        Tip.objects.filter(pk=tip.pk).update(has_unread_from_citizen=False)
        tip.has_unread_from_citizen = False
    return tip


@transaction.atomic
def tip_transition(*, tip: Tip, by: User, state: str) -> Tip:
    _require_police(by)
    if state not in Tip.State.values:
        raise ValidationError({"state": "Choose a state."})
    current, target = Tip.State(tip.state), Tip.State(state)
    if target not in _TRANSITIONS[current]:
        raise ValidationError({"state": f"A tip that is {current.label.lower()} cannot become {target.label.lower()}."})
    tip.state = target
    tip.save(update_fields=["state", "updated_at"])
    audit_record(actor=by, action="tip.transition", target=tip, details={"from": current.value, "to": target.value})
    return tip


@transaction.atomic
def tip_assign(*, tip: Tip, by: User, to: User | None) -> Tip:
    """Give the tip to an officer of the same agency, or to nobody (None)."""
    _require_police(by)
    if to is not None and not tip_assignees(by=by).filter(pk=to.pk).exists():
        raise ValidationError({"to": "Tips are assigned only to police officers of your agency."})
    tip.assigned_to = to
    tip.save(update_fields=["assigned_to", "updated_at"])
    audit_record(actor=by, action="tip.assign", target=tip, details={"to": to.pk if to is not None else None})
    return tip


def _clean_body(body: str, *, field: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationError({field: "Write something first."})
    if len(body) > 5000:
        raise ValidationError({field: "Keep it under 5000 characters."})
    return body


@transaction.atomic
def tip_note_add(*, tip: Tip, by: User, body: str) -> TipNote:
    """An internal note: police only, never part of the thread the tipster reads."""
    _require_police(by)
    note = TipNote.objects.create(tip=tip, author=by, body=_clean_body(body, field="body"))
    audit_record(actor=by, action="tip.note", target=tip)
    return note


@transaction.atomic
def tip_reply(*, tip: Tip, by: User, body: str) -> TipMessage:
    """A reply in the anonymous thread: the tipster reads it when they come back with their codename."""
    _require_police(by)
    message = TipMessage.objects.create(
        tip=tip, author_kind=TipMessage.Author.POLICE, author=by, body=_clean_body(body, field="body")
    )
    audit_record(actor=by, action="tip.reply", target=tip)
    return message


@transaction.atomic
def tip_merge(*, tip: Tip, into: Tip, by: User) -> Tip:
    """Mark `tip` a duplicate of `into`. Its thread and attachments stay on it, so its tipster still reads their own
    thread, and police read them from the surviving tip; duplicates of `tip` move to `into`."""
    _require_police(by)
    if tip.pk == into.pk:
        raise ValidationError({"into": "A tip cannot be merged into itself."})
    if tip.state == Tip.State.MERGED:
        raise ValidationError({"into": "This tip is already merged into another one."})
    if into.state == Tip.State.MERGED:
        raise ValidationError({"into": "That tip is itself merged; merge into the tip it was merged into."})
    Tip.objects.filter(merged_into=tip).update(merged_into=into)
    tip.state = Tip.State.MERGED
    tip.merged_into = into
    tip.save(update_fields=["state", "merged_into", "updated_at"])
    audit_record(actor=by, action="tip.merge", target=tip, details={"into": into.pk})
    return tip


def tip_attachment_view_record(*, attachment: TipAttachment, by: User) -> None:
    _require_police(by)
    audit_record(actor=by, action="tip.attachment_view", target=attachment.tip, details={"attachment": attachment.pk})
