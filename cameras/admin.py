"""Cameras in the supervisors' read-only admin; stream addresses are never shown, not even masked or encrypted."""

from django.contrib import admin

from cameras.models import Camera
from community.admin import ReadOnlyForSupervisors


@admin.register(Camera)
class CameraAdmin(ReadOnlyForSupervisors):
    list_display = ("name", "business", "site", "health", "codec", "last_seen_at")
    list_filter = ("health", "source", "placement")
    search_fields = ("name", "business__name", "site__name")
    # Not even the masked URL: it still names the owner's camera host, port and path, which the API keeps
    # from police too.
    exclude = ("stream_url_encrypted", "stream_url_masked", "push_token_hash")
