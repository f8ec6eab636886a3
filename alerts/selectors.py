"""Reads for alerts: who may see which alert, cameras near a place, the heat map, and forensic search."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from alerts.models import Alert, Detection, Rule, SensorSource
from cameras.models import Camera
from cameras.selectors import camera_editable_by, cameras_visible_to
from cameras.shared_moments import moments_shared_with_q
from community.models import User
from community.selectors import AnyUser, owned_business_ids

_EARTH_RADIUS_M = 6_371_000.0


# Alerts about a camera rather than drawn from its picture: they show no footage.
_ALERT_KINDS_WITHOUT_FOOTAGE = (Alert.Kind.OFFLINE, Alert.Kind.EXTERNAL)


def alerts_visible_to(user: AnyUser) -> QuerySet[Alert]:
    """Owners: alerts of their cameras and sensors. Police: alerts of the cameras they may see, and sensor
    events with no camera (a city's gunshot detection); supervisors those of every camera. An alert drawn from
    video (with its crop) only when that moment was shared with police, as playback decides."""
    qs = Alert.objects.select_related("camera", "camera__site", "rule", "source")
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    assert isinstance(user, User)
    if user.is_owner:
        businesses = owned_business_ids(user)
        return qs.filter(Q(camera__business_id__in=businesses) | Q(source__business_id__in=businesses))
    if not user.is_police:
        return qs.none()
    if user.is_monitor:
        qs = qs.filter(Q(camera__in=cameras_visible_to(user)) | Q(camera__isnull=True, source__business__isnull=True))
    return qs.filter(
        Q(camera__isnull=True)
        | Q(kind__in=_ALERT_KINDS_WITHOUT_FOOTAGE)
        | moments_shared_with_q(user=user, at_field="occurred_at")
    )


def alert_visible_to(*, alert_id: int, user: AnyUser) -> Alert | None:
    return alerts_visible_to(user).filter(pk=alert_id).first()


def rules_of(*, camera: Camera) -> QuerySet[Rule]:
    return Rule.objects.filter(camera=camera).order_by("name")


def rules_editable_by(*, camera: Camera, user: AnyUser) -> bool:
    """The owner and staff set their cameras' rules; police read the alerts, not the owner's settings."""
    return camera_editable_by(camera=camera, user=user)


def sensors_of(*, user: AnyUser) -> QuerySet[SensorSource]:
    if not user.is_authenticated or not user.is_active:
        return SensorSource.objects.none()
    assert isinstance(user, User)
    if user.is_supervisor:
        return SensorSource.objects.all()
    if user.is_owner:
        return SensorSource.objects.filter(business_id__in=owned_business_ids(user))
    return SensorSource.objects.none()


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine): plenty for a few hundred metres around an alert."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(a))


def cameras_near(
    *, user: AnyUser, latitude: float | Decimal, longitude: float | Decimal, radius_m: float, limit: int = 16
) -> list[tuple[Camera, float]]:
    """The cameras this person may see within radius_m of a place, nearest first, with their distance."""
    lat, lng = float(latitude), float(longitude)
    # A bounding box in degrees narrows the query before the exact distance.
    dlat = radius_m / 111_320
    dlng = radius_m / (111_320 * max(math.cos(math.radians(lat)), 0.01))
    candidates = cameras_visible_to(user).filter(
        site__latitude__range=(lat - dlat, lat + dlat), site__longitude__range=(lng - dlng, lng + dlng)
    )
    near = [
        (camera, distance_m(lat, lng, float(camera.site.latitude), float(camera.site.longitude)))
        for camera in candidates
    ]
    return sorted((c for c in near if c[1] <= radius_m), key=lambda c: c[1])[:limit]


def alert_heatmap(*, user: AnyUser, since: datetime, until: datetime) -> list[list[float]]:
    """[[lat, lng, count], …] of the alerts this person may see in the period, per place."""
    rows = (
        alerts_visible_to(user)
        .filter(occurred_at__gte=since, occurred_at__lt=until, latitude__isnull=False)
        .values("latitude", "longitude")
        .annotate(count=Count("id"))
    )
    return [[float(r["latitude"] or 0), float(r["longitude"] or 0), r["count"]] for r in rows]


def detections_visible_to(user: AnyUser) -> QuerySet[Detection]:
    """Detections on the cameras this person may see, at the moments that were shared with them."""
    return Detection.objects.filter(camera__in=cameras_visible_to(user)).filter(
        moments_shared_with_q(user=user, at_field="at")
    )


def detections_search(
    *,
    user: AnyUser,
    classes: list[str] | None = None,
    camera_ids: list[int] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Detection]:
    """Detections on cameras this person may see, at moments shared with them, by class, camera, map area
    (south, west, north, east) and time."""
    qs = detections_visible_to(user).select_related("camera", "camera__site")
    if classes:
        qs = qs.filter(object_class__in=classes)
    if camera_ids:
        qs = qs.filter(camera_id__in=camera_ids)
    if bbox is not None:
        south, west, north, east = bbox
        qs = qs.filter(camera__site__latitude__range=(south, north), camera__site__longitude__range=(west, east))
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lt=until)
    return qs.order_by("-at")


def alert_summary(alert: Alert) -> dict[str, Any]:
    """What a monitor's screen needs to show an alert as it arrives."""
    camera = alert.camera
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "kind_label": alert.get_kind_display(),
        "severity": alert.severity,
        "state": alert.state,
        "title": alert.title,
        "object_class": alert.object_class,
        "occurred_at": alert.occurred_at.isoformat(),
        "camera": {"id": camera.pk, "name": camera.name} if camera else None,
        "latitude": float(alert.latitude) if alert.latitude is not None else None,
        "longitude": float(alert.longitude) if alert.longitude is not None else None,
        "snapshot": bool(alert.snapshot),
    }
