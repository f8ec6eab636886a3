"""Writes for cameras: enrolment, probing and health, live sessions, recorded segments and evidence requests."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import tempfile
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Case, DateTimeField, F, Q, QuerySet, Value, When
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone

from cameras import selectors
from cameras.credentials import (
    push_token_new,
    stream_url_decrypt,
    stream_url_encrypt,
    stream_url_mask,
    stream_url_validate,
    stream_url_with_credentials,
)
from cameras.events import camera_access_changed, evidence_changed
from cameras.media.probe import ProbeResult, probe_stream
from cameras.models import Camera, EvidenceItem, EvidenceRequest, LiveSession, MonitorWall, Segment
from cameras.storage import evidence_key, file_sha256, object_delete, object_open, object_put, object_url
from community.models import Business, SharingAgreement, Site, User
from community.selectors import business_editable_by
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
    """Remove a camera and, after the commit, everything of it in storage: recordings, snapshots, detection
    thumbnails and alert snapshots. Exported evidence stays: it lives under its own keys (evidence/...)."""
    from alerts.models import Alert, Detection  # alerts builds on cameras; imported here to keep it one way

    keys = [
        *Segment.objects.filter(camera=camera).values_list("key", flat=True),
        *Detection.objects.filter(camera=camera).exclude(thumbnail="").values_list("thumbnail", flat=True),
        *Alert.objects.filter(camera=camera).exclude(snapshot="").values_list("snapshot", flat=True),
    ]
    if camera.snapshot:
        keys.append(camera.snapshot.name)
    audit_record(actor=by, action="camera.delete", target=camera, details={"name": camera.name, "objects": len(keys)})
    camera_id = camera.pk
    transaction.on_commit(lambda: camera_access_changed([camera_id], reason="The owner removed this camera."))
    camera.delete()
    # After the commit, so that a rolled-back delete keeps its footage; a task, so that a store that is down
    # for a while is retried rather than leaving the objects behind for good.
    from cameras.tasks import camera_objects_delete_task

    for start in range(0, len(keys), _DELETE_BATCH):
        transaction.on_commit(
            functools.partial(camera_objects_delete_task.delay, camera_id, keys[start : start + _DELETE_BATCH])
        )


_DELETE_BATCH = 500


def camera_objects_delete(*, camera_id: int, keys: Sequence[str]) -> int:
    """Delete a removed camera's objects; deleting one already gone is not an error, so a retry is harmless."""
    for key in keys:
        if key.startswith("evidence/"):  # never, whatever a caller passes: evidence outlives its camera
            continue
        object_delete(name=key)
    logger.info("camera %s: deleted %s objects from storage", camera_id, len(keys))
    return len(keys)


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
    # Imported here: alerts builds on cameras, not the other way round.
    from alerts.services import camera_health_changed

    now = timezone.now()
    was = camera.health
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
    camera_health_changed(camera=camera, was=was, now=result.health, message=result.message)
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


def live_session_connected(*, session_id: str) -> bool:
    """The viewer's ICE and DTLS connected: from now on the session counts as watching."""
    now = timezone.now()
    return bool(
        LiveSession.objects.filter(pk=session_id, ended_at__isnull=True, connected_at__isnull=True).update(
            connected_at=now, last_seen_at=now
        )
    )


@transaction.atomic
def live_session_close(*, session_id: str, bytes_sent: int, reason: str) -> bool:
    """End a session once; a second report of the same end (relay and DELETE racing) changes nothing."""
    won = LiveSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
        # Never below what the relay already reported: an end reported without a count keeps the last one.
        ended_at=timezone.now(),
        bytes_sent=Greatest(F("bytes_sent"), Value(bytes_sent)),
        end_reason=reason[:255],
    )
    if not won:
        return False
    session = LiveSession.objects.select_related("camera", "viewer").get(pk=session_id)
    audit_record(
        actor=session.viewer,
        action="live.end",
        target=session.camera,
        details={
            "session": session_id,
            "bytes": session.bytes_sent,
            "reason": reason,
            "seconds": session.duration_s,
        },
    )
    return True


