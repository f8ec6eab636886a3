"""Pages for cameras: the owner's enrolment, health and storage pages, the police map, list and camera page,
snapshots, playback of recordings, evidence requests, and the signed links that stand in for S3's."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST, require_safe

from cameras import selectors, services
from cameras.forms import (
    CameraFilterForm,
    CameraForm,
    EvidenceDecisionForm,
    EvidenceFilterForm,
    EvidenceRequestForm,
    RecordingsWindowForm,
    evidence_window_initial,
)
from cameras.live import live_ice_servers_for_browser
from cameras.models import Camera, EvidenceRequest
from cameras.selectors import PlaybackDecision
from cameras.shared_moments import moment_shared_with
from cameras.storage import object_open, object_url, signed_link_target
from community.forms import add_service_errors
from community.models import Business, SharingAgreement, User
from community.permissions import AuthedRequest, owner_required, police_required
from community.selectors import business_editable_by


def _get_business_for_editor(request: HttpRequest, business_id: int) -> Business:
    business = get_object_or_404(Business, pk=business_id)
    if not business_editable_by(business=business, user=request.user):
        raise Http404
    return business


def _get_camera_for_editor(request: HttpRequest, camera_id: int) -> Camera:
    camera = get_object_or_404(Camera.objects.select_related("site", "business", "agreement"), pk=camera_id)
    if not selectors.camera_editable_by(camera=camera, user=request.user):
        raise Http404
    return camera


def _get_camera_for_viewer(request: HttpRequest, camera_id: int) -> Camera:
    camera = get_object_or_404(Camera.objects.select_related("site", "business", "agreement"), pk=camera_id)
    if not selectors.camera_viewable_by(camera=camera, user=request.user):
        raise Http404
    return camera


# ---------------------------------------------------------------- owner


@owner_required
def camera_create(request: AuthedRequest, business_id: int) -> HttpResponse:
    business = _get_business_for_editor(request, business_id)
    if not business.sites.exists():
        messages.info(request, "Add the site where the camera is first.")
        return redirect("community:site_create", business_id=business.pk)
    form = CameraForm(request.POST or None, business=business)
    if request.method == "POST" and form.is_valid():
        try:
            camera, push_token = services.camera_create(business=business, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if push_token:
                # Shown once: only its hash is stored.
                request.session[f"push_token_{camera.pk}"] = push_token
            messages.success(request, f"“{camera.name}” enrolled. Lantern is checking the stream now.")
            return redirect("cameras:camera_detail", camera_id=camera.pk)
    return render(request, "cameras/camera_form.html", {"form": form, "business": business})


@owner_required
def camera_detail(request: AuthedRequest, camera_id: int) -> HttpResponse:
    camera = _get_camera_for_editor(request, camera_id)
    context = {
        "camera": camera,
        "push_token": request.session.pop(f"push_token_{camera.pk}", None),
        "events": selectors.camera_events(camera=camera, user=request.user)[:20],
    }
    return render(request, "cameras/camera_detail.html", context)


@owner_required
def camera_edit(request: AuthedRequest, camera_id: int) -> HttpResponse:
    camera = _get_camera_for_editor(request, camera_id)
    initial = {
        "name": camera.name,
        "site": camera.site_id,
        "source": camera.source,
        "placement": camera.placement,
        "views": camera.views,
        "agreement": camera.agreement_id,
    }
    form = CameraForm(request.POST or None, business=camera.business, editing=camera, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.camera_update(
                camera=camera,
                by=request.user,
                stream_url=data["stream_url"] or None,
                stream_username=data["stream_username"],
                stream_password=data["stream_password"],
                name=data["name"],
                site=data["site"],
                placement=data["placement"],
                views=data["views"],
                agreement=data["agreement"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("cameras:camera_detail", camera_id=camera.pk)
    return render(request, "cameras/camera_form.html", {"form": form, "business": camera.business, "camera": camera})


@owner_required
@require_POST
def camera_probe(request: AuthedRequest, camera_id: int) -> HttpResponse:
    camera = _get_camera_for_editor(request, camera_id)
    try:
        services.camera_probe_request(camera=camera, by=request.user)
    except ValidationError as exc:
        messages.info(request, " ".join(exc.messages))
    else:
        messages.success(request, "Checking the stream now; refresh in a few seconds.")
    return redirect("cameras:camera_detail", camera_id=camera.pk)


@owner_required
@require_POST
def camera_push_token_rotate(request: AuthedRequest, camera_id: int) -> HttpResponse:
    camera = _get_camera_for_editor(request, camera_id)
    try:
        request.session[f"push_token_{camera.pk}"] = services.camera_push_token_rotate(camera=camera, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("cameras:camera_detail", camera_id=camera.pk)


@owner_required
@require_POST
def camera_delete(request: AuthedRequest, camera_id: int) -> HttpResponse:
    camera = _get_camera_for_editor(request, camera_id)
    business_id = camera.business_id
    services.camera_delete(camera=camera, by=request.user)
    messages.success(request, f"“{camera.name}” removed.")
    return redirect("community:business_detail", business_id=business_id)


# ---------------------------------------------------------------- police


@police_required
def police_map(request: AuthedRequest) -> HttpResponse:
    context = {
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        "center": settings.MAP_CENTER,
        "modes": SharingAgreement.Mode.choices,
        "healths": Camera.Health.choices,
    }
    return render(request, "cameras/police_map.html", context)


@police_required
def police_camera_list(request: AuthedRequest) -> HttpResponse:
    form = CameraFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    cameras = selectors.cameras_search(user=request.user, **filters)
    page = Paginator(cameras, 50).get_page(request.GET.get("page"))
    return render(request, "cameras/police_camera_list.html", {"form": form, "page": page})


@police_required
def police_camera_detail(request: AuthedRequest, camera_id: int) -> HttpResponse:
    camera = _get_camera_for_viewer(request, camera_id)
    user = request.user
    services.camera_view_record(camera=camera, by=user)
    context = {
        "camera": camera,
        "live_now": selectors.camera_live_allowed_now(camera=camera),
        "snapshot_shared": moment_shared_with(camera=camera, user=user, at=camera.snapshot_at),
    }
    return render(request, "cameras/police_camera_detail.html", context)


@login_required
def camera_snapshot(request: AuthedRequest, camera_id: int) -> HttpResponseBase:
    camera = _get_camera_for_viewer(request, camera_id)
    user = request.user
    if not camera.snapshot or not moment_shared_with(camera=camera, user=user, at=camera.snapshot_at):
        raise Http404
    if user.is_police:
        services.camera_view_record(camera=camera, by=user, what="snapshot")
    response = FileResponse(camera.snapshot.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@police_required
def police_wall(request: AuthedRequest) -> HttpResponse:
    """The live wall; the JavaScript (static/js/live_wall.js) plays each tile over WHEP."""
    if request.method == "POST":
        try:
            data = json.loads(request.body or b"{}")
            services.wall_save(user=request.user, layout=int(data.get("layout", 4)), tiles=list(data.get("tiles", [])))
        except (ValueError, TypeError, AttributeError):
            return JsonResponse({"detail": "Send {layout: 1|4|9|16, tiles: [camera id or null, ...]}."}, status=400)
        except ValidationError as exc:
            return JsonResponse(exc.message_dict, status=400)
        return JsonResponse({"ok": True})
    wall = selectors.wall_for(user=request.user)
    cameras = selectors.cameras_visible_to(request.user).order_by("business__name", "name")
    config = {
        "layout": wall.layout,
        "tiles": wall.tiles,
        "cameras": [{"id": c.pk, "name": f"{c.name} · {c.business.name}"} for c in cameras],
        "whepUrl": reverse("cameras:whep_camera", args=[0]),
        "saveUrl": reverse("cameras:police_wall"),
        "iceServers": live_ice_servers_for_browser(),
    }
    # Cameras that can be watched now first; the others stay listed, and their tile says why not.
    rows = sorted(((c, selectors.camera_live_allowed_now(camera=c)) for c in cameras), key=lambda row: not row[1])
    return render(request, "cameras/police_wall.html", {"config": config, "rows": rows, "layouts": [1, 4, 9, 16]})


def _refused(request: HttpRequest, message: str, *, status: int = 403) -> HttpResponse:
    """A whole action this person's role or the owner's terms do not allow, said in words."""
    return render(request, "cameras/refused.html", {"message": message}, status=status)


def _is_conflict(exc: ValidationError) -> bool:
    """The services say "already done" (answered twice, retried while not failed) with this code."""
    return getattr(exc, "code", None) == "conflict"


# ---------------------------------------------------------------- signed links (local storage)


@require_safe
def media_signed(request: HttpRequest, token: str) -> HttpResponseBase:
    """A recording or an exported file behind a signed link of a few minutes, the local stand-in for an S3
    presigned URL: no login, the token is the permission (the link was handed out, and audited, by a view
    that checked who asked). Whole files only; the player fetches whole segments."""
    try:
        name, filename = signed_link_target(token=token)
    except signing.SignatureExpired:
        return HttpResponse("This link has expired; ask for a new one.", status=410, content_type="text/plain")
    except signing.BadSignature:
        raise Http404 from None
    try:
        stream = object_open(name=name)
    except FileNotFoundError:
        raise Http404 from None
    content_type = mimetypes.guess_type(filename or name)[0] or "application/octet-stream"
    response = FileResponse(stream, content_type=content_type, as_attachment=bool(filename), filename=filename)
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- playback

# The timeline's lengths on offer; police never see further back than PLAYBACK_HOURS.
_TIMELINE_HOURS = (1, 3, 6, 12, 24, 72, 168)
# Segments closer than this are drawn (and played) as one stretch: recorder start times jitter a little.
_COVERAGE_JOIN_S = 1.0


def _timeline_hours(request: HttpRequest, decision: PlaybackDecision) -> tuple[int, list[int]]:
    """The timeline's length (?hours=) and the lengths on offer: police up to PLAYBACK_HOURS, owners a week."""
    if decision.since is None:
        offered = list(_TIMELINE_HOURS)
    else:
        offered = sorted({h for h in _TIMELINE_HOURS if h < settings.PLAYBACK_HOURS} | {settings.PLAYBACK_HOURS})
    asked = request.GET.get("hours", "")
    return (int(asked) if asked.isdigit() and int(asked) in offered else min(24, offered[-1])), offered


