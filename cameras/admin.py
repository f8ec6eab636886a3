"""Cameras in the supervisors' read-only admin; stream credentials are never shown, not even encrypted."""

from django.contrib import admin

from cameras.models import Camera
from community.admin import ReadOnlyForSupervisors


@admin.register(Camera)
class CameraAdmin(ReadOnlyForSupervisors):
    list_display = ("name", "business", "site", "health", "codec", "last_seen_at")
    list_filter = ("health", "source", "placement")
    search_fields = ("name", "business__name", "site__name")
    exclude = ("stream_url_encrypted", "push_token_hash")
