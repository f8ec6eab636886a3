"""Pages and JSON for alerts: the alert list and page, the crime center's nearby cameras, the heat map, each
camera's rules editor, and forensic search over detections with their thumbnails."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST, require_safe

from alerts import selectors, services
from alerts.forms import AlertFilterForm, AlertNoteForm, AlertTransitionForm, DetectionSearchForm
from alerts.models import Alert, CameraAnalytics, Detection, Rule, SensorSource, Severity
from cameras.models import Camera
from cameras.selectors import camera_live_allowed_now, cameras_visible_to
from cameras.services import camera_view_record
from community.permissions import AuthedRequest, police_required
from community.selectors import businesses_visible_to

# Which state each button leads to, in the order the page shows them.
_ACTIONS = (
    (Alert.State.ACKNOWLEDGED, "Acknowledge"),
    (Alert.State.DISPATCHED, "Dispatch"),
    (Alert.State.CLOSED, "Close"),
)
_HEATMAP_MAX_DAYS = 366


def _get_alert_for_viewer(request: HttpRequest, alert_id: int) -> Alert:
    alert = selectors.alert_visible_to(alert_id=alert_id, user=request.user)
    if alert is None:
        raise Http404
    return alert


def _get_camera_for_rules(request: HttpRequest, camera_id: int) -> Camera:
    """Rules are the owner's settings: police and other owners get a 404, as for anything not theirs."""
    camera = get_object_or_404(Camera.objects.select_related("site", "business"), pk=camera_id)
    if not selectors.rules_editable_by(camera=camera, user=request.user):
        raise Http404
    return camera


def _get_detection_for_viewer(request: HttpRequest, detection_id: int) -> Detection:
    return get_object_or_404(selectors.detections_visible_to(request.user).select_related("camera"), pk=detection_id)


# ---------------------------------------------------------------- alert list and page


@login_required
def alert_list(request: AuthedRequest) -> HttpResponse:
    cameras = cameras_visible_to(request.user).order_by("business__name", "name")
    form = AlertFilterForm(request.GET or None, cameras=cameras)
    alerts = selectors.alerts_visible_to(request.user)
    if form.is_valid():
        if form.cleaned_data["state"]:
            alerts = alerts.filter(state=form.cleaned_data["state"])
        if form.cleaned_data["kind"]:
            alerts = alerts.filter(kind=form.cleaned_data["kind"])
        if form.cleaned_data["camera"]:
            alerts = alerts.filter(camera=form.cleaned_data["camera"])
    page = Paginator(alerts.order_by("-occurred_at", "-id"), 50).get_page(request.GET.get("page"))
    config = {
        "socketPath": "/ws/alerts/",
        "detailUrl": reverse("alerts:alert_detail", args=[0]),
        # New alerts are shown live only on the first page of an unfiltered list, where they belong.
        "live": page.number == 1 and not any(request.GET.get(k) for k in ("state", "kind", "camera")),
    }
    return render(request, "alerts/alert_list.html", {"form": form, "page": page, "config": config})


