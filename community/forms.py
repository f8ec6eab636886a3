"""Forms for sign-up, two-factor, enrolment (business, site, sharing terms) and the supervisors' actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from community.lockout import lockout_cool_off_minutes, lockout_tries_left
from community.models import TIMEZONE_CHOICES, WEEKDAYS, Business, SharingAgreement, Site, User

DAY_NAMES = dict(
    zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True)
)


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: field errors by field, the rest at the top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError as exc:
            self.add_error(None, exc)
        # Say how close the lockout is before it comes, so that a person stops guessing and resets instead.
        if self.request is not None:
            left = lockout_tries_left(request=self.request)
            if left:
                tries = "1 try" if left == 1 else f"{left} tries"
                self.add_error(
                    None,
                    f"{tries} left before sign-in from here is paused for "
                    f"{lockout_cool_off_minutes(request=self.request)} minutes. Forgot your password? Reset it below.",
                )
        return self.cleaned_data


class PasswordPairForm(forms.Form):
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords are not the same.")
        elif data.get("password1"):
            try:
                validate_password(
                    data["password1"], User(email=data.get("email", ""), full_name=data.get("full_name", ""))
                )
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class SignupForm(PasswordPairForm):
    full_name = forms.CharField(max_length=150, label="Your name")
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    field_order = ["full_name", "email", "password1", "password2"]


class OTPTokenForm(forms.Form):
    token = forms.CharField(
        label="6-digit code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}),
    )


class BusinessForm(forms.ModelForm):
    class Meta:
        model = Business
        fields = ["name", "contact_name", "contact_email", "contact_phone"]
        labels = {"name": "Business name"}


class SiteForm(forms.ModelForm):
    timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES, initial="America/Detroit", label="Time zone")

    class Meta:
        model = Site
        fields = ["name", "address", "latitude", "longitude", "timezone", "listed_publicly"]
        labels = {"name": "Site name", "listed_publicly": "List this site on the public partner map"}
        widgets = {
            "latitude": forms.NumberInput(attrs={"step": "0.000001", "inputmode": "decimal"}),
            "longitude": forms.NumberInput(attrs={"step": "0.000001", "inputmode": "decimal"}),
        }


class AgreementForm(forms.Form):
    name = forms.CharField(max_length=120, label="Name for these terms", initial="Sharing terms")
    mode = forms.ChoiceField(
        choices=SharingAgreement.Mode.choices, widget=forms.RadioSelect, label="Police may watch live"
    )
    alarm_window_minutes = forms.IntegerField(
        min_value=1, max_value=240, initial=15, label="Minutes of live access after an alarm"
    )
    recording_allowed = forms.BooleanField(required=False, label="Allow recording for evidence requests")
    retention_days = forms.IntegerField(min_value=1, max_value=90, initial=30, label="Keep recordings for (days)")
    evidence_preapproved = forms.BooleanField(
        required=False, label="Pre-approve evidence requests (no case-by-case answer)"
    )
    cameras: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, required=False
    )
    terms_accepted = forms.BooleanField(required=True, label="I accept the sharing terms")

    def __init__(self, *args: Any, business: Business, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cameras"].queryset = business.cameras.all()  # type: ignore[attr-defined]
        self.fields["terms_accepted"].error_messages["required"] = "Accept the sharing terms to continue."
        for day in WEEKDAYS:
            self.fields[f"{day}_start"] = forms.TimeField(
                required=False, label=f"{DAY_NAMES[day]} from", widget=forms.TimeInput(attrs={"type": "time"})
            )
            self.fields[f"{day}_end"] = forms.TimeField(
                required=False, label=f"{DAY_NAMES[day]} until", widget=forms.TimeInput(attrs={"type": "time"})
            )

    @staticmethod
    def initial_for(agreement: SharingAgreement) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": agreement.name,
            "mode": agreement.mode,
            "alarm_window_minutes": agreement.alarm_window_minutes,
            "recording_allowed": agreement.recording_allowed,
            "retention_days": agreement.retention_days,
            "evidence_preapproved": agreement.evidence_preapproved,
            "cameras": agreement.camera_ids(),
        }
        for day, windows in agreement.schedule.items():
            if windows:
                initial[f"{day}_start"], initial[f"{day}_end"] = windows[0]
        return initial

    def schedule_rows(self) -> list[tuple[str, Any, Any]]:
        return [(DAY_NAMES[day], self[f"{day}_start"], self[f"{day}_end"]) for day in WEEKDAYS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        schedule: dict[str, list[list[str]]] = {}
        for day in WEEKDAYS:
            start, end = data.get(f"{day}_start"), data.get(f"{day}_end")
            if bool(start) != bool(end):
                self.add_error(f"{day}_end", f"Give both a start and an end time for {DAY_NAMES[day]}.")
            elif start and end:
                schedule[day] = [[start.strftime("%H:%M"), end.strftime("%H:%M")]]
        data["schedule"] = schedule
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "mode": data["mode"],
            "schedule": data["schedule"],
            "alarm_window_minutes": data["alarm_window_minutes"],
            "recording_allowed": data["recording_allowed"],
            "retention_days": data["retention_days"],
            "evidence_preapproved": data["evidence_preapproved"],
            "terms_accepted": data["terms_accepted"],
            "camera_ids": [camera.pk for camera in data["cameras"]],
        }


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class InviteForm(forms.Form):
    full_name = forms.CharField(max_length=150)
    email = forms.EmailField()
    role = forms.ChoiceField(
        choices=[(User.Role.MONITOR, "Police monitor"), (User.Role.SUPERVISOR, "Police supervisor")]
    )


class StaffForm(forms.Form):
    email = forms.EmailField(label="Email of the staff member's Lantern account")


class AuditSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Person or thing")
    action = forms.CharField(required=False, label="Action starts with")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
