"""The public tip portal's URLs (all under /tips/, where the anonymity middleware applies)."""

from django.urls import path

from tips import views

app_name = "tips"

urlpatterns = [
    path("", views.tip_new, name="new"),
    path("follow-up/", views.tip_open, name="open"),
    path("follow-up/reply/", views.tip_reply, name="reply"),
]