def _epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _coverage(spans: Iterable[tuple[datetime, datetime]]) -> list[list[int]]:
    """Segment times, in start order, merged into the stretches of footage the timeline draws."""
    merged: list[list[int]] = []
    join_ms = int(_COVERAGE_JOIN_S * 1000)
    for started_at, ended_at in spans:
        start, end = _epoch_ms(started_at), _epoch_ms(ended_at)
        if merged and start <= merged[-1][1] + join_ms:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _aware(value: str | None) -> datetime | None:
    at = parse_datetime(value) if value else None
    if at is not None and timezone.is_naive(at):
        at = at.replace(tzinfo=UTC)
    return at


@login_required
def camera_playback(request: AuthedRequest, camera_id: int) -> HttpResponse:
    """Scrub a camera's recordings; the player (static/js/playback.js) asks recordings.json for each part."""
    camera = _get_camera_for_viewer(request, camera_id)
    decision = selectors.playback_decision(camera=camera, user=request.user)
    if not decision.allowed:
        return _refused(request, decision.message, status=decision.status)
    now = timezone.now()
    hours, offered = _timeline_hours(request, decision)
    start = now - timedelta(hours=hours)
    at = _aware(request.GET.get("at"))
    if at is not None and at < start and decision.since is None:
        # The owner followed a link to an older moment: widen the timeline to show it.
        start = at - timedelta(minutes=30)
    if decision.since is not None:
        start = max(start, decision.since)
    spans = selectors.segments_for_playback(camera=camera, user=request.user, since=start, until=now).values_list(
        "started_at", "ended_at"
    )
    config = {
        "recordingsUrl": reverse("cameras:camera_recordings", args=[camera.pk]),
        "windowStart": _epoch_ms(start),
        "windowEnd": _epoch_ms(now),
        "coverage": _coverage(spans),
        "timeZone": camera.site.timezone,
        "at": _epoch_ms(at) if at is not None and start <= at <= now else None,
    }
    context = {
        "camera": camera,
        "config": config,
        "hours": hours,
        "offered_hours": offered,
        "police": request.user.is_police,
        "since": decision.since,
        "playback_hours": settings.PLAYBACK_HOURS,
    }
    return render(request, "cameras/playback.html", context)


