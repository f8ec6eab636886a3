"""Lantern's URL map: the owner portal, the police app, the public pages, the API and the admin."""

from django.contrib import admin
from django.urls import include, path

from alerts.ingest import sensor_event
from cameras.views import media_signed

urlpatterns = [
    # Signed links of a few minutes to stored media, standing in for S3 presigned URLs with local storage.
    path("media/signed/<str:token>", media_signed, name="media-signed"),
    # Signed events from sensors (gunshot detection, alarm panels, panic buttons).
    path("ingest/sensors/<int:source_id>/events", sensor_event, name="sensor-event"),
    # The anonymous tip portal (tips.middleware strips the client address on these paths).
    path("tips/", include("tips.urls")),
    path("", include("community.urls")),
    path("", include("cameras.urls")),
    path("", include("alerts.urls")),
    path("", include("tips.triage_urls")),
    # Before api/: the citizens' tips API has no accounts (tips.api).
    path("api/tips/", include("tips.api_urls")),
    path("api/", include("config.api_urls")),
    path("admin/", admin.site.urls),
]
