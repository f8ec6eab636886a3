"""Reads for people and partners: who may see which business, site, agreement and audit event."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from community.models import WEEKDAYS, AuditEvent, Business, SharingAgreement, Site, User

AnyUser = User | AnonymousUser


def _police(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_police", False))


def businesses_visible_to(user: AnyUser) -> QuerySet[Business]:
    """Owners see their own; monitors see verified partners; supervisors every submitted partner."""
    qs = Business.objects.select_related("owner")
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    assert isinstance(user, User)
    if user.is_owner:
        return qs.filter(pk__in=owned_business_ids(user))
    if user.is_supervisor:
        return qs.exclude(state=Business.State.DRAFT)
    if user.is_monitor:
        return qs.filter(state=Business.State.VERIFIED)
    return qs.none()


def sites_visible_to(user: AnyUser) -> QuerySet[Site]:
    return Site.objects.select_related("business").filter(business__in=businesses_visible_to(user))


def agreements_visible_to(user: AnyUser) -> QuerySet[SharingAgreement]:
    qs = SharingAgreement.objects.select_related("business").filter(business__in=businesses_visible_to(user))
    if user.is_authenticated and getattr(user, "is_monitor", False):
        qs = qs.filter(state=SharingAgreement.State.ACTIVE)
    return qs


def owned_business_ids(user: User) -> QuerySet[Business, Any]:
    """Ids of the businesses a person owns or is staff of, as a subquery."""
    return Business.objects.filter(Q(owner=user) | Q(staff=user)).values("id")


def business_editable_by(*, business: Business, user: AnyUser) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (business.owner_id == user.pk or business.staff.filter(pk=user.pk).exists())
    )


def audit_events_visible_to(user: AnyUser) -> QuerySet[AuditEvent]:
    """Supervisors read the whole trail; owners the events touching their businesses and cameras."""
    qs = AuditEvent.objects.select_related("actor")
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    assert isinstance(user, User)
    if user.is_supervisor:
        return qs
    if user.is_owner:
        return qs.filter(business_id__in=owned_business_ids(user))
    return qs.none()


def audit_events_search(
    *,
    user: AnyUser,
    q: str = "",
    action: str = "",
    camera_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    qs = audit_events_visible_to(user)
    if q:
        qs = qs.filter(actor_label__icontains=q) | qs.filter(target_label__icontains=q)
    if action:
        qs = qs.filter(action__startswith=action)
    if camera_id is not None:
        qs = qs.filter(camera_id=camera_id)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-created_at", "-id")


def officers_of(*, supervisor: User) -> QuerySet[User]:
    if not supervisor.is_supervisor or supervisor.agency_id is None:
        return User.objects.none()
    return User.objects.police().filter(agency_id=supervisor.agency_id).order_by("full_name")


def live_allowed_now(
    *,
    agreement: SharingAgreement | None,
    tz_name: str,
    at: datetime | None = None,
    alarm_until: datetime | None = None,
) -> bool:
    """Whether the terms allow live viewing at `at`: always, inside a weekly window read in the site's
    time zone, or while an alarm the owner's system raised is open. Registry-only never does."""
    if agreement is None or agreement.state != SharingAgreement.State.ACTIVE:
        return False
    at = at or timezone.now()
    if agreement.mode == SharingAgreement.Mode.ALWAYS:
        return True
    if agreement.mode == SharingAgreement.Mode.ALARM:
        return alarm_until is not None and at < alarm_until
    if agreement.mode != SharingAgreement.Mode.SCHEDULE:
        return False
    return schedule_contains(schedule=agreement.schedule, local=at.astimezone(ZoneInfo(tz_name)))


def schedule_contains(*, schedule: dict[str, list[list[str]]], local: datetime) -> bool:
    """True when the local wall-clock time falls in a window; windows ending before they start run past midnight."""
    now = local.time()
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    for start_s, end_s in schedule.get(today, []):
        start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
        if (start < end and start <= now < end) or (start > end and now >= start):
            return True
    for start_s, end_s in schedule.get(yesterday, []):
        start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
        if start > end and now < end:
            return True
    return False


def transparency_report(*, months: int = 12) -> dict[str, Any]:
    """Public aggregates only: counts per month and now, never a name or an address."""
    from cameras.models import Camera
    from tips.models import Tip
    from tips.triage import tips_by_category_and_month

    since = (timezone.now() - timedelta(days=31 * months)).replace(day=1, hour=0, minute=0, second=0)
    monthly: dict[str, Counter[str]] = {}
    rows = (
        AuditEvent.objects.filter(
            created_at__gte=since,
            action__in=["partner.verify", "partner.suspend", "agreement.revoke", "agreement.create", "camera.create"],
        )
        .annotate(month=TruncMonth("created_at"))
        .values("month", "action")
        .annotate(n=Count("id"))
    )
    for row in rows:
        monthly.setdefault(row["month"].strftime("%Y-%m"), Counter())[row["action"]] += row["n"]
    shared = Camera.objects.filter(
        business__state=Business.State.VERIFIED, agreement__state=SharingAgreement.State.ACTIVE
    )
    by_mode = Counter(
        dict(shared.values_list("agreement__mode").annotate(n=Count("id")).values_list("agreement__mode", "n"))
    )
    return {
        "generated_at": timezone.now(),
        "partners": Business.objects.filter(state=Business.State.VERIFIED).count(),
        "cameras_by_mode": {mode.label: by_mode.get(mode.value, 0) for mode in SharingAgreement.Mode},
        "cameras_shared": sum(by_mode.values()),
        "months": [
            {
                "month": month,
                "verifications": counts["partner.verify"],
                "suspensions": counts["partner.suspend"],
                "revocations": counts["agreement.revoke"],
                "agreements": counts["agreement.create"],
                "cameras_enrolled": counts["camera.create"],
            }
            for month, counts in sorted(monthly.items(), reverse=True)
        ],
        "tip_categories": [str(label) for label in Tip.Category.labels],
        "tips_by_month": tips_by_category_and_month(months=months),
    }


def public_sites() -> QuerySet[Site]:
    return Site.objects.filter(listed_publicly=True, business__state=Business.State.VERIFIED).select_related("business")
