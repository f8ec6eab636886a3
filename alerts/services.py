"""Writes for alerts: raising them once, moving them on with notes, rules and masks, sensors and their events."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts.events import alert_changed
from alerts.models import Alert, AlertNote, CameraAnalytics, Detection, Rule, SensorSource, Severity
from alerts.selectors import rules_editable_by
from cameras.credentials import secret_decrypt, secret_encrypt
from cameras.models import Camera, Segment
from cameras.services import camera_alarm_open
from cameras.storage import object_open
from community.models import Business, SharingAgreement, User
from community.selectors import business_editable_by
from community.services import audit_record, schedule_clean

logger = logging.getLogger(__name__)

_TRANSITIONS = {
    Alert.State.NEW: {Alert.State.ACKNOWLEDGED, Alert.State.DISPATCHED, Alert.State.CLOSED},
    Alert.State.ACKNOWLEDGED: {Alert.State.DISPATCHED, Alert.State.CLOSED},
    Alert.State.DISPATCHED: {Alert.State.CLOSED},
    Alert.State.CLOSED: {Alert.State.ACKNOWLEDGED},  # reopened
}


# ---------------------------------------------------------------- alerts


def alert_raise(
    *,
    dedup_key: str,
    kind: str,
    title: str,
    occurred_at: datetime,
    camera: Camera | None = None,
    rule: Rule | None = None,
    source: SensorSource | None = None,
    severity: str = Severity.MEDIUM,
    object_class: str = "",
    track_id: str = "",
    snapshot_jpeg: bytes | None = None,
    segments: Iterable[Segment] = (),
    latitude: Decimal | float | None = None,
    longitude: Decimal | float | None = None,
    details: dict[str, Any] | None = None,
) -> tuple[Alert, bool]:
    """Raise an alert once per `dedup_key`; (alert, created). A retried task or a resent event gets the
    alert it raised before and pushes nothing.

    Where the camera's terms are live-on-alarm, a new alert opens live viewing for the terms' window.
    """
    existing = Alert.objects.filter(dedup_key=dedup_key).first()
    if existing is not None:
        return existing, False
    if camera is not None and latitude is None:
        latitude, longitude = camera.site.latitude, camera.site.longitude
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                dedup_key=dedup_key,
                kind=kind,
                title=title[:200],
                occurred_at=occurred_at,
                camera=camera,
                rule=rule,
                source=source,
                severity=severity,
                object_class=object_class,
                track_id=track_id,
                latitude=latitude,
                longitude=longitude,
                details=details or {},
            )
            if snapshot_jpeg:
                alert.snapshot.save(f"alert-{alert.pk}.jpg", ContentFile(snapshot_jpeg), save=True)
            alert.segments.set(list(segments))
            agreement = camera.agreement if camera is not None else None
            if (
                camera is not None
                and agreement is not None
                and agreement.state == SharingAgreement.State.ACTIVE
                and agreement.mode == SharingAgreement.Mode.ALARM
            ):
                camera_alarm_open(camera=camera, by=None, source=f"alert {alert.pk}: {alert.title}")
    except IntegrityError:
        # Another worker raised the same alert between our look and our insert; theirs stands.
        return Alert.objects.get(dedup_key=dedup_key), False
    alert_id = alert.pk
    transaction.on_commit(lambda: alert_changed(alert_id, created=True))
    return alert, True


def alert_next_states(alert: Alert) -> list[str]:
    """The states an alert can move to from where it is, in the order the buttons show them."""
    return [state for state in Alert.State.values if state in _TRANSITIONS[Alert.State(alert.state)]]


@transaction.atomic
def alert_transition(*, alert: Alert, by: User, state: str, note: str = "") -> Alert:
    """Acknowledge, dispatch, close or reopen an alert, with an optional note; the note stays with the alert."""
    if not by.is_active or not by.is_police:
        raise PermissionDenied("Only police monitors handle alerts.")
    current = Alert.State(alert.state)
    target = Alert.State(state)
    if target not in _TRANSITIONS[current]:
        raise ValidationError(
            {"state": f"An alert that is {current.label.lower()} cannot become {target.label.lower()}."}
        )
    AlertNote.objects.create(alert=alert, author=by, text=note.strip(), state_from=current, state_to=target)
    alert.state = target
    alert.save(update_fields=["state", "updated_at"])
    transaction.on_commit(lambda: alert_changed(alert.pk, created=False))
    return alert


def alert_note_add(*, alert: Alert, by: User, text: str) -> AlertNote:
    if not by.is_active or not by.is_police:
        raise PermissionDenied("Only police monitors write notes on alerts.")
    if not text.strip():
        raise ValidationError({"text": "Write the note first."})
    note = AlertNote.objects.create(alert=alert, author=by, text=text.strip())
    transaction.on_commit(lambda: alert_changed(alert.pk, created=False))
    return note


def camera_health_changed(*, camera: Camera, was: str, now: str, message: str = "") -> Alert | None:
    """A camera that was online and is not any more raises an "offline" alert (once per outage)."""
    if was != Camera.Health.ONLINE or now == Camera.Health.ONLINE:
        return None
    at = timezone.now()
    alert, _ = alert_raise(
        dedup_key=f"camera:{camera.pk}:offline:{at:%Y%m%dT%H%M%S}",
        kind=Alert.Kind.OFFLINE,
        title=f"{camera.name} went offline",
        occurred_at=at,
        camera=camera,
        severity=Severity.LOW,
        details={"message": message},
    )
    return alert


# ---------------------------------------------------------------- rules and masks


_POINT_RANGE = (0.0, 1.0)


def _points(value: Any, *, minimum: int, field: str) -> list[list[float]]:
    if not isinstance(value, list) or len(value) < minimum:
        raise ValidationError({field: f"Draw at least {minimum} points."})
    points = []
    for point in value:
        if not (isinstance(point, list | tuple) and len(point) == 2):
            raise ValidationError({field: "Each point is [x, y]."})
        try:
            x, y = (float(point[0]), float(point[1]))
        except (TypeError, ValueError) as exc:
            raise ValidationError({field: "Points are numbers."}) from exc
        if not (_POINT_RANGE[0] <= x <= _POINT_RANGE[1] and _POINT_RANGE[0] <= y <= _POINT_RANGE[1]):
            raise ValidationError({field: "Points must lie on the picture (0 to 1 across and down)."})
        points.append([round(x, 5), round(y, 5)])
    return points


def rule_save(*, camera: Camera, by: User, data: dict[str, Any], rule: Rule | None = None) -> Rule:
    """Create or change one of the camera's rules; ValidationError with field keys for bad input."""
    if not rules_editable_by(camera=camera, user=by):
        raise PermissionDenied("Only the camera's owner sets its rules.")
    if rule is not None and rule.camera_id != camera.pk:
        raise PermissionDenied("That rule is not this camera's.")
    kind = data.get("kind", Rule.Kind.ZONE)
    if kind not in Rule.Kind.values:
        raise ValidationError({"kind": "Choose a zone or a line."})
    name = str(data.get("name", "")).strip()
    if not name:
        raise ValidationError({"name": "Give the rule a name."})
    rule = rule or Rule(camera=camera)
    rule.name = name[:100]
    rule.kind = kind
    rule.enabled = bool(data.get("enabled", True))
    rule.classes = sorted({str(c) for c in data.get("classes", [])} & set(settings_classes()))
    if kind == Rule.Kind.ZONE:
        rule.zone, rule.line = _points(data.get("zone"), minimum=3, field="zone"), []
    else:
        rule.line, rule.zone = _points(data.get("line"), minimum=2, field="line")[:2], []
    direction = data.get("direction", Rule.Direction.ANY)
    if direction not in Rule.Direction.values:
        raise ValidationError({"direction": "Choose a direction."})
    rule.direction = direction
    for name, default in (("min_dwell_s", 0), ("cooldown_s", 60)):
        try:
            seconds = max(0.0, float(data.get(name, default) or 0))
        except (TypeError, ValueError) as exc:
            raise ValidationError({name: "Use seconds."}) from exc
        setattr(rule, name, seconds if name == "min_dwell_s" else int(seconds))
    rule.schedule = schedule_clean(data.get("schedule") or {})
    severity = data.get("severity", Severity.MEDIUM)
    if severity not in Severity.values:
        raise ValidationError({"severity": "Choose low, medium or high."})
    rule.severity = severity
    rule.save()
    audit_record(actor=by, action="rule.save", target=camera, details={"rule": rule.pk, "name": rule.name})
    return rule


