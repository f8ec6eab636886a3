"""Writes for people and partners; each records its audit event in the same transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone

from cameras import events as live_events
from community.models import (
    WEEKDAYS,
    Agency,
    AuditEvent,
    Business,
    Invitation,
    SharingAgreement,
    Site,
    User,
)

# ---------------------------------------------------------------- audit


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
    business_id: int | None = None,
    camera_id: int | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Append one event to the audit trail. Business and camera ids are derived from the target."""
    if target is not None:
        business_id = business_id or _business_id_of(target)
        if target._meta.label == "cameras.Camera":
            camera_id = camera_id or target.pk
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_label = actor_label or actor.email
    else:
        actor = None
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=actor_label,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:255] if target is not None else "",
        business_id=business_id,
        camera_id=camera_id,
        details=details or {},
    )


def _business_id_of(target: models.Model) -> int | None:
    if isinstance(target, Business):
        return target.pk
    business_id = getattr(target, "business_id", None)
    return int(business_id) if business_id is not None else None


# ---------------------------------------------------------------- people


@transaction.atomic
def user_signup(*, email: str, password: str, full_name: str) -> User:
    """A business owner signs up; staff accounts come only from invitations."""
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "An account with this email address already exists."})
    user = User.objects.create_user(email=email, password=password, full_name=full_name, role=User.Role.OWNER)
    audit_record(actor=user, action="user.signup", target=user)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, by: User, email: str, full_name: str, role: str) -> tuple[Invitation, str]:
    """A supervisor invites an officer to their own agency; returns the invitation and its one-time token."""
    if not by.is_supervisor or by.agency_id is None:
        raise PermissionError("Only a supervisor of an agency can invite officers.")
    if role not in (User.Role.MONITOR, User.Role.SUPERVISOR):
        raise ValidationError({"role": "Officers are monitors or supervisors."})
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "Someone already has an account with this email address."})
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        agency_id=by.agency_id,
        email=email,
        full_name=full_name,
        role=role,
        token_hash=_token_hash(token),
        invited_by=by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
    )
    link = settings.SITE_URL + reverse("community:invitation_accept", args=[token])
    agency_name = by.agency.name if by.agency else ""
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to Lantern by {agency_name}",
            message=(
                f"{by.full_name} invited you to join {agency_name} on Lantern.\n\n"
                f"Set your password and two-factor login here (valid {settings.INVITATION_DAYS} days):\n{link}\n"
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    )
    audit_record(actor=by, action="officer.invite", target=invitation, details={"email": email, "role": role})
    return invitation, token


def invitation_for_token(*, token: str) -> Invitation | None:
    invitation = Invitation.objects.select_related("agency").filter(token_hash=_token_hash(token)).first()
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at < timezone.now():
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, password: str) -> User:
    # Two tabs may accept the same link; the conditional update lets exactly one of them win.
    won = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(accepted_at=timezone.now())
    if not won:
        raise ValidationError("This invitation has already been used.")
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError("Someone already has an account with this email address.")
    user = User.objects.create_user(
        email=invitation.email,
        password=password,
        full_name=invitation.full_name,
        role=invitation.role,
        agency_id=invitation.agency_id,
        is_staff=invitation.role == User.Role.SUPERVISOR,
    )
    Invitation.objects.filter(pk=invitation.pk).update(user=user)
    audit_record(actor=user, action="officer.join", target=user, details={"agency": invitation.agency_id})
    return user


@transaction.atomic
def officer_deactivate(*, officer: User, by: User, reason: str = "") -> User:
    if not by.is_supervisor or officer.agency_id != by.agency_id or not officer.is_police:
        raise PermissionError("Supervisors deactivate officers of their own agency.")
    if officer.pk == by.pk:
        raise ValidationError("You cannot deactivate your own account.")
    officer.is_active = False
    officer.save(update_fields=["is_active"])
    # Deactivated officers must not keep an API token that still works.
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user=officer).delete()
    audit_record(actor=by, action="officer.deactivate", target=officer, details={"reason": reason})
    transaction.on_commit(lambda: live_events.viewer_access_changed(officer.pk, reason="Your account was deactivated."))
    return officer


