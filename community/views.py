"""Pages for accounts and two-factor, the owner's enrolment portal, the supervisors' tools and the public pages."""

from __future__ import annotations

import base64
import io
from datetime import datetime, time
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from cameras.selectors import evidence_requests_pending_for, live_sessions_for_owner
from community import selectors, services
from community.forms import (
    AgreementForm,
    AuditSearchForm,
    BusinessForm,
    InviteForm,
    OTPTokenForm,
    PasswordPairForm,
    ReasonForm,
    SignupForm,
    SiteForm,
    StaffForm,
    add_service_errors,
)
from community.lockout import lockout_clear
from community.models import Business, SharingAgreement, Site
from community.permissions import AuthedRequest, owner_required, supervisor_required


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return render(request, "community/home.html")
    if getattr(user, "is_police", False):
        return redirect("cameras:police_map")
    return redirect("community:portal")


# ---------------------------------------------------------------- accounts and two-factor


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_signup(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                full_name=form.cleaned_data["full_name"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to Lantern. Start by adding your business.")
            return redirect("community:business_create")
    return render(request, "community/signup.html", {"form": form})


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.GET.get("next") or request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Setting a new password through the e-mailed link also ends a sign-in lockout on the account."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        lockout_clear(user=form.user, reason="password reset")
        return response


@login_required
def otp_verify(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect(f"{reverse('community:otp_setup')}?next={_safe_next(request, reverse('community:home'))}")
    form = OTPTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(user, form.cleaned_data["token"].strip())
        if device is not None:
            otp_login(request, device)
            services.audit_record(actor=user, action="auth.2fa_verified", target=user)
            return redirect(_safe_next(request, reverse("community:home")))
        services.audit_record(actor=user, action="auth.2fa_failed", target=user)
        form.add_error("token", "That code is not right, or it has expired. Try the newest code.")
    return render(request, "community/otp_verify.html", {"form": form, "next": _safe_next(request, "")})


@login_required
def otp_setup(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists() and not user.is_verified():  # type: ignore[attr-defined]
        # Replacing an enrolled device needs the current one first.
        return redirect("community:otp_verify")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
        user=user, name="Authenticator app", confirmed=False
    )
    form = OTPTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].strip()):
            services.otp_device_confirm(device=device, by=user)
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            otp_login(request, device)
            messages.success(request, "Two-factor login is set up.")
            return redirect(_safe_next(request, reverse("community:home")))
        form.add_error("token", "That code is not right. Check the phone's clock and try the newest code.")
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    context = {
        "form": form,
        "qr_svg": buffer.getvalue().decode(),
        # For typing into an app by hand when the camera cannot read the code.
        "secret": base64.b32encode(device.bin_key).decode().rstrip("="),
        "next": _safe_next(request, ""),
    }
    return render(request, "community/otp_setup.html", context)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_for_token(token=token)
    if invitation is None:
        return render(request, "community/invitation_invalid.html", status=404)
    form = PasswordPairForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(invitation=invitation, password=form.cleaned_data["password1"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("community:otp_setup")
    return render(request, "community/invitation_accept.html", {"form": form, "invitation": invitation})


# ---------------------------------------------------------------- owner portal


def _get_business_for_editor(request: HttpRequest, business_id: int) -> Business:
    business = get_object_or_404(Business.objects.select_related("owner"), pk=business_id)
    if not selectors.business_editable_by(business=business, user=request.user):
        raise Http404
    return business


def _get_agreement_for_editor(request: HttpRequest, agreement_id: int) -> SharingAgreement:
    agreement = get_object_or_404(SharingAgreement.objects.select_related("business"), pk=agreement_id)
    if not selectors.business_editable_by(business=agreement.business, user=request.user):
        raise Http404
    return agreement


def _get_site_for_editor(request: HttpRequest, site_id: int) -> Site:
    site = get_object_or_404(Site.objects.select_related("business"), pk=site_id)
    if not selectors.business_editable_by(business=site.business, user=request.user):
        raise Http404
    return site


@owner_required
def portal(request: AuthedRequest) -> HttpResponse:
    businesses = selectors.businesses_visible_to(request.user).prefetch_related("cameras", "sites", "agreements")
    pending_evidence = list(evidence_requests_pending_for(user=request.user))
    return render(request, "community/portal.html", {"businesses": businesses, "pending_evidence": pending_evidence})


@owner_required
def business_create(request: AuthedRequest) -> HttpResponse:
    user = request.user
    form = BusinessForm(request.POST or None, initial={"contact_name": user.full_name, "contact_email": user.email})
    if request.method == "POST" and form.is_valid():
        try:
            business = services.business_create(owner=user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Business saved. Next, add the site where your cameras are.")
            return redirect("community:site_create", business_id=business.pk)
    return render(request, "community/business_form.html", {"form": form})


@owner_required
def business_detail(request: AuthedRequest, business_id: int) -> HttpResponse:
    business = _get_business_for_editor(request, business_id)
    context = {
        "business": business,
        "sites": business.sites.all(),
        "cameras": business.cameras.select_related("site", "agreement"),  # type: ignore[attr-defined]
        "agreements": business.agreements.all(),
        "staff": business.staff.all(),
        "staff_form": StaffForm(),
        "can_submit": business.state == Business.State.DRAFT,
    }
    return render(request, "community/business_detail.html", context)


@owner_required
def business_edit(request: AuthedRequest, business_id: int) -> HttpResponse:
    business = _get_business_for_editor(request, business_id)
    form = BusinessForm(request.POST or None, instance=Business.objects.get(pk=business.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.business_update(business=business, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("community:business_detail", business_id=business.pk)
    return render(request, "community/business_form.html", {"form": form, "business": business})


@owner_required
@require_POST
def business_submit(request: AuthedRequest, business_id: int) -> HttpResponse:
    business = _get_business_for_editor(request, business_id)
    try:
        services.business_submit(business=business, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("community:business_detail", business_id=business.pk)
    messages.success(request, "Submitted. A police supervisor will verify your business; you will see the result here.")
    return redirect("community:business_detail", business_id=business.pk)


@owner_required
@require_POST
def business_staff_add(request: AuthedRequest, business_id: int) -> HttpResponse:
    business = _get_business_for_editor(request, business_id)
    form = StaffForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(list(form.errors.get("email", ["Enter an email address."])))
        services.business_staff_add(business=business, by=request.user, email=form.cleaned_data["email"])
    except (ValidationError, PermissionError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, "Staff member added.")
    return redirect("community:business_detail", business_id=business.pk)


@owner_required
def site_create(request: AuthedRequest, business_id: int) -> HttpResponse:
    business = _get_business_for_editor(request, business_id)
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.site_create(business=business, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Site saved. Now enrol the cameras at this site.")
            return redirect("cameras:camera_create", business_id=business.pk)
    return render(request, "community/site_form.html", {"form": form, "business": business})


@owner_required
def site_edit(request: AuthedRequest, site_id: int) -> HttpResponse:
    site = _get_site_for_editor(request, site_id)
    form = SiteForm(request.POST or None, instance=Site.objects.get(pk=site.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.site_update(site=site, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("community:business_detail", business_id=site.business_id)
    return render(request, "community/site_form.html", {"form": form, "business": site.business, "site": site})


@owner_required
def agreement_create(request: AuthedRequest, business_id: int) -> HttpResponse:
    business = _get_business_for_editor(request, business_id)
    unassigned = list(business.cameras.filter(agreement__isnull=True).values_list("id", flat=True))  # type: ignore[attr-defined]
    form = AgreementForm(request.POST or None, business=business, initial={"cameras": unassigned, "mode": "always"})
    if request.method == "POST" and form.is_valid():
        try:
            services.agreement_create(business=business, by=request.user, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Sharing terms saved.")
            return redirect("community:business_detail", business_id=business.pk)
    return render(request, "community/agreement_form.html", {"form": form, "business": business})


@owner_required
def agreement_edit(request: AuthedRequest, agreement_id: int) -> HttpResponse:
    agreement = _get_agreement_for_editor(request, agreement_id)
    form = AgreementForm(
        request.POST or None, business=agreement.business, initial=AgreementForm.initial_for(agreement)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.agreement_update(agreement=agreement, by=request.user, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "The new terms are in force.")
            return redirect("community:business_detail", business_id=agreement.business_id)
    context = {"form": form, "business": agreement.business, "agreement": agreement, "revoke_form": ReasonForm()}
    return render(request, "community/agreement_form.html", context)


@owner_required
@require_POST
def agreement_revoke(request: AuthedRequest, agreement_id: int) -> HttpResponse:
    agreement = _get_agreement_for_editor(request, agreement_id)
    services.agreement_revoke(agreement=agreement, by=request.user, reason=request.POST.get("reason", "")[:2000])
    messages.success(request, f"Sharing revoked for “{agreement.name}”. Police can no longer watch these cameras.")
    return redirect("community:business_detail", business_id=agreement.business_id)


@owner_required
def access_log(request: AuthedRequest) -> HttpResponse:
    """Who accessed my cameras: every event touching the owner's businesses and cameras."""
    events = selectors.audit_events_visible_to(request.user).exclude(action__startswith="auth.")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    sessions = live_sessions_for_owner(user=request.user)[:100]
    return render(request, "community/access_log.html", {"page": page, "sessions": sessions})


# ---------------------------------------------------------------- supervisors


@supervisor_required
def partners(request: AuthedRequest) -> HttpResponse:
    state = request.GET.get("state", "pending")
    qs = selectors.businesses_visible_to(request.user).prefetch_related("sites")
    if state in Business.State.values:
        qs = qs.filter(state=state)
    return render(
        request, "community/partners.html", {"businesses": qs, "state": state, "states": Business.State.choices}
    )


def _get_business_for_police(request: HttpRequest, business_id: int) -> Business:
    business = get_object_or_404(Business.objects.select_related("owner"), pk=business_id)
    if not selectors.businesses_visible_to(request.user).filter(pk=business.pk).exists():
        raise Http404
    return business


@supervisor_required
def partner_detail(request: AuthedRequest, business_id: int) -> HttpResponse:
    business = _get_business_for_police(request, business_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action")
        service = {"verify": services.business_verify, "suspend": services.business_suspend}.get(action or "")
        if service is None:
            form.add_error(None, "Choose verify or suspend.")
        else:
            try:
                service(business=business, by=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{business.name}: {action} recorded.")
                return redirect("community:partner_detail", business_id=business.pk)
    context = {
        "business": business,
        "form": form,
        "sites": business.sites.all(),
        "cameras": business.cameras.select_related("site", "agreement"),  # type: ignore[attr-defined]
        "agreements": business.agreements.all(),
        "events": selectors.audit_events_visible_to(request.user).filter(business_id=business.pk)[:50],
    }
    return render(request, "community/partner_detail.html", context)


@supervisor_required
def officers(request: AuthedRequest) -> HttpResponse:
    user = request.user
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(by=user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("community:officers")
    return render(
        request, "community/officers.html", {"form": form, "officers": selectors.officers_of(supervisor=user)}
    )


@supervisor_required
@require_POST
def officer_set_active(request: AuthedRequest, officer_id: int, active: bool) -> HttpResponse:
    user = request.user
    officer = get_object_or_404(selectors.officers_of(supervisor=user), pk=officer_id)
    try:
        if active:
            services.officer_reactivate(officer=officer, by=user)
        else:
            services.officer_deactivate(officer=officer, by=user, reason=request.POST.get("reason", "")[:2000])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("community:officers")


@supervisor_required
def audit_search(request: AuthedRequest) -> HttpResponse:
    form = AuditSearchForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        tz = timezone.get_current_timezone()
        filters = {
            "q": data["q"],
            "action": data["action"],
            "since": datetime.combine(data["since"], time.min, tz) if data["since"] else None,
            "until": datetime.combine(data["until"], time.max, tz) if data["until"] else None,
        }
    camera = request.GET.get("camera")
    if camera and camera.isdigit():
        filters["camera_id"] = int(camera)
    events = selectors.audit_events_search(user=request.user, **filters)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "community/audit_search.html", {"form": form, "page": page})


# ---------------------------------------------------------------- public


def transparency(request: HttpRequest) -> HttpResponse:
    return render(request, "community/transparency.html", {"report": selectors.transparency_report()})


def public_partners(request: HttpRequest) -> HttpResponse:
    return render(request, "community/public_partners.html", {"sites": selectors.public_sites()})