@dataclass(frozen=True)
class LiveSessionSeen:
    """What a relay knows of a session it holds, for its periodic report."""

    session_id: str
    connected: bool
    bytes_sent: int


@transaction.atomic
def live_sessions_report(
    *, relay_id: str, seen: Sequence[LiveSessionSeen], taken_at: datetime, ending: Collection[str] = ()
) -> int:
    """A relay's periodic report: one UPDATE marks the sessions it holds as seen (with their bytes so far and
    whether they connected), then the open sessions of its id that it neither holds nor is closing (`ending`)
    are closed as unseen.

    `taken_at` is when the relay listed what it holds: a session recorded after that is not missing, it is new.
    Returns how many sessions were closed.
    """
    now = timezone.now()
    ids = [s.session_id for s in seen]
    if seen:
        connected = [s.session_id for s in seen if s.connected]
        LiveSession.objects.filter(pk__in=ids, ended_at__isnull=True).update(
            last_seen_at=now,
            bytes_sent=Case(
                *(When(pk=s.session_id, then=Value(s.bytes_sent)) for s in seen),
                default=F("bytes_sent"),
                output_field=BigIntegerField(),
            ),
            connected_at=Case(
                When(pk__in=connected, connected_at__isnull=True, then=Value(now)),
                default=F("connected_at"),
                output_field=DateTimeField(),
            ),
        )
    missing = LiveSession.objects.filter(relay_id=relay_id, ended_at__isnull=True, started_at__lt=taken_at).exclude(
        pk__in=[*ids, *ending]
    )
    return _live_sessions_close_unseen(sessions=missing, reason="The relay no longer held the session.")


def live_sessions_close_stale(*, relay_id: str) -> int:
    """At relay start: sessions this relay had open before it stopped are over, as of when it last saw them."""
    stale = LiveSession.objects.filter(relay_id=relay_id, ended_at__isnull=True)
    return _live_sessions_close_unseen(sessions=stale, reason="The relay restarted.")


def live_sessions_sweep() -> int:
    """The beat sweep: close the sessions whose relay stopped reporting them (it died, or lost them)."""
    horizon = timezone.now() - timedelta(seconds=settings.LIVE_STALE_S)
    stale = LiveSession.objects.filter(ended_at__isnull=True).filter(
        Q(last_seen_at__lt=horizon) | Q(last_seen_at__isnull=True, started_at__lt=horizon)
    )
    return _live_sessions_close_unseen(sessions=stale, reason="The relay stopped reporting the session.")


def _live_sessions_close_unseen(*, sessions: QuerySet[LiveSession], reason: str) -> int:
    # Nobody saw these end: they end when last seen (or when they started, if never), with the bytes last
    # reported. Rare rows (a relay died), so one claim per session is fine, and each claim is atomic so a
    # relay reporting the real end at the same moment wins or loses cleanly.
    closed = 0
    for session in sessions.select_related("camera", "viewer"):
        ended_at = session.last_seen_at or session.started_at
        with transaction.atomic():
            won = LiveSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
                ended_at=ended_at, end_reason=reason[:255], ended_unseen=True
            )
            if not won:
                continue
            audit_record(
                actor=session.viewer,
                action="live.end",
                target=session.camera,
                details={"session": session.pk, "bytes": session.bytes_sent, "reason": reason, "unseen": True},
            )
        closed += 1
    return closed


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


# ---------------------------------------------------------------- recording


