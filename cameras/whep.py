"""The WHEP endpoint (RFC 9725): POST an SDP offer for a camera, get the answer and a session to DELETE."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from cameras import live, selectors, services
from cameras.media.relay import BadOffer, CodecNotRelayable, RelayFull, ViewerClosed
from cameras.models import Camera, LiveSession
from community.api_auth import BearerTokenAuthentication
from community.models import User

SDP = "application/sdp"


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _csrf_checked(request: HttpRequest) -> HttpResponse:
    """Stands for a view that is not CSRF-exempt, so that CsrfViewMiddleware checks the request."""
    return HttpResponse()


def _viewer(request: HttpRequest) -> User | JsonResponse:
    """The person behind a bearer token (other WHEP clients) or the session (the app: CSRF, and for police
    the second factor, which StaffTwoFactorMiddleware enforced before this view), or the refusal."""
    if request.META.get("HTTP_AUTHORIZATION", "").startswith("Bearer "):
        try:
            authenticated = BearerTokenAuthentication().authenticate(Request(request))
        except AuthenticationFailed:
            authenticated = None
        if authenticated is None:
            return _unauthorized()
        return authenticated[0]
    user = request.user
    if isinstance(user, AnonymousUser) or not user.is_authenticated:
        return _unauthorized()
    if CsrfViewMiddleware(_csrf_checked).process_view(request, _csrf_checked, (), {}) is not None:
        return _error(403, "The CSRF token is missing or wrong; reload the page.")
    assert isinstance(user, User)
    return user


def _unauthorized() -> JsonResponse:
    refused = _error(401, "Log in, or send `Authorization: Bearer <token>`.")
    refused["WWW-Authenticate"] = "Bearer"
    return refused


def _camera(camera_id: int) -> Camera | None:
    return Camera.objects.select_related("site", "business", "agreement").filter(pk=camera_id).first()


def _link_header() -> str:
    return ", ".join(f'<{url}>; rel="ice-server"' for url in settings.STUN_URLS)


@csrf_exempt
async def whep_camera(request: HttpRequest, camera_id: int) -> HttpResponse:
    if request.method != "POST":
        return _error(405, "POST an SDP offer to start watching.")
    user = await sync_to_async(_viewer)(request)
    if isinstance(user, JsonResponse):
        return user
    if request.content_type != SDP:
        return _error(415, "Send the offer as application/sdp.")
    camera = await sync_to_async(_camera)(camera_id)
    if camera is None:
        return _error(404, "No such camera.")
    decision = await sync_to_async(selectors.live_decision)(camera=camera, user=user)
    if not decision.allowed:
        return _error(decision.status, decision.message)
    runtime = await live.runtime()
    owner = await runtime.owner_url(camera.pk)
    if owner is not None:
        # Another relay owns this camera; redirects are part of WHEP.
        redirect = HttpResponse(status=307)
        redirect["Location"] = owner + reverse("cameras:whep_camera", args=[camera.pk])
        return redirect
    try:
        session_id, answer = await runtime.watch(camera=camera, user=user, offer_sdp=request.body.decode())
    except BadOffer as exc:
        return _error(400, str(exc))
    except CodecNotRelayable as exc:
        return _error(409, str(exc))
    except RelayFull:
        return _error(503, "This relay is full; try again in a minute.")
    except ViewerClosed as exc:
        return _error(503, str(exc))
    created = HttpResponse(answer, status=201, content_type=SDP)
    created["Location"] = reverse("cameras:whep_session", args=[session_id])
    if settings.STUN_URLS:
        created["Link"] = _link_header()
    return created


def _session_of(user: User, session_id: str) -> LiveSession | None:
    return LiveSession.objects.filter(pk=session_id, viewer=user).first()


@csrf_exempt
async def whep_session(request: HttpRequest, session_id: str) -> HttpResponse:
    if request.method == "PATCH":
        # No trickle ICE: the answer carries every candidate (RFC 9725 allows refusing PATCH).
        return _error(405, "Trickle ICE is not supported; the answer has all candidates.")
    if request.method != "DELETE":
        return _error(405, "DELETE the session to stop watching.")
    user = await sync_to_async(_viewer)(request)
    if isinstance(user, JsonResponse):
        return user
    session = await sync_to_async(_session_of)(user, session_id)
    if session is None:
        return _error(404, "No such session.")
    if session.ended_at is not None:
        return _error(404, "This session has already ended.")
    runtime = await live.runtime()
    if session.relay_id != settings.RELAY_ID:
        # Another relay holds the viewer: closing the record here would leave it playing there, unrecorded.
        owner = await runtime.relay_url(session.relay_id)
        if owner is not None:
            redirect = HttpResponse(status=307)
            redirect["Location"] = owner + reverse("cameras:whep_session", args=[session_id])
            return redirect
        lost = "The relay holding the session had stopped."
    elif not await runtime.end(session_id, reason="The viewer closed the tile."):
        lost = "The relay had already lost the session."  # it restarted since
    else:
        return HttpResponse(status=200)
    # No relay holds the viewer any more: close the record so that it stops counting.
    await sync_to_async(services.live_session_close)(session_id=session_id, bytes_sent=session.bytes_sent, reason=lost)
    return HttpResponse(status=200)