@transaction.atomic
def officer_reactivate(*, officer: User, by: User) -> User:
    if not by.is_supervisor or officer.agency_id != by.agency_id or not officer.is_police:
        raise PermissionError("Supervisors reactivate officers of their own agency.")
    officer.is_active = True
    officer.save(update_fields=["is_active"])
    audit_record(actor=by, action="officer.reactivate", target=officer)
    return officer


@transaction.atomic
def api_token_issue(*, user: User, request: Any) -> Any:
    """An API token is a login: the auth signals audit it and reset django-axes' failure count."""
    from django.contrib.auth.signals import user_logged_in
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    return token


@transaction.atomic
def api_token_revoke(*, token: Any, request: Any) -> None:
    from django.contrib.auth.signals import user_logged_out

    user = token.user
    token.delete()
    user_logged_out.send(sender=user.__class__, request=request, user=user)


def agency_create(*, name: str, jurisdiction: str = "") -> Agency:
    return Agency.objects.create(name=name, jurisdiction=jurisdiction)


# ---------------------------------------------------------------- businesses and sites


def _save_unique(instance: models.Model, *, field: str, message: str) -> None:
    """Save, turning a lost uniqueness race into the same form error the pre-check gives."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise ValidationError({field: message}) from exc


@transaction.atomic
def business_create(
    *, owner: User, name: str, contact_name: str, contact_email: str, contact_phone: str = ""
) -> Business:
    if not owner.is_owner:
        raise PermissionError("Only business owners enrol businesses.")
    business = Business(
        owner=owner,
        name=name.strip(),
        contact_name=contact_name,
        contact_email=contact_email,
        contact_phone=contact_phone,
    )
    business.full_clean(exclude=["owner"])
    if Business.objects.filter(owner=owner, name__iexact=business.name).exists():
        raise ValidationError({"name": "You already have a business with this name."})
    _save_unique(business, field="name", message="You already have a business with this name.")
    audit_record(actor=owner, action="business.create", target=business)
    return business


@transaction.atomic
def business_update(*, business: Business, by: User, **fields: Any) -> Business:
    changed = _apply(business, fields, allowed={"name", "contact_name", "contact_email", "contact_phone"})
    business.full_clean(exclude=["owner", "verified_by"])
    if (
        "name" in changed
        and Business.objects.filter(owner=business.owner, name__iexact=business.name).exclude(pk=business.pk).exists()
    ):
        raise ValidationError({"name": "You already have a business with this name."})
    _save_unique(business, field="name", message="You already have a business with this name.")
    if changed:
        audit_record(actor=by, action="business.update", target=business, details={"fields": sorted(changed)})
    return business


def _apply(instance: models.Model, fields: dict[str, Any], *, allowed: set[str]) -> set[str]:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"Unexpected fields: {sorted(unknown)}")
    changed = set()
    for name, value in fields.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.add(name)
    return changed


@transaction.atomic
def business_submit(*, business: Business, by: User) -> Business:
    """The owner submits the enrolment for verification; its draft agreements wait with it."""
    locked = Business.objects.select_for_update().get(pk=business.pk)
    if locked.state != Business.State.DRAFT:
        raise ValidationError("This business has already been submitted.")
    if not locked.cameras.exists():  # type: ignore[attr-defined]
        raise ValidationError("Add at least one camera before submitting.")
    if not locked.agreements.filter(state=SharingAgreement.State.DRAFT).exists():
        raise ValidationError("Choose the sharing terms (a sharing agreement) before submitting.")
    locked.state = Business.State.PENDING
    locked.submitted_at = timezone.now()
    locked.save(update_fields=["state", "submitted_at", "updated_at"])
    locked.agreements.filter(state=SharingAgreement.State.DRAFT).update(
        state=SharingAgreement.State.PENDING, updated_at=timezone.now()
    )
    audit_record(actor=by, action="business.submit", target=locked)
    return locked


@transaction.atomic
def business_verify(*, business: Business, by: User, reason: str) -> Business:
    """A supervisor verifies a partner (or reinstates a suspended one); its agreements go live."""
    if not by.is_supervisor:
        raise PermissionError("Only supervisors verify partners.")
    if not reason.strip():
        raise ValidationError({"reason": "Say how the partner was verified."})
    locked = Business.objects.select_for_update().get(pk=business.pk)
    if locked.state not in (Business.State.PENDING, Business.State.SUSPENDED):
        raise ValidationError("Only a submitted or suspended partner can be verified.")
    previous = locked.state
    locked.state = Business.State.VERIFIED
    locked.state_reason = reason
    locked.verified_at = timezone.now()
    locked.verified_by = by
    locked.save(update_fields=["state", "state_reason", "verified_at", "verified_by", "updated_at"])
    locked.agreements.filter(state__in=[SharingAgreement.State.PENDING, SharingAgreement.State.SUSPENDED]).update(
        state=SharingAgreement.State.ACTIVE, state_reason="", updated_at=timezone.now()
    )
    audit_record(
        actor=by,
        action="partner.reinstate" if previous == Business.State.SUSPENDED else "partner.verify",
        target=locked,
        details={"reason": reason},
    )
    return locked


@transaction.atomic
def business_suspend(*, business: Business, by: User, reason: str) -> Business:
    if not by.is_supervisor:
        raise PermissionError("Only supervisors suspend partners.")
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for the suspension; the owner will see it."})
    locked = Business.objects.select_for_update().get(pk=business.pk)
    if locked.state == Business.State.SUSPENDED:
        raise ValidationError("This partner is already suspended.")
    locked.state = Business.State.SUSPENDED
    locked.state_reason = reason
    locked.save(update_fields=["state", "state_reason", "updated_at"])
    locked.agreements.filter(state=SharingAgreement.State.ACTIVE).update(
        state=SharingAgreement.State.SUSPENDED, state_reason=reason, updated_at=timezone.now()
    )
    audit_record(actor=by, action="partner.suspend", target=locked, details={"reason": reason})
    camera_ids = list(locked.cameras.values_list("id", flat=True))  # type: ignore[attr-defined]
    transaction.on_commit(
        lambda: live_events.camera_access_changed(camera_ids, reason=f"The partner was suspended: {reason}")
    )
    return locked


@transaction.atomic
def site_create(
    *,
    business: Business,
    by: User,
    name: str,
    address: str,
    latitude: Any,
    longitude: Any,
    timezone: str,
    listed_publicly: bool = False,
) -> Site:
    site = Site(
        business=business,
        name=name.strip(),
        address=address,
        latitude=latitude,
        longitude=longitude,
        timezone=timezone,
        listed_publicly=listed_publicly,
    )
    # Constraints are checked below with owner-friendly messages (and by the database).
    site.full_clean(exclude=["business"], validate_constraints=False)
    if Site.objects.filter(business=business, name__iexact=site.name).exists():
        raise ValidationError({"name": "This business already has a site with this name."})
    _save_unique(site, field="name", message="This business already has a site with this name.")
    audit_record(actor=by, action="site.create", target=site)
    return site


@transaction.atomic
def site_update(*, site: Site, by: User, **fields: Any) -> Site:
    changed = _apply(site, fields, allowed={"name", "address", "latitude", "longitude", "timezone", "listed_publicly"})
    site.full_clean(exclude=["business"], validate_constraints=False)
    if (
        "name" in changed
        and Site.objects.filter(business=site.business, name__iexact=site.name).exclude(pk=site.pk).exists()
    ):
        raise ValidationError({"name": "This business already has a site with this name."})
    _save_unique(site, field="name", message="This business already has a site with this name.")
    if changed:
        audit_record(actor=by, action="site.update", target=site, details={"fields": sorted(changed)})
    return site


# ---------------------------------------------------------------- sharing agreements


def schedule_clean(schedule: Any) -> dict[str, list[list[str]]]:
    """Normalise a weekly schedule {"mon": [["08:00", "18:00"]], ...}; raise ValidationError if malformed."""
    if schedule in (None, ""):
        return {}
    if not isinstance(schedule, dict):
        raise ValidationError({"schedule": "The schedule maps weekdays (mon…sun) to lists of [start, end] times."})
    cleaned: dict[str, list[list[str]]] = {}
    for day, windows in schedule.items():
        if day not in WEEKDAYS:
            raise ValidationError({"schedule": f"“{day}” is not a weekday; use mon, tue, wed, thu, fri, sat, sun."})
        if not isinstance(windows, list):
            raise ValidationError({"schedule": f"{day}: give a list of [start, end] pairs."})
        for window in windows:
            if not (isinstance(window, (list, tuple)) and len(window) == 2):
                raise ValidationError({"schedule": f"{day}: each window is a [start, end] pair."})
            start, end = (_hhmm(day, value) for value in window)
            if start == end:
                raise ValidationError({"schedule": f"{day}: a window must not start and end at the same time."})
            cleaned.setdefault(day, []).append([start, end])
    return cleaned


def _hhmm(day: str, value: Any) -> str:
    try:
        hours, minutes = str(value).split(":")
        h, m = int(hours), int(minutes)
    except ValueError:
        raise ValidationError({"schedule": f"{day}: “{value}” is not a time like 08:30."}) from None
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValidationError({"schedule": f"{day}: “{value}” is not a time like 08:30."})
    return f"{h:02d}:{m:02d}"


def _check_terms(*, mode: str, schedule: dict[str, Any], terms_accepted: bool) -> None:
    if not terms_accepted:
        raise ValidationError({"terms_accepted": "Accept the sharing terms to continue."})
    if mode == SharingAgreement.Mode.SCHEDULE and not schedule:
        raise ValidationError({"schedule": "Choose at least one day and time window for scheduled sharing."})


@transaction.atomic
def agreement_create(
    *,
    business: Business,
    by: User,
    name: str,
    mode: str,
    terms_accepted: bool,
    schedule: Any = None,
    alarm_window_minutes: int = 15,
    recording_allowed: bool = False,
    retention_days: int = 30,
    evidence_preapproved: bool = False,
    camera_ids: list[int] | None = None,
) -> SharingAgreement:
    """The owner accepts sharing terms for some of the business's cameras.

    A verified partner's agreement is active at once; otherwise it waits for verification.
    """
    cleaned_schedule = schedule_clean(schedule)
    _check_terms(mode=mode, schedule=cleaned_schedule, terms_accepted=terms_accepted)
    state = {
        Business.State.DRAFT: SharingAgreement.State.DRAFT,
        Business.State.PENDING: SharingAgreement.State.PENDING,
        Business.State.VERIFIED: SharingAgreement.State.ACTIVE,
        Business.State.SUSPENDED: SharingAgreement.State.SUSPENDED,
    }[Business.State(business.state)]
    agreement = SharingAgreement(
        business=business,
        name=name.strip(),
        mode=mode,
        schedule=cleaned_schedule if mode == SharingAgreement.Mode.SCHEDULE else {},
        alarm_window_minutes=alarm_window_minutes,
        recording_allowed=recording_allowed,
        retention_days=retention_days,
        evidence_preapproved=evidence_preapproved,
        state=state,
        terms_version=settings.TERMS_VERSION,
        terms_accepted_at=timezone.now(),
        terms_accepted_by=by,
    )
    agreement.full_clean(exclude=["business", "terms_accepted_by"], validate_constraints=False)
    if SharingAgreement.objects.filter(business=business, name__iexact=agreement.name).exists():
        raise ValidationError({"name": "This business already has sharing terms with this name."})
    _save_unique(agreement, field="name", message="This business already has sharing terms with this name.")
    _assign_cameras(agreement=agreement, camera_ids=camera_ids)
    audit_record(actor=by, action="agreement.create", target=agreement, details=_terms_of(agreement))
    return agreement


def _assign_cameras(*, agreement: SharingAgreement, camera_ids: list[int] | None) -> None:
    from cameras.models import Camera

    if camera_ids is None:
        return
    cameras = Camera.objects.filter(business=agreement.business, pk__in=camera_ids)
    if cameras.count() != len(set(camera_ids)):
        raise ValidationError({"camera_ids": "Choose cameras of this business."})
    agreement.cameras.exclude(pk__in=camera_ids).update(agreement=None)  # type: ignore[attr-defined]
    cameras.update(agreement=agreement)


def _terms_of(agreement: SharingAgreement) -> dict[str, Any]:
    return {
        "mode": agreement.mode,
        "schedule": agreement.schedule,
        "alarm_window_minutes": agreement.alarm_window_minutes,
        "recording_allowed": agreement.recording_allowed,
        "retention_days": agreement.retention_days,
        "evidence_preapproved": agreement.evidence_preapproved,
        "terms_version": agreement.terms_version,
        "version": agreement.version,
        "cameras": agreement.camera_ids(),
    }


@transaction.atomic
def agreement_update(
    *,
    agreement: SharingAgreement,
    by: User,
    terms_accepted: bool,
    camera_ids: list[int] | None = None,
    **terms: Any,
) -> SharingAgreement:
    """Change the terms; every change asks for the terms to be accepted again and bumps the version."""
    locked = SharingAgreement.objects.select_for_update().get(pk=agreement.pk)
    if locked.state == SharingAgreement.State.REVOKED:
        raise ValidationError("Revoked terms cannot be changed; create new sharing terms instead.")
    if "schedule" in terms:
        terms["schedule"] = schedule_clean(terms["schedule"])
    mode = terms.get("mode", locked.mode)
    if mode != SharingAgreement.Mode.SCHEDULE:
        terms["schedule"] = {}
    _check_terms(mode=mode, schedule=terms.get("schedule", locked.schedule), terms_accepted=terms_accepted)
    before = _terms_of(locked)
    _apply(
        locked,
        terms,
        allowed={
            "name",
            "mode",
            "schedule",
            "alarm_window_minutes",
            "recording_allowed",
            "retention_days",
            "evidence_preapproved",
        },
    )
    locked.version += 1
    locked.terms_version = settings.TERMS_VERSION
    locked.terms_accepted_at = timezone.now()
    locked.terms_accepted_by = by
    locked.full_clean(exclude=["business", "terms_accepted_by"], validate_constraints=False)
    if (
        SharingAgreement.objects.filter(business=locked.business, name__iexact=locked.name)
        .exclude(pk=locked.pk)
        .exists()
    ):
        raise ValidationError({"name": "This business already has sharing terms with this name."})
    _save_unique(locked, field="name", message="This business already has sharing terms with this name.")
    _assign_cameras(agreement=locked, camera_ids=camera_ids)
    audit_record(
        actor=by, action="agreement.update", target=locked, details={"before": before, "after": _terms_of(locked)}
    )
    changed_ids = set(before["cameras"]) | set(locked.camera_ids())
    transaction.on_commit(
        lambda: live_events.camera_access_changed(changed_ids, reason="The owner changed the sharing terms.")
    )
    return locked


@transaction.atomic
def agreement_revoke(*, agreement: SharingAgreement, by: User, reason: str = "") -> SharingAgreement:
    """Revoking is one action and takes effect at once: the cameras stop being shared."""
    locked = SharingAgreement.objects.select_for_update().get(pk=agreement.pk)
    if locked.state == SharingAgreement.State.REVOKED:
        return locked
    locked.state = SharingAgreement.State.REVOKED
    locked.state_reason = reason
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["state", "state_reason", "revoked_at", "updated_at"])
    camera_ids = locked.camera_ids()
    audit_record(actor=by, action="agreement.revoke", target=locked, details={"reason": reason, "cameras": camera_ids})
    why = f"The owner revoked sharing: {reason}" if reason else "The owner revoked sharing."
    transaction.on_commit(lambda: live_events.camera_access_changed(camera_ids, reason=why))
    return locked


@transaction.atomic
def business_staff_add(*, business: Business, by: User, email: str) -> User:
    """The owner adds an existing owner account as staff of the business."""
    if business.owner_id != by.pk:
        raise PermissionError("Only the owner adds staff.")
    staff = User.objects.filter(email__iexact=email.strip(), role=User.Role.OWNER, is_active=True).first()
    if staff is None:
        raise ValidationError({"email": "No business account uses this email address; ask them to sign up first."})
    if staff.pk == business.owner_id:
        raise ValidationError({"email": "The owner is already in charge of this business."})
    business.staff.add(staff)
    audit_record(actor=by, action="business.staff_add", target=business, details={"staff": staff.email})
    return staff


@transaction.atomic
def business_staff_remove(*, business: Business, by: User, staff: User) -> None:
    if business.owner_id != by.pk:
        raise PermissionError("Only the owner removes staff.")
    business.staff.remove(staff)
    audit_record(actor=by, action="business.staff_remove", target=business, details={"staff": staff.email})


@transaction.atomic
def otp_device_confirm(*, device: Any, by: User) -> None:
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(actor=by, action="auth.2fa_enrolled", target=by)
