"""The camera enrolment form, the police camera list's filters, playback windows and evidence request forms."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils import timezone

from cameras.models import Camera, EvidenceRequest
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


# ---------------------------------------------------------------- recordings and evidence

# One playlist lists at most this much footage: each segment in it costs a presigned URL, and the player
# asks for the next part as it goes (its links would expire before it got there anyway).
RECORDINGS_MAX_SPAN = timedelta(hours=1)
RECORDINGS_DEFAULT_SPAN = timedelta(minutes=10)
_ISO_HELP = "ISO 8601, e.g. 2026-11-21T14:00:00Z; without an offset it is read as UTC."


class RecordingsWindowForm(forms.Form):
    """The period a playlist covers: [since, until), ten minutes up to now by default, at most an hour."""

    since = forms.DateTimeField(required=False, help_text=_ISO_HELP)
    until = forms.DateTimeField(required=False, help_text=_ISO_HELP)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        data["since"], data["until"] = recordings_window(since=data.get("since"), until=data.get("until"))
        error = recordings_window_error(since=data["since"], until=data["until"])
        if error:
            self.add_error("until", error)
        return data


def recordings_window(*, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """(since, until) with the defaults filled in: until now, since ten minutes before until."""
    until = until or (since + RECORDINGS_DEFAULT_SPAN if since else timezone.now())
    return since or until - RECORDINGS_DEFAULT_SPAN, until


def recordings_window_error(*, since: datetime, until: datetime) -> str:
    """What is wrong with a playlist's window, or "" (the page's form and the API share the words)."""
    if until <= since:
        return "until must be after since."
    if until - since > RECORDINGS_MAX_SPAN:
        return f"Ask for at most {_span_words(RECORDINGS_MAX_SPAN)} at a time."
    return ""


def _span_words(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} hour{'s' if minutes >= 120 else ''}" if minutes % 60 == 0 else f"{minutes} minutes"


_DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's own date and time picker; it sends wall-clock time without a zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=_DATETIME_LOCAL)


class CameraIdsField(forms.Field):
    """Camera ids as ints. Which of them the person may ask for is the service's decision, so that its
    message ("not recorded", "no such camera") is the one shown, not a generic "invalid choice"."""

    widget = forms.CheckboxSelectMultiple
    default_error_messages = {"invalid": "Camera ids are numbers."}

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            value = [value]
        try:
            return [int(v) for v in value]
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class EvidenceRequestForm(forms.Form):
    """A monitor's request for footage. Only the shape is checked here; evidence_request_create judges it."""

    case_number = forms.CharField(
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"required": True, "autocomplete": "off", "spellcheck": "false"}),
    )
    reason = forms.CharField(
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "required": True}),
        help_text="What happened, and why this footage matters to the case. The owner reads it.",
    )
    camera_ids = CameraIdsField(required=False, label="Cameras")
    time_zone = forms.ChoiceField(label="Times are read in this time zone")
    window_start = forms.DateTimeField(
        label="From", widget=DateTimeLocalInput(), input_formats=[_DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S"]
    )
    window_end = forms.DateTimeField(
        label="To", widget=DateTimeLocalInput(), input_formats=[_DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S"]
    )

    def __init__(self, *args: Any, cameras: Iterable[Camera], time_zones: Iterable[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["case_number"].help_text = f"As your agency writes it: {settings.EVIDENCE_CASE_NUMBER_HINT}."
        hours = settings.EVIDENCE_MAX_WINDOW_HOURS
        self.fields["window_end"].help_text = f"At most {hours:g} hours after “From”, and in the past."
        grouped: dict[str, list[tuple[int, str]]] = {}
        for camera in cameras:
            grouped.setdefault(camera.business.name, []).append((camera.pk, f"{camera.name} · {camera.site.name}"))
        self.fields["camera_ids"].widget.choices = list(grouped.items())
        self.fields["time_zone"].choices = [  # type: ignore[attr-defined]
            (name, name.replace("_", " ")) for name in dict.fromkeys(time_zones)
        ]

    def camera_groups(self) -> list[tuple[str, list[Any]]]:
        """The camera checkboxes by business, for a fieldset each (the widget's own groups have no legend)."""
        options = list(self["camera_ids"].subwidgets)
        groups, start = [], 0
        for business, choices in self.fields["camera_ids"].widget.choices:
            groups.append((business, options[start : start + len(choices)]))
            start += len(choices)
        return groups

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        zone_name = data.get("time_zone")
        if zone_name:
            zone = ZoneInfo(zone_name)
            for name in ("window_start", "window_end"):
                if data.get(name) is not None:
                    # Django read the wall-clock time in the current time zone; it was meant in `zone`.
                    data[name] = timezone.make_naive(data[name]).replace(tzinfo=zone)
        return data


def evidence_window_initial(*, zone_name: str, now: datetime | None = None) -> dict[str, str]:
    """The last hour up to the current minute, as the datetime-local inputs show it in `zone_name`."""
    end = (now or timezone.now()).astimezone(ZoneInfo(zone_name)).replace(second=0, microsecond=0)
    return {
        "window_start": (end - timedelta(hours=1)).strftime(_DATETIME_LOCAL),
        "window_end": end.strftime(_DATETIME_LOCAL),
    }


class EvidenceDecisionForm(forms.Form):
    """The owner's answer: the button pressed says which; a denial needs the reason the service asks for."""

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("deny", "Deny")])
    reason = forms.CharField(
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Your reason (required to deny; the requester reads it)",
    )


class EvidenceFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "Any state"), *EvidenceRequest.State.choices], required=False)