def segment_register(
    *, camera_id: int, key: str, started_at: datetime, ended_at: datetime, size_bytes: int, sha256: str
) -> Segment | None:
    """Record a segment the recorder has stored; None when the camera was removed meanwhile.

    Idempotent on the object name: the uploader may register the same upload twice after a crash.
    """
    camera = Camera.objects.select_related("site", "business", "agreement").filter(pk=camera_id).first()
    if camera is None:
        return None
    segment, created = Segment.objects.get_or_create(
        key=key,
        defaults={
            "camera": camera,
            "started_at": started_at,
            "ended_at": ended_at,
            "size_bytes": size_bytes,
            "sha256": sha256,
            "shared_live": selectors.camera_live_allowed_now(camera=camera, at=started_at),
        },
    )
    if created and settings.ANALYTICS_ENABLED:
        from alerts.tasks import segment_analyse_task

        segment_id = segment.pk
        transaction.on_commit(lambda: segment_analyse_task.delay(segment_id))
    return segment


def segments_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Delete segments past their agreement's retention, except those an evidence request holds.

    Objects go first, then rows: a crash in between leaves a row whose object is gone, which the next
    run deletes again (deleting a missing object is not an error), never an object nobody knows of.
    """
    deleted = 0
    by_camera: dict[int, int] = {}
    from alerts.models import Detection  # alerts builds on cameras; imported here to keep it one way

    for segment in selectors.segments_expired(now=now or timezone.now())[:batch]:
        # What analysis saw in the footage goes with it: its boxes and thumbnails are footage too.
        for thumbnail in (
            Detection.objects.filter(segment=segment).exclude(thumbnail="").values_list("thumbnail", flat=True)
        ):
            object_delete(name=thumbnail)
        Detection.objects.filter(segment=segment).delete()
        object_delete(name=segment.key)
        segment.delete()
        deleted += 1
        by_camera[segment.camera_id] = by_camera.get(segment.camera_id, 0) + 1
    for camera_id, count in by_camera.items():
        audit_record(
            actor=None,
            actor_label="retention",
            action="segments.expire",
            camera_id=camera_id,
            business_id=Camera.objects.filter(pk=camera_id).values_list("business_id", flat=True).first(),
            details={"segments": count},
        )
    return deleted


def playback_record(*, camera: Camera, by: User, since: datetime, until: datetime) -> None:
    """Every playback is in the owner's log of who accessed the camera, with the period played."""
    audit_record(
        actor=by,
        action="camera.playback",
        target=camera,
        details={"since": since.isoformat(), "until": until.isoformat()},
    )


# ---------------------------------------------------------------- evidence requests


def evidence_request_create(
    *,
    by: User,
    case_number: str,
    reason: str,
    camera_ids: Sequence[int],
    window_start: datetime,
    window_end: datetime,
) -> EvidenceRequest:
    """A monitor asks one business for footage of its cameras over a bounded window for a case.

    Raises PermissionDenied for anyone but police, ValidationError (with field keys) for bad input; nothing
    is created then. Pre-approved terms approve it at once and queue the export.
    """
    if not by.is_active or not by.is_police:
        raise PermissionDenied("Only police monitors can request evidence.")
    errors: dict[str, str] = {}
    case_number = case_number.strip()
    if not case_number:
        errors["case_number"] = "Give the case number."
    elif not re.fullmatch(settings.EVIDENCE_CASE_NUMBER_PATTERN, case_number):
        errors["case_number"] = f"Case numbers look like this: {settings.EVIDENCE_CASE_NUMBER_HINT}."
    if not reason.strip():
        errors["reason"] = "Say why the footage is needed."
    errors.update(_window_errors(window_start=window_start, window_end=window_end))
    cameras, camera_error = _cameras_for_request(by=by, camera_ids=camera_ids)
    if camera_error:
        errors["camera_ids"] = camera_error
    if errors:
        raise ValidationError(errors)

    business = cameras[0].business
    agreements = {camera.agreement for camera in cameras}
    preapproving = next(iter(agreements)) if all(a is not None and a.evidence_preapproved for a in agreements) else None
    with transaction.atomic():
        request = EvidenceRequest.objects.create(
            business=business,
            case_number=case_number,
            reason=reason.strip(),
            window_start=window_start,
            window_end=window_end,
            requested_by=by,
        )
        request.cameras.set(cameras)
        audit_record(
            actor=by,
            action="evidence.create",
            target=request,
            details={
                "case_number": case_number,
                "cameras": [c.pk for c in cameras],
                "window": [window_start.isoformat(), window_end.isoformat()],
            },
        )
        if preapproving is not None:
            request.state = EvidenceRequest.State.APPROVED
            request.preapproved_by = preapproving
            request.decided_at = timezone.now()
            request.decision_reason = f"Pre-approved by the sharing terms “{preapproving.name}”."
            request.save(update_fields=["state", "preapproved_by", "decided_at", "decision_reason", "updated_at"])
            audit_record(
                actor=None,
                actor_label=f"agreement {preapproving.pk}",
                action="evidence.approve",
                target=request,
                details={"preapproved_by_agreement": preapproving.pk},
            )
            _queue_export(request)
        transaction.on_commit(lambda: _notify_owners(request))
    return request


