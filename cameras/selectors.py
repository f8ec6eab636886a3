"""Reads for cameras: who may see which camera, live and playback decisions, recordings and evidence requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    Exists,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone

from cameras.models import Camera, EvidenceRequest, Segment
from community.models import AuditEvent, Business, SharingAgreement, User
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
        return LiveDecision(409, f"{camera.codec.upper()} is not supported for live view; the camera must send H.264.")
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
    """The sessions that count towards the per-viewer cap: those really connected and still reported by their
    relay, and those still within the time a viewer has to connect. A session its relay lost (a closed tab
    whose end was never recorded) stops counting without waiting for the sweep to close it."""
    from cameras.models import LiveSession

    now = timezone.now()
    return (
        LiveSession.objects.filter(viewer_id=user.pk, ended_at__isnull=True)
        .filter(
            Q(connected_at__isnull=False, last_seen_at__gte=now - timedelta(seconds=settings.LIVE_STALE_S))
            | Q(connected_at__isnull=True, started_at__gte=now - timedelta(seconds=settings.LIVE_CONNECT_TIMEOUT_S))
        )
        .count()
    )


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


# ---------------------------------------------------------------- recording


def camera_records(*, camera: Camera) -> bool:
    """Whether the owner's terms let us record this camera now (pull cameras only, for now)."""
    agreement = camera.agreement
    return bool(
        camera.source == Camera.Source.PULL
        and camera.stream_url_encrypted
        and agreement is not None
        and agreement.state == SharingAgreement.State.ACTIVE
        and agreement.recording_allowed
    )


def camera_ids_to_record() -> list[int]:
    return list(
        Camera.objects.filter(
            source=Camera.Source.PULL,
            agreement__state=SharingAgreement.State.ACTIVE,
            agreement__recording_allowed=True,
        )
        .exclude(stream_url_encrypted="")
        .values_list("id", flat=True)
    )


def _held_by_evidence() -> Exists:
    # A request that was not denied holds every segment of its cameras that overlaps its window, from
    # the moment it is filed (the owner has not answered yet) for as long as the case needs it.
    return Exists(
        EvidenceRequest.objects.filter(
            cameras=OuterRef("camera_id"),
            window_start__lt=OuterRef("ended_at"),
            window_end__gt=OuterRef("started_at"),
        ).exclude(state=EvidenceRequest.State.DENIED)
    )


def segments_expired(*, now: datetime) -> QuerySet[Segment]:
    """Segments older than their camera's retention and held by no evidence request, oldest first.

    A camera whose terms were withdrawn keeps the shortest retention there is (a day): the owner no longer
    agrees to more.
    """
    # One condition per retention length in use (at most 90 of them), which every database can index,
    # rather than date arithmetic on a joined column, which each database spells differently.
    in_use = SharingAgreement.objects.filter(cameras__segments__isnull=False)
    days_in_use = in_use.values_list("retention_days", flat=True)
    expired = Q(camera__agreement__isnull=True, ended_at__lt=now - timedelta(days=1))
    for days in set(days_in_use):
        expired |= Q(camera__agreement__retention_days=days, ended_at__lt=now - timedelta(days=days))
    return Segment.objects.filter(expired).exclude(_held_by_evidence()).order_by("ended_at")


def segments_in_window(*, camera: Camera, since: datetime, until: datetime) -> QuerySet[Segment]:
    return Segment.objects.filter(camera=camera, started_at__lt=until, ended_at__gt=since).order_by("started_at")


def storage_used_by_camera(*, user: AnyUser) -> list[dict[str, Any]]:
    """Per camera the owner sees: segments kept, bytes, oldest and newest, and the agreed retention."""
    rows = (
        cameras_visible_to(user)
        .annotate(
            segment_count=Count("segments"),
            bytes_used=Sum("segments__size_bytes"),
            oldest=Min("segments__started_at"),
            newest=Max("segments__ended_at"),
        )
        .order_by("site__name", "name")
    )
    return [
        {
            "camera": camera,
            "segments": camera.segment_count,  # type: ignore[attr-defined]
            "bytes": camera.bytes_used or 0,  # type: ignore[attr-defined]
            "oldest": camera.oldest,  # type: ignore[attr-defined]
            "newest": camera.newest,  # type: ignore[attr-defined]
            "retention_days": camera.agreement.retention_days if camera.agreement else None,
            "recording": camera_records(camera=camera),
        }
        for camera in rows
    ]


