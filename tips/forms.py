"""The citizen's forms: a new tip, opening one's tip with its codename, and a follow-up message."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from tips.models import Tip

# The model's labels are the police's English; the tipster reads these, in their language.
CATEGORY_CHOICES = [
    (Tip.Category.VIOLENCE, _("Violence or threat")),
    (Tip.Category.THEFT, _("Theft, robbery or burglary")),
    (Tip.Category.DRUGS, _("Drugs")),
    (Tip.Category.VEHICLE, _("Vehicles and traffic")),
    (Tip.Category.VANDALISM, _("Vandalism or graffiti")),
    (Tip.Category.MISSING, _("Missing person")),
    (Tip.Category.OTHER, _("Something else")),
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif")
VIDEO_EXTENSIONS = (".mp4", ".mov")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is judged by its content later, in the attachment pipeline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,video/mp4,video/quicktime"}),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


def _clean_files(files: list[UploadedFile]) -> list[UploadedFile]:
    """Count and size only, with a clear message; what a file really is is decided by its bytes later."""
    if len(files) > settings.TIP_MAX_ATTACHMENTS:
        raise forms.ValidationError(
            ngettext_lazy("You can send at most %(n)d file.", "You can send at most %(n)d files.", "n")
            % {"n": settings.TIP_MAX_ATTACHMENTS}
        )
    for upload in files:
        name = (upload.name or "").lower()
        is_video = name.endswith(VIDEO_EXTENSIONS) or (upload.content_type or "").startswith("video/")
        limit_mb = settings.TIP_MAX_VIDEO_MB if is_video else settings.TIP_MAX_IMAGE_MB
        if (upload.size or 0) > limit_mb * 1024 * 1024:
            raise forms.ValidationError(_("%(name)s is larger than %(mb)d MB.") % {"name": upload.name, "mb": limit_mb})
    return files


class TipForm(forms.Form):
    category = forms.ChoiceField(label=_("What is it about?"), choices=CATEGORY_CHOICES, widget=forms.RadioSelect)
    description = forms.CharField(
        label=_("What happened?"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Up to 5,000 characters. Leave out anything that could identify you."),
    )
    occurred_at = forms.DateTimeField(
        label=_("When did it happen? (if you know the time)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    occurred_text = forms.CharField(
        label=_("Or say roughly when"),
        max_length=200,
        required=False,
        help_text=_("For example: last Tuesday evening."),
    )
    place_text = forms.CharField(
        label=_("Where? (optional)"),
        max_length=300,
        required=False,
        help_text=_("An address, a crossing or a landmark."),
    )
    latitude = forms.DecimalField(
        label=_("Map pin: latitude (optional)"), required=False, min_value=-90, max_value=90, decimal_places=6
    )
    longitude = forms.DecimalField(
        label=_("Map pin: longitude (optional)"), required=False, min_value=-180, max_value=180, decimal_places=6
    )
    coarsen = forms.BooleanField(label=_("Blur the pin to about 500 m"), required=False, initial=True)
    attachments = MultipleFileField(
        label=_("Photos or videos (optional)"),
        required=False,
        help_text=_(
            "Up to 5 files: JPEG, PNG, WebP or HEIC photos, MP4 or MOV videos. Location and camera details are removed."
        ),
    )

    # Drawn when the form is shown: the same form sent twice files one tip (see tips.services.tip_create).
    submission = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read in the agency's zone (the tip routes activate it), which the tipster should know.
        self.fields["occurred_at"].help_text = _("Local time (%(zone)s).") % {
            "zone": timezone.get_current_timezone_name()
        }

    def clean_attachments(self) -> list[UploadedFile]:
        return _clean_files(self.cleaned_data.get("attachments") or [])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise forms.ValidationError(_("Give both latitude and longitude for a pin, or neither."))
        return data


class CodenameForm(forms.Form):
    number = forms.CharField(
        label=_("Tip number"), max_length=16, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    codename = forms.CharField(
        label=_("Codename (seven words)"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )


class FollowUpForm(CodenameForm):
    # The codename travels with each post as it did with the first: there is no session to remember it.
    number = forms.CharField(max_length=16, widget=forms.HiddenInput)
    codename = forms.CharField(max_length=200, widget=forms.HiddenInput)
    body = forms.CharField(label=_("Your message"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5}))
    submission = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)  # as on TipForm
    attachments = MultipleFileField(label=_("Photos or videos (optional)"), required=False)

    def clean_attachments(self) -> list[UploadedFile]:
        return _clean_files(self.cleaned_data.get("attachments") or [])
