"""Writes for cameras: enrolment, stream credentials, probing and health, and audited page views."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from cameras.credentials import (
    push_token_new,
    stream_url_decrypt,
    stream_url_encrypt,
    stream_url_mask,
    stream_url_validate,
    stream_url_with_credentials,
)
from cameras.events import camera_access_changed
from cameras.media.probe import ProbeResult, probe_stream
from cameras.models import Camera, LiveSession, MonitorWall
from community.models import Business, SharingAgreement, Site, User
from community.services import audit_record

logger = logging.getLogger(__name__)


def _queue_probe(camera: Camera) -> None:
    from cameras.tasks import camera_probe_task

    camera_id = camera.pk
    transaction.on_commit(lambda: camera_probe_task.delay(camera_id))


def _set_stream_url(camera: Camera, *, stream_url: str, username: str, password: str) -> None:
    try:
        url = stream_url_validate(stream_url)
    except ValidationError as exc:
        raise ValidationError({"stream_url": exc.messages}) from exc
    url = stream_url_with_credentials(url=url, username=username, password=password)
    camera.stream_url_encrypted = stream_url_encrypt(url)
    camera.stream_url_masked = stream_url_mask(url)


def _check_site_and_agreement(*, business: Business, site: Site, agreement: SharingAgreement | None) -> None:
    if site.business_id != business.pk:
        raise ValidationError({"site": "Choose one of this business's sites."})
    if agreement is not None and agreement.business_id != business.pk:
        raise ValidationError({"agreement": "Choose sharing terms of this business."})
    if agreement is not None and agreement.state == SharingAgreement.State.REVOKED:
        raise ValidationError({"agreement": "These sharing terms were revoked; choose or create others."})


def _save_unique_name(camera: Camera) -> None:
    duplicate = Camera.objects.filter(business=camera.business, name__iexact=camera.name).exclude(pk=camera.pk)
    if duplicate.exists():
        raise ValidationError({"name": "This business already has a camera with this name."})
    try:
        with transaction.atomic():
            camera.save()
    except IntegrityError as exc:
        raise ValidationError({"name": "This business already has a camera with this name."}) from exc


@transaction.atomic
def camera_create(
    *,
    business: Business,
    by: User,
    site: Site,
    name: str,
    source: str = Camera.Source.PULL,
    stream_url: str = "",
    stream_username: str = "",
    stream_password: str = "",
    placement: str = Camera.Placement.OUTDOOR,
    views: str = "",
    agreement: SharingAgreement | None = None,
) -> tuple[Camera, str | None]:
    """Enrol a camera. Returns it with its push token, which is shown once and only for push cameras.

    The stream is never contacted here; a worker probes it after the commit.
    """
    _check_site_and_agreement(business=business, site=site, agreement=agreement)
    camera = Camera(
        business=business,
        site=site,
        name=name.strip(),
        source=source,
        placement=placement,
        views=views,
        agreement=agreement,
    )
    push_token = None
    if source == Camera.Source.PULL:
        _set_stream_url(camera, stream_url=stream_url, username=stream_username, password=stream_password)
    elif source == Camera.Source.PUSH:
        push_token, camera.push_token_hash = push_token_new()
        camera.push_token_hint = push_token[-4:]
    camera.full_clean(exclude=["business", "site", "agreement", "snapshot"])
    _save_unique_name(camera)
    audit_record(actor=by, action="camera.create", target=camera, details={"source": source, "site": site.pk})
    if source == Camera.Source.PULL:
        _queue_probe(camera)
    return camera, push_token


@transaction.atomic
def camera_update(
    *,
    camera: Camera,
    by: User,
    stream_url: str | None = None,
    stream_username: str = "",
    stream_password: str = "",
    **fields: Any,
) -> Camera:
    """Change a camera; a new stream address (or new credentials alone) is validated, encrypted and probed again."""
    allowed = {"name", "site", "placement", "views", "agreement"}
    if set(fields) - allowed:
        raise TypeError(f"Unexpected fields: {sorted(set(fields) - allowed)}")
    changed = sorted(name for name, value in fields.items() if getattr(camera, name) != value)
    for name, value in fields.items():
        setattr(camera, name, value.strip() if name == "name" else value)
    _check_site_and_agreement(business=camera.business, site=camera.site, agreement=camera.agreement)
    new_url = camera.source == Camera.Source.PULL and bool(stream_url or stream_username or stream_password)
    if new_url:
        if not stream_url:
            # New credentials for the address already stored: the password is never shown back,
            # so the owner types only what changed.
            stream_url = stream_url_decrypt(camera.stream_url_encrypted)
            stream_username = stream_username or unquote(urlsplit(stream_url).username or "")
        _set_stream_url(camera, stream_url=stream_url, username=stream_username, password=stream_password)
        camera.health = Camera.Health.UNKNOWN
        camera.health_message = ""
        changed.append("stream_url")
    camera.full_clean(exclude=["business", "site", "agreement", "snapshot"])
    _save_unique_name(camera)
    if changed:
        audit_record(actor=by, action="camera.update", target=camera, details={"fields": changed})
    if "agreement" in changed:
        transaction.on_commit(
            lambda: camera_access_changed([camera.pk], reason="The owner changed this camera's sharing terms.")
        )
    if new_url:
        _queue_probe(camera)
    return camera


@transaction.atomic
def camera_push_token_rotate(*, camera: Camera, by: User) -> str:
    if camera.source != Camera.Source.PUSH:
        raise ValidationError("Only push cameras have a push token.")
    token, camera.push_token_hash = push_token_new()
    camera.push_token_hint = token[-4:]
    camera.save(update_fields=["push_token_hash", "push_token_hint", "updated_at"])
    audit_record(actor=by, action="camera.push_token_rotate", target=camera)
    return token


@transaction.atomic
def camera_delete(*, camera: Camera, by: User) -> None:
    audit_record(actor=by, action="camera.delete", target=camera, details={"name": camera.name})
    camera_id = camera.pk
    transaction.on_commit(lambda: camera_access_changed([camera_id], reason="The owner removed this camera."))
    if camera.snapshot:
        camera.snapshot.delete(save=False)
    camera.delete()


@transaction.atomic
def camera_probe_request(*, camera: Camera, by: User) -> None:
    """Someone asks for a probe now; the worker runs it after the commit."""
    if camera.source != Camera.Source.PULL:
        raise ValidationError("Push cameras report their own health when they connect.")
    audit_record(actor=by, action="camera.probe_request", target=camera)
    _queue_probe(camera)


def camera_probe(*, camera: Camera, by: User | None = None) -> ProbeResult:
    """Open the stream under a timeout, then store health, stream facts and a snapshot.

    The probe runs outside any transaction: it may take the whole timeout.
    """
    try:
        url = stream_url_decrypt(camera.stream_url_encrypted)
    except ValueError as exc:
        logger.error("camera %s: %s", camera.pk, exc)
        result = ProbeResult(
            health="error",
            message="Lantern cannot read this camera's saved address; enter the stream address again.",
        )
    else:
        result = probe_stream(url=url, timeout_s=settings.PROBE_TIMEOUT_S)
    camera_probe_record(camera=camera, result=result, by=by)
    return result


@transaction.atomic
def camera_probe_record(*, camera: Camera, result: ProbeResult, by: User | None = None) -> Camera:
    now = timezone.now()
    camera.health = result.health
    camera.health_message = result.message[:255]
    camera.last_probe_at = now
    fields = ["health", "health_message", "last_probe_at", "updated_at"]
    if result.health != Camera.Health.OFFLINE:
        camera.last_seen_at = now
        camera.codec = result.codec or ""
        camera.profile = result.profile or ""
        camera.width, camera.height, camera.fps = result.width, result.height, result.fps
        fields += ["last_seen_at", "codec", "profile", "width", "height", "fps"]
    if result.snapshot_jpeg:
        old = camera.snapshot.name if camera.snapshot else ""
        camera.snapshot.save(f"camera-{camera.pk}.jpg", ContentFile(result.snapshot_jpeg), save=False)
        camera.snapshot_at = now
        fields += ["snapshot", "snapshot_at"]
        if old and old != camera.snapshot.name:
            transaction.on_commit(lambda: camera.snapshot.storage.delete(old))
    camera.save(update_fields=fields)
    audit_record(
        actor=by,
        action="camera.probe",
        target=camera,
        details={
            "health": result.health,
            "message": result.message,
            "codec": result.codec,
            "width": result.width,
            "height": result.height,
            "elapsed_s": round(result.elapsed_s, 3),
        },
    )
    return camera


def camera_view_record(*, camera: Camera, by: User, what: str = "page") -> None:
    """Police looking at a camera's page or snapshot leaves a trace the owner can read."""
    audit_record(actor=by, action=f"camera.view_{what}", target=camera)