@dataclass(frozen=True)
class PlaybackDecision:
    """May this person play back this camera's recordings, and from when? `status` is the HTTP answer when not."""

    status: int
    message: str = ""
    since: datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.status == 200


def playback_decision(*, camera: Camera, user: AnyUser, now: datetime | None = None) -> PlaybackDecision:
    """Owners play back all they keep; police the last PLAYBACK_HOURS, and only what they could have watched
    live when it was recorded, while the terms are still active."""
    if not user.is_active or not camera_viewable_by(camera=camera, user=user):
        return PlaybackDecision(404, "No such camera.")
    if camera_editable_by(camera=camera, user=user):
        return PlaybackDecision(200)
    agreement = camera.agreement
    if agreement is None or agreement.state != SharingAgreement.State.ACTIVE or not agreement.recording_allowed:
        return PlaybackDecision(403, "The owner does not share recordings of this camera.")
    if not agreement.is_live_mode:
        return PlaybackDecision(
            403, "The owner lists this camera in the registry only; ask for footage with an evidence request."
        )
    now = now or timezone.now()
    return PlaybackDecision(200, since=now - timedelta(hours=settings.PLAYBACK_HOURS))


def segments_for_playback(*, camera: Camera, user: AnyUser, since: datetime, until: datetime) -> QuerySet[Segment]:
    """The segments this person may play in [since, until); empty when they may play none."""
    decision = playback_decision(camera=camera, user=user)
    if not decision.allowed:
        return Segment.objects.none()
    qs = segments_in_window(camera=camera, since=since, until=until)
    if decision.since is not None:
        qs = qs.filter(shared_live=True, started_at__gte=decision.since)
    return qs


# ---------------------------------------------------------------- evidence requests


def evidence_requests_visible_to(user: AnyUser) -> QuerySet[EvidenceRequest]:
    """Monitors see the requests they filed, owners those made of their businesses, supervisors all."""
    qs = EvidenceRequest.objects.select_related("business", "requested_by", "decided_by")
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    assert isinstance(user, User)
    if user.is_supervisor:
        return qs
    if user.is_monitor:
        return qs.filter(requested_by=user)
    if user.is_owner:
        return qs.filter(business_id__in=owned_business_ids(user))
    return qs.none()


def evidence_requests_pending_for(*, user: AnyUser) -> QuerySet[EvidenceRequest]:
    """What waits for this owner's answer (their dashboard shows it)."""
    if not user.is_authenticated or not user.is_active:
        return EvidenceRequest.objects.none()
    assert isinstance(user, User)
    return EvidenceRequest.objects.filter(
        business_id__in=owned_business_ids(user), state=EvidenceRequest.State.PENDING
    ).select_related("requested_by", "business")


def evidence_request_answerable_by(*, request: EvidenceRequest, user: AnyUser) -> bool:
    return request.state == EvidenceRequest.State.PENDING and business_editable_by(business=request.business, user=user)


def evidence_custody(*, request: EvidenceRequest) -> QuerySet[AuditEvent]:
    """The chain of custody: every audit event about this request, oldest first."""
    return AuditEvent.objects.filter(target_type="cameras.evidencerequest", target_id=str(request.pk)).order_by(
        "created_at", "id"
    )


def evidence_exports_stalled(*, now: datetime | None = None) -> QuerySet[EvidenceRequest]:
    """Approved a while ago and not started, or exporting past the lease: their worker is gone."""
    now = now or timezone.now()
    return EvidenceRequest.objects.filter(
        Q(state=EvidenceRequest.State.APPROVED, updated_at__lt=now - timedelta(minutes=5))
        | Q(
            state=EvidenceRequest.State.EXPORTING,
            export_claimed_at__lt=now - timedelta(seconds=settings.EVIDENCE_EXPORT_LEASE_S),
        )
    )