def rule_delete(*, rule: Rule, by: User) -> None:
    if not rules_editable_by(camera=rule.camera, user=by):
        raise PermissionDenied("Only the camera's owner sets its rules.")
    audit_record(actor=by, action="rule.delete", target=rule.camera, details={"rule": rule.pk, "name": rule.name})
    rule.delete()


def ignore_masks_save(*, camera: Camera, by: User, masks: Sequence[Any]) -> CameraAnalytics:
    if not rules_editable_by(camera=camera, user=by):
        raise PermissionDenied("Only the camera's owner sets its masks.")
    polygons = [_points(mask, minimum=3, field="ignore_masks") for mask in masks]
    analytics, _ = CameraAnalytics.objects.get_or_create(camera=camera)
    analytics.ignore_masks = polygons
    analytics.save(update_fields=["ignore_masks", "updated_at"])
    audit_record(actor=by, action="analytics.masks", target=camera, details={"masks": len(polygons)})
    return analytics


def settings_classes() -> tuple[str, ...]:
    """The object classes rules can name: the yolo backend's; the opencv backend only ever finds people."""
    return ("person", "bicycle", "car", "motorcycle", "bus", "truck")


# ---------------------------------------------------------------- sensors


def sensor_source_create(
    *,
    by: User,
    name: str,
    kind: str,
    business: Business | None = None,
    camera: Camera | None = None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> tuple[SensorSource, str]:
    """Register a sensor; returns it and its HMAC secret, which is shown once."""
    if business is not None and not business_editable_by(business=business, user=by):
        raise PermissionDenied("Not your business.")
    if business is None and not by.is_supervisor:
        raise PermissionDenied("Only supervisors register city-wide sensors.")
    if camera is not None and (business is None or camera.business_id != business.pk):
        raise ValidationError({"camera": "Choose one of the business's cameras."})
    if kind not in SensorSource.Kind.values:
        raise ValidationError({"kind": "Choose the kind of sensor."})
    if camera is not None and latitude is None:
        latitude, longitude = camera.site.latitude, camera.site.longitude
    secret = secrets.token_urlsafe(32)
    source = SensorSource.objects.create(
        name=name.strip()[:100] or SensorSource.Kind(kind).label,
        kind=kind,
        business=business,
        camera=camera,
        latitude=latitude,
        longitude=longitude,
        secret_encrypted=secret_encrypt(secret),
    )
    audit_record(actor=by, action="sensor.create", target=source, business_id=business.pk if business else None)
    return source, secret


def sensor_signature_valid(
    *, source: SensorSource, timestamp: str, body: bytes, signature: str, now: datetime | None = None
) -> bool:
    """`X-Lantern-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` with a fresh
    `X-Lantern-Timestamp` (Unix seconds): the timestamp inside the signature stops replays after
    SENSOR_SIGNATURE_MAX_AGE_S."""
    if not source.enabled or not timestamp or not signature.startswith("sha256="):
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    now_s = (now or timezone.now()).timestamp()
    if abs(now_s - sent) > settings.SENSOR_SIGNATURE_MAX_AGE_S:
        return False
    key = secret_decrypt(source.secret_encrypted).encode()
    expected = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.removeprefix("sha256="))