# ---------------------------------------------------------------- live view


@transaction.atomic
def live_session_open(*, session_id: str, camera: Camera, viewer: User, relay_id: str) -> LiveSession:
    session = LiveSession.objects.create(id=session_id, camera=camera, viewer=viewer, relay_id=relay_id)
    audit_record(actor=viewer, action="live.start", target=camera, details={"session": session_id})
    return session


@transaction.atomic
def live_session_close(*, session_id: str, bytes_sent: int, reason: str) -> bool:
    """End a session once; a second report of the same end (relay and DELETE racing) changes nothing."""
    won = LiveSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
        ended_at=timezone.now(), bytes_sent=bytes_sent, end_reason=reason[:255]
    )
    if not won:
        return False
    session = LiveSession.objects.select_related("camera", "viewer").get(pk=session_id)
    audit_record(
        actor=session.viewer,
        action="live.end",
        target=session.camera,
        details={"session": session_id, "bytes": bytes_sent, "reason": reason, "seconds": session.duration_s},
    )
    return True


def live_sessions_close_stale(*, relay_id: str) -> int:
    """At relay start: sessions this relay had open before it stopped are over."""
    stale = list(LiveSession.objects.filter(relay_id=relay_id, ended_at__isnull=True).values_list("id", flat=True))
    for session_id in stale:
        live_session_close(session_id=session_id, bytes_sent=0, reason="The relay restarted.")
    return len(stale)


