"""Forms for the alert pages: the list's filters, a state change with its note, a note, and forensic search."""

from __future__ import annotations

from typing import Any

from django import forms

from alerts.models import Alert
from alerts.services import settings_classes
from cameras.models import Camera


class AlertFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "Any state"), *Alert.State.choices], required=False)
    kind = forms.ChoiceField(choices=[("", "Any kind"), *Alert.Kind.choices], required=False)
    camera = forms.ModelChoiceField(queryset=Camera.objects.none(), required=False, empty_label="Any camera")

    def __init__(self, *args: Any, cameras: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["camera"].queryset = cameras  # type: ignore[attr-defined]


class AlertTransitionForm(forms.Form):
    state = forms.ChoiceField(choices=Alert.State.choices)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class AlertNoteForm(forms.Form):
    text = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Note")


class DetectionSearchForm(forms.Form):
    classes = forms.MultipleChoiceField(
        choices=[(c, c) for c in settings_classes()], required=False, widget=forms.CheckboxSelectMultiple
    )
    camera = forms.ModelChoiceField(queryset=Camera.objects.none(), required=False, empty_label="Any camera")
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    # "south,west,north,east", set by the map on the page; empty for anywhere.
    area = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, cameras: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["camera"].queryset = cameras  # type: ignore[attr-defined]

    def clean_area(self) -> tuple[float, float, float, float] | None:
        value = self.cleaned_data.get("area", "").strip()
        if not value:
            return None
        try:
            south, west, north, east = (float(part) for part in value.split(","))
        except ValueError as exc:
            raise forms.ValidationError("The area is south,west,north,east in degrees.") from exc
        if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
            raise forms.ValidationError("The area is south,west,north,east in degrees.")
        return south, west, north, east

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "The end of the window must come after its start.")
        return data