def sensor_event_record(*, source: SensorSource, body: bytes) -> tuple[Alert, bool]:
    """A signed event from a sensor becomes an alert at its place (once per event id); ValidationError for a
    body that is not the documented JSON."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError as exc:
        raise ValidationError({"body": "Send a JSON object."}) from exc
    if not isinstance(payload, dict):
        raise ValidationError({"body": "Send a JSON object."})
    event_id = str(payload.get("id", "")).strip()
    if not event_id or len(event_id) > 100:
        raise ValidationError(
            {"id": "Give each event an id (at most 100 characters), so a resend is not a second alert."}
        )
    now = timezone.now()
    occurred_at = now
    if payload.get("occurred_at"):
        try:
            parsed = parse_datetime(str(payload["occurred_at"]))
        except ValueError:  # well formed but impossible, such as month 13
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ValidationError({"occurred_at": "Use an ISO 8601 time with its offset."})
        # The same window the signature's timestamp must fall in: an event from the future (or from long ago)
        # would sort above every real alert, or sneak into the past of a case.
        window = timedelta(seconds=settings.SENSOR_SIGNATURE_MAX_AGE_S)
        if parsed > now + _SENSOR_CLOCK_SKEW:
            raise ValidationError({"occurred_at": "The event is in the future; check the sensor's clock."})
        if parsed < now - window:
            raise ValidationError(
                {"occurred_at": f"The event is older than {window.total_seconds():g} s; send events as they happen."}
            )
        occurred_at = parsed
    latitude, longitude = source.latitude, source.longitude
    if payload.get("latitude") is not None or payload.get("longitude") is not None:
        latitude, longitude = _sensor_place(latitude=payload.get("latitude"), longitude=payload.get("longitude"))
    severity = payload.get("severity", source.severity)
    if severity not in Severity.values:
        raise ValidationError({"severity": "Use low, medium or high."})
    message = str(payload.get("message", "")).strip()[:150]
    return alert_raise(
        dedup_key=f"sensor:{source.pk}:event:{event_id}",
        kind=Alert.Kind.EXTERNAL,
        title=f"{source.get_kind_display()}: {message or source.name}",
        occurred_at=occurred_at,
        camera=source.camera,
        source=source,
        severity=severity,
        latitude=latitude,
        longitude=longitude,
        details={"event_id": event_id, "message": message},
    )


# A sensor's clock may run a little ahead of ours.
_SENSOR_CLOCK_SKEW = timedelta(seconds=60)
_PLACE_ERROR = "Give both latitude (-90 to 90) and longitude (-180 to 180) in decimal degrees."


def _sensor_place(*, latitude: Any, longitude: Any) -> tuple[Decimal, Decimal]:
    """An event's own place; anything but two finite numbers in range is refused (NaN included, which would
    otherwise slip past a range check)."""
    if latitude is None or longitude is None or isinstance(latitude, bool) or isinstance(longitude, bool):
        raise ValidationError({"latitude": _PLACE_ERROR})
    try:
        lat, lon = Decimal(str(latitude)), Decimal(str(longitude))
    except ArithmeticError as exc:
        raise ValidationError({"latitude": _PLACE_ERROR}) from exc
    if not (lat.is_finite() and lon.is_finite() and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationError({"latitude": _PLACE_ERROR})
    # The columns keep six decimals; more would fail at save time as a 500.
    return lat.quantize(Decimal("0.000001")), lon.quantize(Decimal("0.000001"))


def detections_search_record(*, by: User, criteria: dict[str, Any]) -> None:
    """Forensic searches look through footage of many cameras; each one is in the audit trail."""
    audit_record(actor=by, action="detections.search", details={k: str(v) for k, v in criteria.items() if v})


# ---------------------------------------------------------------- segment analysis

_HIT_KINDS = {"zone_entry": Alert.Kind.ZONE, "loitering": Alert.Kind.LOITERING, "line_crossing": Alert.Kind.LINE}
_HIT_WORDS = {"zone_entry": "in", "loitering": "loitering in", "line_crossing": "crossed"}
_TAMPER_WORDS = {"covered": "lens covered or blank", "scene_changed": "view changed suddenly"}
# A track not seen for this long is forgotten by the rules (longer than the tracker's own memory).
_TRACK_FORGET_S = 60.0
_detectors: dict[str, Any] = {}


def _detector() -> Any:
    """One detector per worker process and backend: building one (a YOLO model above all) is the slow part."""
    from alerts.analysis.detectors import detector_for

    backend = settings.ANALYTICS_BACKEND
    if backend not in _detectors:
        _detectors[backend] = detector_for(backend)
    return _detectors[backend]


def _rule_specs(*, camera: Camera) -> tuple[dict[int, Rule], list[Any]]:
    from alerts.rules import RuleSpec

    rules = {rule.pk: rule for rule in Rule.objects.filter(camera=camera, enabled=True)}
    specs = []
    for rule in rules.values():
        try:
            specs.append(
                RuleSpec(
                    id=rule.pk,
                    kind=rule.kind,  # type: ignore[arg-type]
                    classes=frozenset(rule.classes),
                    zone=tuple(tuple(p) for p in rule.zone),  # type: ignore[misc]
                    line=tuple(tuple(p) for p in rule.line) if rule.line else None,  # type: ignore[arg-type]
                    direction=rule.direction,  # type: ignore[arg-type]
                    min_dwell_s=rule.min_dwell_s,
                    schedule=rule.schedule,
                    tz_name=camera.site.timezone,
                    cooldown_s=float(rule.cooldown_s),
                    severity=rule.severity,
                )
            )
        except ValueError:
            # rule_save validates; a rule that still does not make sense is skipped, not the whole camera.
            logger.exception("camera %s: rule %s is not usable", camera.pk, rule.pk)
    return rules, specs


def segment_analysis_skip(*, analytics: CameraAnalytics, segment: Segment) -> bool:
    """Skip (and count) a segment when the worker has fallen behind its camera: more than
    ANALYTICS_MAX_BACKLOG_SEGMENTS newer segments of the camera are recorded and still wait for analysis.

    The oldest footage goes unanalysed so that the newest is analysed while it still matters (an alert about a
    person at the door half an hour ago helps no one); the backlog of a camera stays bounded whatever the
    queue holds. The tracker's state simply spans the gap, as it does when a camera drops out.
    """
    waiting = Segment.objects.filter(camera_id=segment.camera_id, ended_at__gt=segment.ended_at).count()
    if waiting <= settings.ANALYTICS_MAX_BACKLOG_SEGMENTS:
        return False
    CameraAnalytics.objects.filter(pk=analytics.pk).update(
        segments_skipped=F("segments_skipped") + 1, segment_skipped_at=timezone.now()
    )
    logger.warning(
        "analysis of camera %s is %s segments behind: segment %s skipped", segment.camera_id, waiting, segment.pk
    )
    return True


def segment_analyse(*, segment_id: int) -> int:
    """Analyse one recorded segment: store what was detected (for search), apply the camera's rules, and raise
    an alert per track per rule and per tamper sign. Returns how many alerts it raised.

    Alerts are raised as they are found (a monitor should not wait for the bookkeeping); the state the next
    segment starts from is saved last. A worker that dies in between leaves the old state, so the segment is
    analysed again from it, finds the same tracks (ids come from the saved state) and therefore the same alerts,
    which alert_raise's unique key turns into the ones already raised.
    """
    from alerts.analysis.pipeline import CameraAnalysisState, FrameAnalysis
    from alerts.analysis.pipeline import segment_analyse as media_analyse
    from alerts.rules import RuleEngine, TrackPoint

    segment = (
        Segment.objects.select_related("camera", "camera__site", "camera__agreement", "camera__business")
        .filter(pk=segment_id)
        .first()
    )
    if segment is None:
        return 0
    camera = segment.camera
    analytics, _ = CameraAnalytics.objects.get_or_create(camera=camera)
    if not analytics.enabled:
        return 0
    if analytics.last_segment_end is not None and segment.ended_at <= analytics.last_segment_end:
        # Already analysed (its message came twice), or older than what the saved state has moved past.
        return 0
    if segment_analysis_skip(analytics=analytics, segment=segment):
        return 0
    fps = settings.ANALYTICS_FPS
    saved = analytics.state or {}
    if not saved.get("media"):
        # A camera's first state is saved before anything else: its track ids carry a random token, and a
        # re-run after a crash must start from the same one, or it would raise its alerts again under new ids.
        saved = {**saved, "media": CameraAnalysisState.new(fps=fps).to_json()}
        CameraAnalytics.objects.filter(pk=analytics.pk).update(state=saved)
    state = CameraAnalysisState.from_json(saved.get("media"), fps=fps)
    rules, specs = _rule_specs(camera=camera)
    engine = RuleEngine(rules=specs, state=saved.get("rules"))
    around = [segment, *Segment.objects.filter(camera=camera, ended_at=segment.started_at)[:1]]
    raised: list[tuple[Alert, str]] = []
    created_count = [0]

    def frame_done(frame: FrameAnalysis) -> None:
        # Rules run frame by frame, so an alert goes out as soon as its frame is analysed, not at the
        # segment's end: what a monitor waits for is the segment's recording, not its analysis as well.
        at = segment.started_at + timedelta(seconds=frame.offset)
        observations = [
            TrackPoint(
                track_id=found.track_id,
                object_class=found.object_class,
                at=at,
                box=(found.box[0], found.box[1], found.box[0] + found.box[2], found.box[1] + found.box[3]),
            )
            for found in frame.detections
            if found.track_id
        ]
        for hit in engine.observe(observations=observations) if observations else []:
            rule = rules.get(hit.rule_id)
            alert, created = alert_raise(
                dedup_key=f"camera:{camera.pk}:{hit.dedup_key}",
                kind=_HIT_KINDS[hit.kind],
                title=f"{hit.object_class.capitalize()} {_HIT_WORDS[hit.kind]} “{rule.name if rule else hit.rule_id}”"
                f" on {camera.name}",
                occurred_at=hit.at,
                camera=camera,
                rule=rule,
                severity=hit.severity,
                object_class=hit.object_class,
                track_id=hit.track_id,
                segments=around,
                details={"box": list(hit.box), "direction": hit.direction, "segment": segment.pk},
            )
            if created:
                created_count[0] += 1
            if created or not alert.snapshot:  # a re-run after a crash also gives the alert its picture
                raised.append((alert, hit.track_id))

    with tempfile.NamedTemporaryFile(prefix="lantern-analyse-", suffix=".mp4") as local:
        # A local copy: S3 streams cannot seek, and the segment is only ~10 s.
        with contextlib.closing(object_open(name=segment.key)) as stream:
            shutil.copyfileobj(stream, local, 1024 * 1024)
        local.flush()
        result = media_analyse(
            source=local.name,
            fps=fps,
            ignore_masks=analytics.ignore_masks,
            detector=_detector(),
            state=state,
            thumbnails=settings.ANALYTICS_THUMBNAILS,
            on_frame=frame_done,
        )
    engine.forget_stale(now=segment.ended_at, after_s=_TRACK_FORGET_S)

    thumbnails = {(t.offset, t.detection.track_id): t.jpeg for t in result.thumbnails}
    by_track: dict[str, bytes] = {t.detection.track_id or "": t.jpeg for t in result.thumbnails}
    for alert, track_id in raised:
        # The best picture of the track is known once the segment is through; it follows the alert.
        if by_track.get(track_id) and not alert.snapshot:
            alert.snapshot.save(f"alert-{alert.pk}.jpg", ContentFile(by_track[track_id]), save=True)
    with transaction.atomic():
        # A re-run replaces what an earlier, interrupted run stored.
        Detection.objects.filter(segment=segment).delete()
        rows = []
        for offset, found in result.detections:
            x, y, w, h = found.box
            rows.append(
                Detection(
                    camera=camera,
                    segment=segment,
                    at=segment.started_at + timedelta(seconds=offset),
                    object_class=found.object_class,
                    confidence=round(found.confidence, 4),
                    x=x,
                    y=y,
                    w=w,
                    h=h,
                    track_id=found.track_id or "",
                )
            )
        Detection.objects.bulk_create(rows)
        for row, (offset, found) in zip(rows, result.detections, strict=True):
            jpeg = thumbnails.get((offset, found.track_id))
            if jpeg:
                row.thumbnail.save(f"detection-{row.pk}.jpg", ContentFile(jpeg), save=True)

    count = created_count[0]
    for change in result.tamper_changes:
        if not change.started:
            continue
        _, created = alert_raise(
            dedup_key=f"camera:{camera.pk}:tamper:{change.kind}:{segment.pk}:{change.offset:.2f}",
            kind=Alert.Kind.TAMPER,
            title=f"{camera.name}: {_TAMPER_WORDS.get(change.kind, change.kind)}",
            occurred_at=segment.started_at + timedelta(seconds=change.offset),
            camera=camera,
            severity=Severity.HIGH,
            segments=around,
            details={"sign": change.kind},
        )
        count += created

    _analysis_state_save(
        analytics=analytics, segment=segment, state={"media": state.to_json(), "rules": engine.state_dump()}
    )
    return count


def _analysis_state_save(*, analytics: CameraAnalytics, segment: Segment, state: dict[str, Any]) -> None:
    # Saved only if no later segment's analysis got there first (two workers, one camera).
    CameraAnalytics.objects.filter(pk=analytics.pk).filter(
        Q(last_segment_end__isnull=True) | Q(last_segment_end__lt=segment.ended_at)
    ).update(state=state, last_segment_end=segment.ended_at, updated_at=timezone.now())