def _window_errors(*, window_start: datetime, window_end: datetime) -> dict[str, str]:
    if window_end <= window_start:
        return {"window_end": "The window must end after it starts."}
    limit = timedelta(hours=settings.EVIDENCE_MAX_WINDOW_HOURS)
    if window_end - window_start > limit:
        return {"window_end": f"A request covers at most {settings.EVIDENCE_MAX_WINDOW_HOURS:g} hours."}
    # Footage that does not exist yet cannot be requested; a minute of slack for clocks.
    if window_end > timezone.now() + timedelta(minutes=1):
        return {"window_end": "The window must be in the past."}
    return {}


def _cameras_for_request(*, by: User, camera_ids: Sequence[int]) -> tuple[list[Camera], str]:
    if not camera_ids:
        return [], "Choose at least one camera."
    visible = {c.pk: c for c in selectors.cameras_visible_to(by).filter(pk__in=camera_ids)}
    missing = [pk for pk in camera_ids if pk not in visible]
    if missing:
        return [], f"No such camera: {', '.join(map(str, missing))}."
    cameras = [visible[pk] for pk in dict.fromkeys(camera_ids)]
    not_recording = [c.name for c in cameras if not selectors.camera_records(camera=c)]
    if not_recording:
        return [], f"The owner's terms do not allow recording for: {', '.join(not_recording)}."
    if len({c.business_id for c in cameras}) > 1:
        return [], "These cameras belong to different businesses; file one request per business."
    return cameras, ""


def evidence_request_decide(*, request: EvidenceRequest, by: User, approve: bool, reason: str) -> EvidenceRequest:
    """The owner (or their staff) approves or denies a pending request; a denial needs a reason.

    Raises PermissionDenied when `by` does not speak for the business, ValidationError when the request
    was already answered or a denial has no reason.
    """
    if not business_editable_by(business=request.business, user=by):
        raise PermissionDenied("Only the business's owner can answer this request.")
    if not approve and not reason.strip():
        raise ValidationError({"reason": "Say why you deny the request; the requester will read it."})
    state = EvidenceRequest.State.APPROVED if approve else EvidenceRequest.State.DENIED
    with transaction.atomic():
        # Two people of the business may answer at once; the first answer stands.
        answered = EvidenceRequest.objects.filter(pk=request.pk, state=EvidenceRequest.State.PENDING).update(
            state=state,
            decided_by=by,
            decided_at=timezone.now(),
            decision_reason=reason.strip(),
            updated_at=timezone.now(),
        )
        if not answered:
            raise ValidationError("This request has already been answered.", code="conflict")
        request.refresh_from_db()
        audit_record(
            actor=by,
            action="evidence.approve" if approve else "evidence.deny",
            target=request,
            details={"reason": request.decision_reason},
        )
        if approve:
            _queue_export(request)
        transaction.on_commit(lambda: _notify_requester(request))
        transaction.on_commit(lambda: evidence_changed(request.pk, state=request.state, progress=0.0))
    return request