def recordings_playlist(
    *, request: HttpRequest, camera: Camera, user: User, decision: PlaybackDecision, since: datetime, until: datetime
) -> dict[str, Any]:
    """The segments this person may play in [since, until), each with a link of a few minutes; one audit
    event for the whole list (the page and the API answer with the same)."""
    if decision.since is not None:
        # What the owner's log says was played is what could be: nothing before the allowed start.
        since = min(max(since, decision.since), until)
    segments = list(selectors.segments_for_playback(camera=camera, user=user, since=since, until=until))
    services.playback_record(camera=camera, by=user, since=since, until=until)
    return {
        "camera": camera.pk,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "available_since": decision.since.isoformat() if decision.since else None,
        "expires_in": settings.MEDIA_URL_EXPIRE_S,
        "segments": [
            {
                "start": s.started_at.isoformat(),
                "end": s.ended_at.isoformat(),
                "url": request.build_absolute_uri(object_url(name=s.key)),
                "sha256": s.sha256,
                "size_bytes": s.size_bytes,
            }
            for s in segments
        ],
    }


@login_required
def camera_recordings(request: AuthedRequest, camera_id: int) -> JsonResponse:
    """The player's playlist: ?since=&until= (ISO 8601, at most an hour); every call is audited."""
    camera = _get_camera_for_viewer(request, camera_id)
    decision = selectors.playback_decision(camera=camera, user=request.user)
    if not decision.allowed:
        return JsonResponse({"detail": decision.message}, status=decision.status)
    form = RecordingsWindowForm(request.GET)
    if not form.is_valid():
        errors = {field: [e["message"] for e in errs] for field, errs in form.errors.get_json_data().items()}
        return JsonResponse(errors, status=400)
    playlist = recordings_playlist(
        request=request,
        camera=camera,
        user=request.user,
        decision=decision,
        since=form.cleaned_data["since"],
        until=form.cleaned_data["until"],
    )
    response = JsonResponse(playlist)
    response["Cache-Control"] = "private, no-store"
    return response