@transaction.atomic
def camera_alarm_open(*, camera: Camera, by: User | None, source: str) -> Camera:
    """The owner's alarm system (or panic button) opens live access for the terms' alarm window."""
    agreement = camera.agreement
    minutes = agreement.alarm_window_minutes if agreement is not None else 15
    camera.alarm_until = timezone.now() + timedelta(minutes=minutes)
    camera.save(update_fields=["alarm_until", "updated_at"])
    audit_record(actor=by, action="camera.alarm", target=camera, details={"source": source, "minutes": minutes})
    return camera


@transaction.atomic
def camera_alarm_close(*, camera: Camera, by: User) -> Camera:
    camera.alarm_until = None
    camera.save(update_fields=["alarm_until", "updated_at"])
    audit_record(actor=by, action="camera.alarm_close", target=camera)
    transaction.on_commit(lambda: camera_access_changed([camera.pk], reason="The alarm was closed by the owner."))
    return camera


def wall_save(*, user: User, layout: int, tiles: list[int | None]) -> MonitorWall:
    """Remember a monitor's wall; cameras they may no longer see are dropped from it on the next load."""
    if layout not in MonitorWall.Layout.values:
        raise ValidationError({"layout": "Choose 1, 4, 9 or 16 tiles."})
    if len(tiles) > layout or any(t is not None and not isinstance(t, int) for t in tiles):
        raise ValidationError({"tiles": f"Give at most {layout} camera ids (or null for an empty tile)."})
    wall, _ = MonitorWall.objects.update_or_create(user=user, defaults={"layout": layout, "tiles": tiles})
    return wall