def evidence_export_retry(*, request: EvidenceRequest, by: User) -> EvidenceRequest:
    """Queue a failed export again (the requester or a supervisor, after fixing what made it fail)."""
    if not (by.is_active and (by.pk == request.requested_by_id or by.is_supervisor)):
        raise PermissionDenied("Only the requester or a supervisor can retry an export.")
    retried = EvidenceRequest.objects.filter(pk=request.pk, state=EvidenceRequest.State.FAILED).update(
        state=EvidenceRequest.State.APPROVED, export_error="", export_claim="", updated_at=timezone.now()
    )
    if not retried:
        raise ValidationError("Only a failed export can be retried.", code="conflict")
    request.refresh_from_db()
    audit_record(actor=by, action="evidence.export_retry", target=request)
    _queue_export(request)
    return request


def _queue_export(request: EvidenceRequest) -> None:
    from cameras.tasks import evidence_export_task

    request_id = request.pk
    transaction.on_commit(lambda: evidence_export_task.delay(request_id))


def evidence_export_claim(*, request_id: int, claim: str) -> EvidenceRequest | None:
    """Take the export of an approved request for the worker task named by `claim`; None when not ours.

    Another worker may have claimed it first; update() tells us who won. The same task delivered again
    after its worker died carries the same claim and takes it back at once; any other claim waits for
    the lease to run out, so a dead worker's export is resumed, never run twice at the same time.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.EVIDENCE_EXPORT_LEASE_S)
    won = (
        EvidenceRequest.objects.filter(pk=request_id)
        .filter(
            Q(state=EvidenceRequest.State.APPROVED)
            | Q(state=EvidenceRequest.State.EXPORTING, export_claim=claim)
            | Q(state=EvidenceRequest.State.EXPORTING, export_claimed_at__lt=stale)
        )
        .update(
            state=EvidenceRequest.State.EXPORTING,
            export_claim=claim,
            export_claimed_at=now,
            export_attempts=F("export_attempts") + 1,
            updated_at=now,
        )
    )
    if not won:
        return None
    request = EvidenceRequest.objects.select_related("business", "requested_by", "decided_by").get(pk=request_id)
    evidence_changed(request.pk, state=request.state, progress=request.export_progress)
    return request


def evidence_export(*, request_id: int, claim: str) -> EvidenceRequest | None:
    """Export an approved request once: per camera, its segments remuxed into one MP4 with its SHA-256, stored
    write-once under the evidence prefix; then the signed manifest. None when another worker has it.

    Cameras already exported by an earlier attempt (a worker killed half way) are kept, not redone.
    """
    request = evidence_export_claim(request_id=request_id, claim=claim)
    if request is None:
        return None
    cameras = list(request.cameras.order_by("name"))
    done = {item.camera_id for item in request.items.all()}
    reported = [request.export_progress, time.monotonic()]  # the last progress sent to pages, and when
    try:
        with _ExportLease(request_id=request.pk, claim=claim):
            _export_cameras(request=request, claim=claim, cameras=cameras, done=done, reported=reported)
            return _export_finish(request=request, claim=claim)
    except _ExportLeaseLost:
        # Only a worker that stalled past its lease gets here; the one that took over finishes the export.
        logger.warning("evidence export of request %s: claim %s lost its lease; stopping", request.pk, claim)
        return None


class _ExportLeaseLost(Exception):
    """Another claim holds the export now: this worker must stop writing to it."""


class _ExportLease:
    """Renews the export's lease from a thread while the export runs, so that no other worker can take over a
    live export, however long one segment takes to read; a worker that dies stops renewing, and its export is
    taken over once the lease runs out."""

    def __init__(self, *, request_id: int, claim: str) -> None:
        self._request_id = request_id
        self._claim = claim
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"export-lease-{request_id}", daemon=True)

    def __enter__(self) -> _ExportLease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        from django.db import connection

        try:
            # Well inside the lease, so that a busy database or machine never lets it run out.
            while not self._stop.wait(settings.EVIDENCE_EXPORT_LEASE_S / 4):
                ours = EvidenceRequest.objects.filter(
                    pk=self._request_id, state=EvidenceRequest.State.EXPORTING, export_claim=self._claim
                )
                with transaction.atomic():
                    # SKIP LOCKED: the export's own thread may hold the row in a transaction (an eager task in
                    # a request's transaction); waiting for it here would hold up the export's end.
                    if list(ours.select_for_update(skip_locked=True).values_list("pk", flat=True)):
                        ours.update(export_claimed_at=timezone.now())
                        continue
                if not ours.exists():
                    return
        except Exception:
            # A database hiccup: the export itself notices soon enough; the lease may lapse meanwhile.
            logger.exception("evidence export of request %s: renewing the lease failed", self._request_id)
        finally:
            connection.close()  # this thread's own connection


def _export_lease_renew(*, request: EvidenceRequest, claim: str, progress: float | None = None) -> None:
    """The heartbeat: while it beats, the lease stays fresh and no other worker can take the export over."""
    fields: dict[str, Any] = {"export_claimed_at": timezone.now()}
    if progress is not None:
        fields["export_progress"] = progress
    renewed = EvidenceRequest.objects.filter(
        pk=request.pk, state=EvidenceRequest.State.EXPORTING, export_claim=claim
    ).update(**fields)
    if not renewed:
        raise _ExportLeaseLost


def _export_cameras(
    *, request: EvidenceRequest, claim: str, cameras: list[Camera], done: set[int | None], reported: list[float]
) -> None:
    from cameras.media.export import segments_concat

    retain_until = timezone.now() + timedelta(days=settings.EVIDENCE_LOCK_DAYS)
    for index, camera in enumerate(cameras):
        _export_lease_renew(request=request, claim=claim)
        reported[1] = time.monotonic()
        if camera.pk in done:
            continue
        segments = list(
            selectors.segments_in_window(camera=camera, since=request.window_start, until=request.window_end)
        )
        if not segments:
            continue

        def progress(done_segments: int, total: int, *, index: int = index) -> None:
            value = (index + done_segments / max(total, 1)) / len(cameras)
            # A long window has thousands of segments; pages need a step they can see, not every one.
            if value - reported[0] >= 0.01 or time.monotonic() - reported[1] >= 1.0:
                reported[:] = [value, time.monotonic()]
                _export_progress(request=request, claim=claim, value=value)

        with tempfile.TemporaryDirectory(prefix="lantern-export-") as scratch:
            out = Path(scratch) / "export.mp4"
            result = segments_concat(
                sources=[functools.partial(object_open, name=s.key) for s in segments],
                out_path=out,
                progress=progress,
                # A gap in the recording (the camera was offline) stays a gap in the export's timeline.
                source_starts_s=[s.started_at.timestamp() for s in segments],
            )
            key = evidence_key(request_id=request.pk, name=f"{request.case_number}-camera-{camera.pk}.mp4")
            stored = object_put(
                name=key, path=out, sha256=result.sha256, content_type="video/mp4", retain_until=retain_until
            )
        EvidenceItem.objects.create(
            request=request,
            camera=camera,
            camera_name=camera.name,
            key=key,
            version_id=stored.version_id,
            size_bytes=result.size_bytes,
            sha256=result.sha256,
            duration_s=result.duration_s,
            locked_until=stored.locked_until,
            sources=[
                {
                    "key": s.key,
                    "sha256": s.sha256,
                    "started_at": s.started_at.isoformat(),
                    "ended_at": s.ended_at.isoformat(),
                }
                for s in segments
            ],
        )


def _export_finish(*, request: EvidenceRequest, claim: str) -> EvidenceRequest | None:
    """The signed manifest, then EXPORTED; None when another claim took the export over meanwhile."""
    from cameras.manifest import manifest_bytes, manifest_sign, signing_public_key_pem

    _export_lease_renew(request=request, claim=claim)
    retain_until = timezone.now() + timedelta(days=settings.EVIDENCE_LOCK_DAYS)
    exported_at = timezone.now()
    data = manifest_bytes(
        data=_manifest(
            request=request,
            exported_at=exported_at,
            fingerprint=hashlib.sha256(signing_public_key_pem().encode()).hexdigest(),
        )
    )
    signature = manifest_sign(data=data)
    manifest_key = evidence_key(request_id=request.pk, name="manifest.json")
    with tempfile.TemporaryDirectory(prefix="lantern-manifest-") as scratch:
        path = Path(scratch) / "manifest.json"
        path.write_bytes(data)
        digest = file_sha256(path=path)
        object_put(
            name=manifest_key, path=path, sha256=digest, content_type="application/json", retain_until=retain_until
        )
    with transaction.atomic():
        finished = EvidenceRequest.objects.filter(
            pk=request.pk, state=EvidenceRequest.State.EXPORTING, export_claim=claim
        ).update(
            state=EvidenceRequest.State.EXPORTED,
            exported_at=exported_at,
            export_progress=1.0,
            manifest_key=manifest_key,
            manifest_sha256=digest,
            manifest_signature=signature,
            updated_at=exported_at,
        )
        if not finished:
            # Our lease ran out and another worker took over; its result is the one that counts.
            return None
        request.refresh_from_db()
        audit_record(
            actor=None,
            actor_label="export worker",
            action="evidence.export",
            target=request,
            details={"items": [{"key": i.key, "sha256": i.sha256} for i in request.items.all()], "manifest": digest},
        )
        transaction.on_commit(lambda: evidence_changed(request.pk, state=request.state, progress=1.0))
        transaction.on_commit(lambda: _notify_requester(request))
    return request


def _export_progress(*, request: EvidenceRequest, claim: str, value: float) -> None:
    _export_lease_renew(request=request, claim=claim, progress=value)
    evidence_changed(request.pk, state=EvidenceRequest.State.EXPORTING, progress=value)


def evidence_export_failed(*, request_id: int, claim: str, error: str) -> None:
    """The export gave up (its retries are spent): say so on the request and in its chain of custody."""
    failed = EvidenceRequest.objects.filter(pk=request_id, export_claim=claim).update(
        state=EvidenceRequest.State.FAILED, export_error=error[:2000], updated_at=timezone.now()
    )
    if failed:
        request = EvidenceRequest.objects.get(pk=request_id)
        audit_record(
            actor=None,
            actor_label="export worker",
            action="evidence.export_failed",
            target=request,
            details={"error": error[:500]},
        )
        evidence_changed(request_id, state=request.state, progress=request.export_progress, message=error[:200])


def _manifest(*, request: EvidenceRequest, exported_at: datetime, fingerprint: str) -> dict[str, Any]:
    approvals: list[dict[str, Any]] = []
    if request.preapproved_by_id is not None:
        approvals.append(
            {
                "decision": "approved",
                "by": f"agreement {request.preapproved_by_id} (pre-approval)",
                "at": request.decided_at.isoformat() if request.decided_at else None,
                "reason": request.decision_reason,
            }
        )
    elif request.decided_by is not None:
        approvals.append(
            {
                "decision": "approved",
                "by": request.decided_by.email,
                "at": request.decided_at.isoformat() if request.decided_at else None,
                "reason": request.decision_reason,
            }
        )
    items = list(request.items.order_by("camera_name"))
    exported_ids = {item.camera_id for item in items}
    return {
        "format": "lantern-evidence-manifest/1",
        "request": {
            "id": request.pk,
            "case_number": request.case_number,
            "reason": request.reason,
            "business": {"id": request.business_id, "name": request.business.name},
            "window": {"start": request.window_start.isoformat(), "end": request.window_end.isoformat()},
            "requested_by": request.requested_by.email,
            "created_at": request.created_at.isoformat(),
        },
        "approvals": approvals,
        "items": [
            {
                "camera": {"id": item.camera_id, "name": item.camera_name},
                "key": item.key,
                "version_id": item.version_id,
                "sha256": item.sha256,
                "size_bytes": item.size_bytes,
                "duration_s": round(item.duration_s, 3),
                "locked_until": item.locked_until.isoformat() if item.locked_until else None,
                "sources": item.sources,
            }
            for item in items
        ],
        "cameras_without_footage": [
            {"id": c.pk, "name": c.name} for c in request.cameras.order_by("name") if c.pk not in exported_ids
        ],
        "exported_at": exported_at.isoformat(),
        "signing_key_sha256": fingerprint,
    }


def _check_may_download(*, request: EvidenceRequest, by: User) -> None:
    if request.state != EvidenceRequest.State.EXPORTED:
        raise ValidationError("The export is not finished.", code="conflict")
    if not selectors.evidence_requests_visible_to(by).filter(pk=request.pk).exists():
        raise PermissionDenied("Not yours to download.")


def evidence_download_url(*, item: EvidenceItem, by: User) -> str:
    """A presigned link of at most five minutes to one exported file; the download is in the chain of custody."""
    _check_may_download(request=item.request, by=by)
    audit_record(
        actor=by,
        action="evidence.download",
        target=item.request,
        camera_id=item.camera_id,
        details={"key": item.key, "sha256": item.sha256},
    )
    return object_url(name=item.key, filename=item.filename)


def evidence_manifest_url(*, request: EvidenceRequest, by: User) -> str:
    _check_may_download(request=request, by=by)
    audit_record(
        actor=by,
        action="evidence.download",
        target=request,
        details={"key": request.manifest_key, "sha256": request.manifest_sha256},
    )
    return object_url(name=request.manifest_key, filename=f"{request.case_number}-manifest.json")


def evidence_verified_record(*, request: EvidenceRequest, by: User | None, ok: bool, details: str) -> None:
    audit_record(
        actor=by,
        actor_label="" if by else "evidence_verify",
        action="evidence.verify",
        target=request,
        details={"ok": ok, "details": details[:4000]},
    )


def _notify_owners(request: EvidenceRequest) -> None:
    if request.state != EvidenceRequest.State.PENDING:
        return
    recipients = [request.business.owner.email, *request.business.staff.values_list("email", flat=True)]
    url = settings.SITE_URL + reverse("cameras:evidence-detail", args=[request.pk])
    # The window arrives in whatever zone the form read it in: shown in the agency's zone, with its label.
    zone = ZoneInfo(settings.AGENCY_TIME_ZONE)
    start, end = timezone.localtime(request.window_start, zone), timezone.localtime(request.window_end, zone)
    start_label = "" if start.tzname() == end.tzname() else f" {start:%Z}"
    send_mail(
        subject=f"Lantern: footage requested for case {request.case_number}",
        message=(
            f"{request.requested_by.full_name or request.requested_by.email} asks for footage of "
            f"{request.cameras.count()} of {request.business.name}'s cameras, "
            f"{start:%Y-%m-%d %H:%M}{start_label} to {end:%Y-%m-%d %H:%M %Z}.\n\n"
            f"Reason: {request.reason}\n\nApprove or deny it here: {url}\n"
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )


def _notify_requester(request: EvidenceRequest) -> None:
    url = settings.SITE_URL + reverse("cameras:evidence-detail", args=[request.pk])
    send_mail(
        subject=f"Lantern: case {request.case_number} footage is {request.get_state_display().lower()}",
        message=f"Your evidence request {request.pk} is now: {request.get_state_display()}.\n\n{url}\n",
        from_email=None,
        recipient_list=[request.requested_by.email],
        fail_silently=True,
    )
