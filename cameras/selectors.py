"""Reads for cameras: who may see which camera, the map's features, and which cameras are due a probe."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from cameras.models import Camera
from community.models import Business, SharingAgreement, User
from community.selectors import AnyUser, business_editable_by, live_allowed_now, owned_business_ids


def cameras_visible_to(user: AnyUser) -> QuerySet[Camera]:
    """Owners see their own cameras; monitors the shared cameras of verified partners; supervisors all submitted."""
    qs = Camera.objects.select_related("site", "business", "agreement")
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    assert isinstance(user, User)
    if user.is_owner:
        return qs.filter(business_id__in=owned_business_ids(user))
    if user.is_supervisor:
        return qs.exclude(business__state=Business.State.DRAFT)
    if user.is_monitor:
        return qs.filter(business__state=Business.State.VERIFIED, agreement__state=SharingAgreement.State.ACTIVE)
    return qs.none()


def camera_viewable_by(*, camera: Camera, user: AnyUser) -> bool:
    return cameras_visible_to(user).filter(pk=camera.pk).exists()


def camera_editable_by(*, camera: Camera, user: AnyUser) -> bool:
    return business_editable_by(business=camera.business, user=user)


def cameras_search(
    *,
    user: AnyUser,
    q: str = "",
    health: str = "",
    mode: str = "",
    placement: str = "",
    business_id: int | None = None,
) -> QuerySet[Camera]:
    qs = cameras_visible_to(user)
    if q:
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(views__icontains=q)
            | Q(site__name__icontains=q)
            | Q(site__address__icontains=q)
            | Q(business__name__icontains=q)
        )
    if health:
        qs = qs.filter(health=health)
    if mode:
        qs = qs.filter(agreement__mode=mode)
    if placement:
        qs = qs.filter(placement=placement)
    if business_id is not None:
        qs = qs.filter(business_id=business_id)
    return qs.order_by("business__name", "name")


def camera_map_features(*, user: AnyUser) -> list[list[Any]]:
    """Compact rows for the map: [id, lat, lng, health, mode, name, site].

    Arrays rather than GeoJSON keep 10,000 cameras to a few hundred kilobytes.
    """
    rows = cameras_visible_to(user).values_list(
        "id", "site__latitude", "site__longitude", "health", "agreement__mode", "name", "site__name"
    )
    return [
        [pk, float(lat), float(lng), health, mode or "", name, site] for pk, lat, lng, health, mode, name, site in rows
    ]


def camera_live_allowed_now(*, camera: Camera) -> bool:
    return camera.business.state == Business.State.VERIFIED and live_allowed_now(
        agreement=camera.agreement, tz_name=camera.site.timezone
    )


def cameras_due_for_probe() -> QuerySet[Camera]:
    """Pull cameras not probed within the probe interval (push cameras report themselves)."""
    cutoff = timezone.now() - timedelta(seconds=settings.PROBE_INTERVAL_S)
    return (
        Camera.objects.filter(source=Camera.Source.PULL)
        .exclude(stream_url_encrypted="")
        .filter(Q(last_probe_at__isnull=True) | Q(last_probe_at__lt=cutoff))
        .exclude(business__state=Business.State.SUSPENDED)
    )


def camera_events(*, camera: Camera, user: AnyUser) -> QuerySet[Any]:
    """The audit events about one camera that this person may read."""
    from community.selectors import audit_events_visible_to

    return audit_events_visible_to(user).filter(camera_id=camera.pk)
