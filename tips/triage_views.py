"""Police pages for tip triage: the queue, a tip with its thread and internal notes, and the forms that act on it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from alerts.selectors import cameras_near
from cameras.selectors import camera_live_allowed_now
from community.models import User
from community.permissions import AuthedRequest, police_required
from tips import triage
from tips.models import Tip


class TipFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "Open and closed (not merged)"), *Tip.State.choices], required=False)
    category = forms.ChoiceField(choices=[("", "Any category"), *Tip.Category.choices], required=False)
    area = forms.CharField(
        required=False, label="Map area", help_text="south,west,north,east in decimal degrees", max_length=100
    )
    assigned = forms.ChoiceField(
        choices=[("", "Anyone or nobody"), ("me", "Me"), ("none", "Nobody yet")],
        required=False,
        label="Assigned to",
    )
    with_attachments = forms.BooleanField(required=False, label="With photos or video")

    def clean_area(self) -> tuple[float, float, float, float] | None:
        text = self.cleaned_data["area"].strip()
        if not text:
            return None
        try:
            south, west, north, east = (float(part) for part in text.split(","))
        except ValueError:
            raise ValidationError("Give the area as south,west,north,east in decimal degrees.") from None
        if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
            raise ValidationError("Give the area as south,west,north,east in decimal degrees.")
        return (south, west, north, east)


class TipBodyForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class TipStateForm(forms.Form):
    state = forms.ChoiceField(choices=Tip.State.choices)


class TipAssignForm(forms.Form):
    to = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label="Assign to", empty_label="Nobody")

    def __init__(self, *args: Any, by: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = triage.tip_assignees(by=by)  # type: ignore[attr-defined]


class TipMergeForm(forms.Form):
    into = forms.CharField(label="Duplicate of tip number", max_length=16)


def _get_tip_for_police(request: AuthedRequest, tip_id: int) -> Tip:
    return triage.tip_for_police(user=request.user, tip_id=tip_id)


@police_required
@require_safe
def tip_queue(request: AuthedRequest) -> HttpResponse:
    form = TipFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "tips/triage_queue.html", {"form": form, "page": None}, status=400)
    filters = form.cleaned_data if request.GET else {}
    tips = triage.tips_for_triage(
        user=request.user,
        state=filters.get("state") or None,
        category=filters.get("category") or None,
        bbox=filters.get("area"),
        with_attachments=bool(filters.get("with_attachments")),
        assigned=filters.get("assigned") or None,
    )
    page = Paginator(tips, 50).get_page(request.GET.get("page"))
    return render(request, "tips/triage_queue.html", {"form": form, "page": page})


def _tip_page(request: AuthedRequest, tip: Tip, *, status: int = 200, **forms_: forms.Form) -> HttpResponse:
    nearby: list[tuple[Any, float, bool]] = []
    if tip.latitude is not None and tip.longitude is not None:
        radius = max(settings.ALERT_NEARBY_RADIUS_M, float(tip.place_precision_m or 0))
        near = cameras_near(user=request.user, latitude=tip.latitude, longitude=tip.longitude, radius_m=radius)
        nearby = [(camera, distance, camera_live_allowed_now(camera=camera)) for camera, distance in near]
    context = {
        "tip": tip,
        "thread": triage.tip_thread_for_police(tip=tip),
        "notes": tip.notes.select_related("author"),
        "attachments": triage.tip_attachments_for_police(tip=tip),
        "duplicates": tip.merged.order_by("id"),
        "next_states": [(state, Tip.State(state).label) for state in triage.tip_next_states(tip=tip)],
        "nearby": nearby,
        "agency_zone": settings.AGENCY_TIME_ZONE,
        "reply_form": forms_.get("reply_form") or TipBodyForm(prefix="reply"),
        "note_form": forms_.get("note_form") or TipBodyForm(prefix="note"),
        "state_form": forms_.get("state_form") or TipStateForm(),
        "assign_form": forms_.get("assign_form") or TipAssignForm(by=request.user, initial={"to": tip.assigned_to_id}),
        "merge_form": forms_.get("merge_form") or TipMergeForm(),
    }
    return render(request, "tips/triage_detail.html", context, status=status)


def _refused(form: forms.Form, exc: ValidationError) -> None:
    for message in exc.messages:
        form.add_error(None, message)


@police_required
@require_safe
def tip_detail(request: AuthedRequest, tip_id: int) -> HttpResponse:
    tip = _get_tip_for_police(request, tip_id)
    triage.tip_open(tip=tip, by=request.user)
    return _tip_page(request, tip)


@police_required
@require_POST
def tip_reply(request: AuthedRequest, tip_id: int) -> HttpResponse:
    tip = _get_tip_for_police(request, tip_id)
    form = TipBodyForm(request.POST, prefix="reply")
    if form.is_valid():
        try:
            triage.tip_reply(tip=tip, by=request.user, body=form.cleaned_data["body"])
            return redirect("tip_triage:tip_detail", tip_id=tip.pk)
        except ValidationError as exc:
            _refused(form, exc)
    return _tip_page(request, tip, reply_form=form, status=400)


@police_required
@require_POST
def tip_note(request: AuthedRequest, tip_id: int) -> HttpResponse:
    tip = _get_tip_for_police(request, tip_id)
    form = TipBodyForm(request.POST, prefix="note")
    if form.is_valid():
        try:
            triage.tip_note_add(tip=tip, by=request.user, body=form.cleaned_data["body"])
            return redirect("tip_triage:tip_detail", tip_id=tip.pk)
        except ValidationError as exc:
            _refused(form, exc)
    return _tip_page(request, tip, note_form=form, status=400)


@police_required
@require_POST
def tip_state(request: AuthedRequest, tip_id: int) -> HttpResponse:
    tip = _get_tip_for_police(request, tip_id)
    form = TipStateForm(request.POST)
    if form.is_valid():
        try:
            triage.tip_transition(tip=tip, by=request.user, state=form.cleaned_data["state"])
            return redirect("tip_triage:tip_detail", tip_id=tip.pk)
        except ValidationError as exc:
            _refused(form, exc)
    return _tip_page(request, tip, state_form=form, status=400)


@police_required
@require_POST
def tip_assign(request: AuthedRequest, tip_id: int) -> HttpResponse:
    tip = _get_tip_for_police(request, tip_id)
    form = TipAssignForm(request.POST, by=request.user)
    if form.is_valid():
        try:
            triage.tip_assign(tip=tip, by=request.user, to=form.cleaned_data["to"])
            return redirect("tip_triage:tip_detail", tip_id=tip.pk)
        except ValidationError as exc:
            _refused(form, exc)
    return _tip_page(request, tip, assign_form=form, status=400)


@police_required
@require_POST
def tip_merge(request: AuthedRequest, tip_id: int) -> HttpResponse:
    tip = _get_tip_for_police(request, tip_id)
    form = TipMergeForm(request.POST)
    if form.is_valid():
        target = triage.tip_by_number_for_police(user=request.user, number=form.cleaned_data["into"])
        if target is None:
            form.add_error("into", "No tip has this number.")
        else:
            try:
                triage.tip_merge(tip=tip, into=target, by=request.user)
                return redirect("tip_triage:tip_detail", tip_id=target.pk)
            except ValidationError as exc:
                _refused(form, exc)
    return _tip_page(request, tip, merge_form=form, status=400)


# police_required is typed for HttpResponse views; a streamed file is an HttpResponseBase, which it passes on as is.
@police_required  # type: ignore[arg-type]
@require_safe
def tip_attachment(request: AuthedRequest, tip_id: int, attachment_id: int) -> HttpResponseBase:
    tip = _get_tip_for_police(request, tip_id)
    attachment = triage.tip_attachment_for_police(tip=tip, attachment_id=attachment_id)
    triage.tip_attachment_view_record(attachment=attachment, by=request.user)
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type or None)
    # Shown in the page, never guessed at by the browser, never cached on a shared machine.
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
