"""Reads for cameras: who may see which camera, the map's features, and which cameras are due a probe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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


def camera_live_allowed_now(*, camera: Camera, at: datetime | None = None) -> bool:
    return camera.business.state == Business.State.VERIFIED and live_allowed_now(
        agreement=camera.agreement, tz_name=camera.site.timezone, at=at, alarm_until=camera.alarm_until
    )


@dataclass(frozen=True)
class LiveDecision:
    """May this person watch this camera live now? `status` is the HTTP answer when not."""

    status: int
    message: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 201


LIVE_OK = LiveDecision(201)


def live_decision(*, camera: Camera, user: AnyUser, at: datetime | None = None) -> LiveDecision:
    """The WHEP endpoint's checks, in the order a viewer needs them: who, when, then whether it can play.

    Owners and their staff may always watch their own cameras; police only within the owner's terms.
    """
    consent = live_consent(camera=camera, user=user, at=at)
    if not consent.allowed:
        return consent
    if camera.source != Camera.Source.PULL:
        return LiveDecision(409, "This camera pushes its video; live view of push cameras is not available yet.")
    if not camera.relayable:
        return LiveDecision(
            409, f"{camera.codec.upper()} is not supported for live view; the camera must send H.264."
        )
    if camera.health == Camera.Health.OFFLINE:
        return LiveDecision(409, f"The camera is offline: {camera.health_message or 'it did not answer'}")
    if live_sessions_open_count(user=user) >= settings.LIVE_MAX_SESSIONS_PER_VIEWER:
        return LiveDecision(
            429, f"You are already watching {settings.LIVE_MAX_SESSIONS_PER_VIEWER} cameras; close one first."
        )
    return LIVE_OK


def live_consent(*, camera: Camera, user: AnyUser, at: datetime | None = None) -> LiveDecision:
    """The consent part of the decision, which also holds for a session already open: who, and when."""
    if not user.is_active or not camera_viewable_by(camera=camera, user=user):
        return LiveDecision(404, "No such camera.")
    if not camera_editable_by(camera=camera, user=user) and not camera_live_allowed_now(camera=camera, at=at):
        return LiveDecision(403, _not_shared_now(camera))
    return LIVE_OK


def _not_shared_now(camera: Camera) -> str:
    agreement = camera.agreement
    if agreement is None or agreement.state != SharingAgreement.State.ACTIVE:
        return "The owner does not share this camera live."
    return {
        SharingAgreement.Mode.REGISTRY: "The owner shares this camera's location only, not live video.",
        SharingAgreement.Mode.SCHEDULE: "The owner shares this camera live on a schedule, and it is outside "
        f"the schedule now ({camera.site.timezone} time).",
        SharingAgreement.Mode.ALARM: "The owner shares this camera live only during an alarm, and none is open.",
    }.get(SharingAgreement.Mode(agreement.mode), "The owner does not share this camera live now.")


def live_sessions_open_count(*, user: AnyUser) -> int:
    from cameras.models import LiveSession

    return LiveSession.objects.filter(viewer_id=user.pk, ended_at__isnull=True).count()


def live_sessions_for_owner(*, user: AnyUser) -> QuerySet[Any]:
    """Live sessions on the cameras this owner (or staff member) runs, newest first."""
    from cameras.models import LiveSession

    return (
        LiveSession.objects.filter(camera__in=cameras_visible_to(user))
        .select_related("camera", "viewer")
        .order_by("-started_at")
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


def wall_for(*, user: User) -> Any:
    """The monitor's saved wall, with cameras they may no longer see emptied out."""
    from cameras.models import MonitorWall

    wall = MonitorWall.objects.filter(user=user).first() or MonitorWall(user=user)
    visible = set(cameras_visible_to(user).filter(pk__in=[t for t in wall.tiles if t]).values_list("id", flat=True))
    wall.tiles = [t if t in visible else None for t in wall.tiles][: wall.layout]
    return wall