def _alert_page(
    request: AuthedRequest,
    alert: Alert,
    *,
    transition_form: AlertTransitionForm | None = None,
    note_form: AlertNoteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    may_handle = request.user.is_police
    # The buttons offer what the service allows next (it stays the judge: a stale page gets its 400).
    allowed = services.alert_next_states(alert)
    actions = [(state, label) for state, label in _ACTIONS if state in allowed]
    if alert.state == Alert.State.CLOSED:
        actions = [(Alert.State.ACKNOWLEDGED, "Reopen")]
    context = {
        "alert": alert,
        "notes": alert.notes.select_related("author"),
        "may_handle": may_handle,
        "actions": actions if may_handle else [],
        "transition_form": transition_form or AlertTransitionForm(),
        "note_form": note_form or AlertNoteForm(),
    }
    return render(request, "alerts/alert_detail.html", context, status=status)


@login_required
def alert_detail(request: AuthedRequest, alert_id: int) -> HttpResponse:
    return _alert_page(request, _get_alert_for_viewer(request, alert_id))


@login_required
@require_POST
def alert_transition(request: AuthedRequest, alert_id: int) -> HttpResponse:
    alert = _get_alert_for_viewer(request, alert_id)
    if not request.user.is_police:
        raise PermissionDenied
    form = AlertTransitionForm(request.POST)
    if not form.is_valid():
        return _alert_page(request, alert, transition_form=form, status=400)
    try:
        services.alert_transition(
            alert=alert, by=request.user, state=form.cleaned_data["state"], note=form.cleaned_data["note"]
        )
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error(None, message)
        return _alert_page(request, alert, transition_form=form, status=400)
    return redirect("alerts:alert_detail", alert_id=alert.pk)


@login_required
@require_POST
def alert_note(request: AuthedRequest, alert_id: int) -> HttpResponse:
    alert = _get_alert_for_viewer(request, alert_id)
    if not request.user.is_police:
        raise PermissionDenied
    form = AlertNoteForm(request.POST)
    if not form.is_valid():
        return _alert_page(request, alert, note_form=form, status=400)
    try:
        services.alert_note_add(alert=alert, by=request.user, text=form.cleaned_data["text"])
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error("text", message)
        return _alert_page(request, alert, note_form=form, status=400)
    return redirect("alerts:alert_detail", alert_id=alert.pk)


@login_required
@require_safe
def alert_snapshot(request: AuthedRequest, alert_id: int) -> HttpResponseBase:
    alert = _get_alert_for_viewer(request, alert_id)
    if not alert.snapshot:
        raise Http404
    response = FileResponse(alert.snapshot.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- crime center: nearby cameras, heat map


def _nearby(request: AuthedRequest, *, latitude: float, longitude: float, first: Camera | None) -> list[dict[str, Any]]:
    """The cameras this person may see around a place, nearest first, the alert's own camera before all."""
    near = selectors.cameras_near(
        user=request.user, latitude=latitude, longitude=longitude, radius_m=settings.ALERT_NEARBY_RADIUS_M
    )
    if first is not None:
        near.sort(key=lambda row: row[0].pk != first.pk)
    return [
        {
            "id": camera.pk,
            "name": camera.name,
            "business": camera.business.name,
            "distance_m": round(distance, 1),
            "live_now": camera_live_allowed_now(camera=camera),
        }
        for camera, distance in near
    ]


@police_required
@require_safe
def alert_nearby(request: AuthedRequest, alert_id: int) -> JsonResponse:
    alert = _get_alert_for_viewer(request, alert_id)
    cameras: list[dict[str, Any]] = []
    if alert.latitude is not None and alert.longitude is not None:
        cameras = _nearby(request, latitude=float(alert.latitude), longitude=float(alert.longitude), first=alert.camera)
    return JsonResponse(
        {
            "alert": selectors.alert_summary(alert),
            "place": [float(alert.latitude), float(alert.longitude or 0)] if alert.latitude is not None else None,
            "radius_m": settings.ALERT_NEARBY_RADIUS_M,
            "cameras": cameras,
        }
    )


@police_required
@require_safe
def place_nearby(request: AuthedRequest) -> JsonResponse:
    """The same answer for any place (a tip's): `?lat=&lng=` in decimal degrees."""
    try:
        latitude, longitude = float(request.GET["lat"]), float(request.GET["lng"])
    except (KeyError, ValueError):
        return JsonResponse({"detail": "Give lat and lng in decimal degrees."}, status=400)
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return JsonResponse({"detail": "Give lat and lng in decimal degrees."}, status=400)
    return JsonResponse(
        {
            "alert": None,
            "place": [latitude, longitude],
            "radius_m": settings.ALERT_NEARBY_RADIUS_M,
            "cameras": _nearby(request, latitude=latitude, longitude=longitude, first=None),
        }
    )


def _aware(value: str) -> datetime | None:
    parsed = parse_datetime(value)
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


@police_required
@require_safe
def alert_heatmap(request: AuthedRequest) -> JsonResponse:
    """[[lat, lng, count], …] for `?since=&until=` (ISO 8601; until defaults to now, since to a day before)."""
    until = _aware(request.GET["until"]) if request.GET.get("until") else timezone.now()
    since = _aware(request.GET["since"]) if request.GET.get("since") else (until and until - timedelta(days=1))
    if since is None or until is None or since >= until:
        return JsonResponse({"detail": "Give since and until as ISO 8601 times, since before until."}, status=400)
    if until - since > timedelta(days=_HEATMAP_MAX_DAYS):
        return JsonResponse({"detail": f"Ask for at most {_HEATMAP_MAX_DAYS} days at a time."}, status=400)
    points = selectors.alert_heatmap(user=request.user, since=since, until=until)
    return JsonResponse({"since": since.isoformat(), "until": until.isoformat(), "points": points})


# ---------------------------------------------------------------- rules editor


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "name": rule.name,
        "kind": rule.kind,
        "enabled": rule.enabled,
        "classes": rule.classes,
        "zone": rule.zone,
        "line": rule.line,
        "direction": rule.direction,
        "min_dwell_s": rule.min_dwell_s,
        "schedule": rule.schedule,
        "cooldown_s": rule.cooldown_s,
        "severity": rule.severity,
    }


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _errors(exc: ValidationError) -> JsonResponse:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return JsonResponse({"errors": errors}, status=400)


@login_required
def camera_rules(request: AuthedRequest, camera_id: int) -> HttpResponse:
    """GET: the editor. POST (JSON, one rule; with "id" to change that rule): the saved rule or {errors}."""
    camera = _get_camera_for_rules(request, camera_id)
    rules = selectors.rules_of(camera=camera)
    if request.method == "POST":
        data = _json_body(request)
        if data is None:
            return JsonResponse({"errors": {"__all__": ["Send the rule as a JSON object."]}}, status=400)
        rule = None
        if data.get("id") is not None:
            rule = rules.filter(pk=data["id"]).first() if str(data["id"]).isdigit() else None
            if rule is None:
                raise Http404
        try:
            rule = services.rule_save(camera=camera, by=request.user, data=data, rule=rule)
        except ValidationError as exc:
            return _errors(exc)
        except (TypeError, ValueError):
            return JsonResponse({"errors": {"__all__": ["Points are numbers between 0 and 1."]}}, status=400)
        return JsonResponse({"rule": _rule_json(rule)})
    analytics = CameraAnalytics.objects.filter(camera=camera).first()
    config = {
        "rules": [_rule_json(rule) for rule in rules],
        "masks": analytics.ignore_masks if analytics else [],
        "classes": list(services.settings_classes()),
        "severities": Severity.choices,
        "directions": Rule.Direction.choices,
        "saveUrl": reverse("alerts:camera_rules", args=[camera.pk]),
        "deleteUrl": reverse("alerts:camera_rule_delete", args=[camera.pk, 0]),
        "masksUrl": reverse("alerts:camera_masks", args=[camera.pk]),
    }
    return render(request, "alerts/camera_rules.html", {"camera": camera, "rules": rules, "config": config})


@login_required
@require_POST
def camera_rule_delete(request: AuthedRequest, camera_id: int, rule_id: int) -> JsonResponse:
    camera = _get_camera_for_rules(request, camera_id)
    rule = get_object_or_404(selectors.rules_of(camera=camera), pk=rule_id)
    services.rule_delete(rule=rule, by=request.user)
    return JsonResponse({"ok": True})


@login_required
@require_POST
def camera_masks(request: AuthedRequest, camera_id: int) -> JsonResponse:
    """POST {"masks": [[[x, y], …], …]}: the camera's ignore masks, all at once."""
    camera = _get_camera_for_rules(request, camera_id)
    data = _json_body(request)
    if data is None or not isinstance(data.get("masks"), list):
        return JsonResponse({"errors": {"ignore_masks": ["Send {masks: [polygon, …]}."]}}, status=400)
    try:
        analytics = services.ignore_masks_save(camera=camera, by=request.user, masks=data["masks"])
    except ValidationError as exc:
        return _errors(exc)
    except (TypeError, ValueError):
        return JsonResponse({"errors": {"ignore_masks": ["Points are numbers between 0 and 1."]}}, status=400)
    return JsonResponse({"masks": analytics.ignore_masks})


# ---------------------------------------------------------------- forensic search


@police_required
@require_safe
def detection_search(request: AuthedRequest) -> HttpResponse:
    cameras = cameras_visible_to(request.user).order_by("business__name", "name")
    form = DetectionSearchForm(request.GET or None, cameras=cameras)
    page = None
    if form.is_valid():
        data = form.cleaned_data
        results = selectors.detections_search(
            user=request.user,
            classes=data["classes"] or None,
            camera_ids=[data["camera"].pk] if data["camera"] else None,
            bbox=data["area"],
            since=data["since"],
            until=data["until"],
        )
        services.detections_search_record(by=request.user, criteria=data)
        page = Paginator(results, 48).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        "center": settings.MAP_CENTER,
    }
    return render(request, "alerts/search.html", context, status=400 if form.is_bound and form.errors else 200)