@owner_required
def storage_usage(request: AuthedRequest) -> HttpResponse:
    """What the owner's recordings take in storage, per camera, with the terms that decide how long."""
    rows = selectors.storage_used_by_camera(user=request.user)
    total = sum(row["bytes"] for row in rows)
    return render(request, "cameras/storage.html", {"rows": rows, "total_bytes": total})


# ---------------------------------------------------------------- evidence requests


def _get_evidence_request_for_viewer(request: HttpRequest, request_id: int) -> EvidenceRequest:
    evidence = selectors.evidence_requests_visible_to(request.user).filter(pk=request_id).first()
    if evidence is None:
        raise Http404
    return evidence


@login_required
def evidence_list(request: AuthedRequest) -> HttpResponse:
    form = EvidenceFilterForm(request.GET or None)
    rows = selectors.evidence_requests_visible_to(request.user).prefetch_related("cameras")
    if form.is_valid() and form.cleaned_data["state"]:
        rows = rows.filter(state=form.cleaned_data["state"])
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    waiting = set(selectors.evidence_requests_pending_for(user=request.user).values_list("id", flat=True))
    return render(request, "cameras/evidence_list.html", {"form": form, "page": page, "waiting": waiting})


@login_required
def evidence_new(request: AuthedRequest) -> HttpResponse:
    """A monitor files a request. Only the form's shape is checked here; the service judges the rest and its
    messages go on the fields. Nothing is created when it says no."""
    user = request.user
    if not user.is_police:
        return _refused(request, "Only police file evidence requests; business owners answer them.")
    cameras = [
        c
        for c in selectors.cameras_visible_to(user).order_by("business__name", "site__name", "name")
        if selectors.camera_records(camera=c)
    ]
    chosen = next((c for c in cameras if str(c.pk) == request.GET.get("camera")), None)
    if chosen is not None:
        # One request per business: coming from a camera, only its business's cameras are on offer.
        cameras = [c for c in cameras if c.business_id == chosen.business_id]
    zones = [c.site.timezone for c in ([chosen] if chosen else []) + cameras] + [settings.TIME_ZONE]
    status = 200
    if request.method == "POST":
        form = EvidenceRequestForm(request.POST, cameras=cameras, time_zones=zones)
        if form.is_valid():
            data = form.cleaned_data
            try:
                evidence = services.evidence_request_create(
                    by=user,
                    case_number=data["case_number"],
                    reason=data["reason"],
                    camera_ids=data["camera_ids"],
                    window_start=data["window_start"],
                    window_end=data["window_end"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Request for case {evidence.case_number} filed.")
                return redirect("cameras:evidence-detail", request_id=evidence.pk)
        status = 400
    else:
        initial: dict[str, Any] = {"time_zone": zones[0], **evidence_window_initial(zone_name=zones[0])}
        if chosen is not None:
            initial["camera_ids"] = [chosen.pk]
        form = EvidenceRequestForm(initial=initial, cameras=cameras, time_zones=zones)
    context = {"form": form, "chosen": chosen, "has_cameras": bool(cameras)}
    return render(request, "cameras/evidence_form.html", context, status=status)


_CUSTODY_WORDS = {
    "evidence.create": "Requested",
    "evidence.approve": "Approved",
    "evidence.deny": "Denied",
    "evidence.export": "Exported",
    "evidence.export_failed": "Export failed",
    "evidence.export_retry": "Export retried",
    "evidence.download": "Downloaded",
    "evidence.verify": "Verified",
}


def _evidence_page(
    request: AuthedRequest,
    evidence: EvidenceRequest,
    *,
    form: EvidenceDecisionForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    custody = [
        (event, _CUSTODY_WORDS.get(event.action, event.action))
        for event in selectors.evidence_custody(request=evidence)
    ]
    public_key = ""
    if evidence.manifest_key:
        # Only exported requests have a manifest, and only the export needs the signing module.
        from cameras.manifest import signing_public_key_pem

        public_key = signing_public_key_pem()
    context = {
        "evidence": evidence,
        "cameras": evidence.cameras.select_related("site").order_by("name"),
        "items": evidence.items.all(),
        "custody": custody,
        "answerable": selectors.evidence_request_answerable_by(request=evidence, user=user),
        "decision_form": form or EvidenceDecisionForm(),
        "may_retry": evidence.state == EvidenceRequest.State.FAILED
        and (evidence.requested_by_id == user.pk or user.is_supervisor),
        "error": error,
        "public_key": public_key,
        "public_key_sha256": hashlib.sha256(public_key.encode()).hexdigest() if public_key else "",
        "live": {"socket": f"/ws/evidence/{evidence.pk}/", "state": evidence.state},
    }
    return render(request, "cameras/evidence_detail.html", context, status=status)


@login_required
def evidence_detail(request: AuthedRequest, request_id: int) -> HttpResponse:
    return _evidence_page(request, _get_evidence_request_for_viewer(request, request_id))


@login_required
@require_POST
def evidence_decide(request: AuthedRequest, request_id: int) -> HttpResponse:
    evidence = _get_evidence_request_for_viewer(request, request_id)
    form = EvidenceDecisionForm(request.POST)
    if not form.is_valid():
        return _evidence_page(request, evidence, form=form, status=400)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        services.evidence_request_decide(
            request=evidence, by=request.user, approve=approve, reason=form.cleaned_data["reason"]
        )
    except PermissionDenied as exc:
        return _refused(request, str(exc) or "Only the business's owner and staff answer its requests.")
    except ValidationError as exc:
        if _is_conflict(exc):
            evidence.refresh_from_db()
            return _evidence_page(request, evidence, error=" ".join(exc.messages), status=409)
        add_service_errors(form, exc)
        return _evidence_page(request, evidence, form=form, status=400)
    messages.success(request, "Approved: the footage is being exported." if approve else "Denied.")
    return redirect("cameras:evidence-detail", request_id=evidence.pk)


def _see_other(url: str) -> HttpResponseRedirect:
    # 303: the POST that asked for the link is not repeated; the link itself must not be cached.
    response = HttpResponseRedirect(url, status=303)
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def evidence_download(request: AuthedRequest, request_id: int, item_id: int) -> HttpResponseRedirect:
    evidence = _get_evidence_request_for_viewer(request, request_id)
    item = get_object_or_404(evidence.items.all(), pk=item_id)
    return _see_other(services.evidence_download_url(item=item, by=request.user))


@login_required
@require_POST
def evidence_manifest(request: AuthedRequest, request_id: int) -> HttpResponseRedirect:
    evidence = _get_evidence_request_for_viewer(request, request_id)
    if not evidence.manifest_key:
        raise Http404
    return _see_other(services.evidence_manifest_url(request=evidence, by=request.user))


@login_required
@require_POST
def evidence_retry(request: AuthedRequest, request_id: int) -> HttpResponse:
    evidence = _get_evidence_request_for_viewer(request, request_id)
    if not (evidence.requested_by_id == request.user.pk or request.user.is_supervisor):
        return _refused(request, "Only the officer who filed the request, or a supervisor, can retry its export.")
    try:
        services.evidence_export_retry(request=evidence, by=request.user)
    except ValidationError as exc:
        evidence.refresh_from_db()
        return _evidence_page(request, evidence, error=" ".join(exc.messages), status=409)
    messages.success(request, "The export was queued again.")
    return redirect("cameras:evidence-detail", request_id=evidence.pk)
