"""Lantern's URL map: the owner portal, the police app, the public pages, the API and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("community.urls")),
    path("", include("cameras.urls")),
    path("api/", include("config.api_urls")),
    path("admin/", admin.site.urls),
]