@login_required
@require_safe
def detection_thumbnail(request: AuthedRequest, detection_id: int) -> HttpResponseBase:
    detection = _get_detection_for_viewer(request, detection_id)
    if not detection.thumbnail:
        raise Http404
    if request.user.is_police:
        camera_view_record(camera=detection.camera, by=request.user, what="thumbnail")
    response = FileResponse(detection.thumbnail.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- sensors


@login_required
def sensor_list(request: AuthedRequest) -> HttpResponse:
    """An owner's alarm panels and panic buttons (a supervisor's: the city's sensors too), and a form to add one.

    The new sensor's secret is shown on the page that answers the POST, once; it is stored encrypted."""
    user = request.user
    if not (user.is_owner or user.is_supervisor):
        raise PermissionDenied
    businesses = list(businesses_visible_to(user)) if user.is_owner else []
    cameras = list(cameras_visible_to(user).filter(business__in=businesses)) if businesses else []
    created: tuple[SensorSource, str] | None = None
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        business = next((b for b in businesses if str(b.pk) == request.POST.get("business")), None)
        if user.is_owner and business is None:
            errors = {"business": ["Choose one of your businesses."]}
        camera = next((c for c in cameras if str(c.pk) == request.POST.get("camera")), None)
        if not errors:
            try:
                created = services.sensor_source_create(
                    by=user,
                    name=request.POST.get("name", ""),
                    kind=request.POST.get("kind", ""),
                    business=business,
                    camera=camera,
                )
            except ValidationError as exc:
                errors = exc.message_dict
        status = 400 if errors else 201
    context = {
        "sensors": selectors.sensors_of(user=user).select_related("business", "camera"),
        "businesses": businesses,
        "cameras": cameras,
        "kinds": SensorSource.Kind.choices,
        "created": created,
        "errors": errors,
        "ingest_url": request.build_absolute_uri(reverse("sensor-event", args=[created[0].pk])) if created else "",
    }
    return render(request, "alerts/sensors.html", context, status=status)
