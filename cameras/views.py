"""Pages for cameras: the owner's enrolment and health pages, the police map, list and camera page, snapshots."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cameras import selectors, services
from cameras.forms import CameraFilterForm, CameraForm
from cameras.live import live_ice_servers_for_browser
from cameras.models import Camera
from community.forms import add_service_errors
from community.models import Business, SharingAgreement
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
    context = {"camera": camera, "live_now": selectors.camera_live_allowed_now(camera=camera)}
    return render(request, "cameras/police_camera_detail.html", context)


@login_required
def camera_snapshot(request: AuthedRequest, camera_id: int) -> HttpResponseBase:
    camera = _get_camera_for_viewer(request, camera_id)
    if not camera.snapshot:
        raise Http404
    user = request.user
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
