"""The public tip portal: file a tip, get the receipt once, come back with the codename to read and reply."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tips.forms import CodenameForm, FollowUpForm, TipForm
from tips.models import Tip
from tips.selectors import CodenameThrottled, tip_for_codename, tip_thread_for_citizen
from tips.services import (
    TipAlreadySent,
    TipRateLimited,
    submission_token,
    tip_create,
    tip_follow_up_rate_check,
    tip_message_add,
    tip_rate_check,
)

# The tip views are csrf_exempt because a CSRF cookie would be a year-long identifier on the tipster's phone;
# TipAnonymityMiddleware refuses cross-site posts on these routes instead (Sec-Fetch-Site and Origin).


def _client_key(request: HttpRequest) -> str:
    # Set by TipAnonymityMiddleware on every tip route.
    return str(request.tip_client_key)  # type: ignore[attr-defined]


def _lang_query(request: HttpRequest) -> str:
    # Forms post back to ?lang=…, since no cookie or session remembers the language chosen.
    return f"?lang={get_language()}" if request.GET.get("lang") else ""


def _too_many(request: HttpRequest, *, message: str) -> HttpResponse:
    return render(request, "tips/too_many.html", {"message": message}, status=429)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def tip_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = TipForm(initial={"submission": submission_token()})
    else:
        form = TipForm(request.POST, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            tip_rate_check(client_key=_client_key(request))
        except TipRateLimited:
            return _too_many(
                request, message=_("Too many tips were sent from here in the last hour. Please try later.")
            )
        data = form.cleaned_data
        files = data.get("attachments") or []
        try:
            receipt = tip_create(
                category=data["category"],
                description=data["description"],
                occurred_at=data.get("occurred_at"),
                occurred_text=data.get("occurred_text", ""),
                place_text=data.get("place_text", ""),
                latitude=data.get("latitude"),
                longitude=data.get("longitude"),
                coarsen=bool(data.get("coarsen")),
                language=get_language() or "en",
                files=files,
                submission=data.get("submission", ""),
            )
        except TipAlreadySent as sent:
            return render(
                request,
                "tips/already_sent.html",
                {"number": sent.number, "lang_query": _lang_query(request)},
                status=409,
            )
        # Rendered, not redirected: the codename is shown this once and nothing else could carry it over.
        return render(
            request,
            "tips/receipt.html",
            {
                "tip": receipt.tip,
                "codename": receipt.codename,
                # The file names come from the upload and are shown back, never stored.
                "files": list(zip([upload.name for upload in files], receipt.attachments, strict=False)),
            },
            status=201,
        )
    return render(
        request,
        "tips/new.html",
        {"form": form, "lang_query": _lang_query(request), "tile_url": _own_tile_url()},
        status=400 if form.errors else 200,
    )


def _own_tile_url() -> str:
    # A map on the tip form only when its tiles come from this site: another tile server would see every
    # tipster's address and where they looked (and the tip pages' CSP would block it anyway).
    url = str(settings.MAP_TILE_URL)
    return url if url.startswith("/") and not url.startswith("//") else ""


def _thread(request: HttpRequest, *, tip: Tip, codename: str, form: FollowUpForm | None = None) -> HttpResponse:
    form = form or FollowUpForm(initial={"number": tip.number, "codename": codename, "submission": submission_token()})
    return render(
        request,
        "tips/thread.html",
        {
            "thread": tip_thread_for_citizen(tip=tip),
            "form": form,
            "lang_query": _lang_query(request),
        },
        status=400 if form.errors else 200,
    )


def _not_found(request: HttpRequest, form: CodenameForm) -> HttpResponse:
    form.add_error(None, _("That tip number and codename do not match. Check the words and try again."))
    return render(request, "tips/open.html", {"form": form, "lang_query": _lang_query(request)}, status=404)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def tip_open(request: HttpRequest) -> HttpResponse:
    form = CodenameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tip = tip_for_codename(
                number=form.cleaned_data["number"],
                codename=form.cleaned_data["codename"],
                client_key=_client_key(request),
            )
        except CodenameThrottled:
            return _too_many(request, message=_("Too many attempts for this tip. Please try again in an hour."))
        if tip is None:
            return _not_found(request, CodenameForm(request.POST))
        return _thread(request, tip=tip, codename=form.cleaned_data["codename"])
    return render(
        request,
        "tips/open.html",
        {"form": form, "lang_query": _lang_query(request)},
        status=400 if form.errors else 200,
    )


@csrf_exempt
@require_http_methods(["POST"])
def tip_reply(request: HttpRequest) -> HttpResponse:
    form = FollowUpForm(request.POST, request.FILES or None)
    number, codename = request.POST.get("number", ""), request.POST.get("codename", "")
    try:
        tip = tip_for_codename(number=number, codename=codename, client_key=_client_key(request))
    except CodenameThrottled:
        return _too_many(request, message=_("Too many attempts for this tip. Please try again in an hour."))
    if tip is None:
        return _not_found(request, CodenameForm(request.POST))
    if not form.is_valid():
        return _thread(request, tip=tip, codename=codename, form=form)  # type: ignore[arg-type]
    files = form.cleaned_data.get("attachments") or []
    try:
        tip_follow_up_rate_check(
            tip=tip, client_key=_client_key(request), upload_bytes=sum(upload.size or 0 for upload in files)
        )
    except TipRateLimited:
        return _too_many(
            request, message=_("Too many messages or files for this tip in the last hour. Please try later.")
        )
    tip_message_add(
        tip=tip,
        body=form.cleaned_data["body"],
        files=files,
        submission=form.cleaned_data.get("submission", ""),
    )
    return _thread(request, tip=tip, codename=codename)
