"""The camera enrolment form and the police camera list's filters."""

from __future__ import annotations

from typing import Any

from django import forms

from cameras.models import Camera
from community.models import Business, SharingAgreement


class CameraForm(forms.Form):
    name = forms.CharField(max_length=100, label="Camera name", help_text="For example “Front door”.")
    site: forms.ModelChoiceField = forms.ModelChoiceField(queryset=None, empty_label=None)
    source = forms.ChoiceField(
        choices=Camera.Source.choices,
        widget=forms.RadioSelect,
        initial=Camera.Source.PULL,
        label="How Lantern gets the video",
    )
    stream_url = forms.CharField(
        max_length=1000,
        required=False,
        label="Stream address",
        help_text="rtsp://, rtsps://, http:// or https://. Lantern checks it after you save, never while you type.",
        widget=forms.TextInput(
            attrs={
                "placeholder": "rtsp://192.0.2.10:554/stream1",
                "autocomplete": "off",
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        ),
    )
    stream_username = forms.CharField(
        max_length=150,
        required=False,
        label="Camera username (optional)",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off"}),
    )
    stream_password = forms.CharField(
        max_length=150,
        required=False,
        label="Camera password (optional)",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    placement = forms.ChoiceField(
        choices=Camera.Placement.choices, widget=forms.RadioSelect, initial=Camera.Placement.OUTDOOR
    )
    views = forms.CharField(
        max_length=200,
        required=False,
        label="What it views",
        help_text="For example “Parking lot and the sidewalk on Main St”.",
    )
    agreement: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None, required=False, label="Sharing terms", empty_label="Choose later"
    )

    def __init__(self, *args: Any, business: Business, editing: Camera | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.fields["site"].queryset = business.sites.all()  # type: ignore[attr-defined]
        agreements = business.agreements.exclude(state=SharingAgreement.State.REVOKED)
        self.fields["agreement"].queryset = agreements  # type: ignore[attr-defined]
        if editing is not None:
            self.fields["source"].disabled = True
            self.fields[
                "stream_url"
            ].help_text = f"Now {editing.stream_url_masked or 'not set'}. Leave empty to keep it."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("source") == Camera.Source.PULL and not data.get("stream_url") and self.editing is None:
            self.add_error("stream_url", "Enter the camera's stream address, or choose push.")
        return data


class CameraFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    health = forms.ChoiceField(choices=[("", "Any health"), *Camera.Health.choices], required=False)
    mode = forms.ChoiceField(choices=[("", "Any sharing"), *SharingAgreement.Mode.choices], required=False)
    placement = forms.ChoiceField(choices=[("", "Indoor or outdoor"), *Camera.Placement.choices], required=False)
