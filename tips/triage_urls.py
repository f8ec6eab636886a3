"""URLs of tip triage in the police app, under /police/tips/."""

from django.urls import path

from tips import triage_views as views

app_name = "tip_triage"

urlpatterns = [
    path("police/tips/", views.tip_queue, name="tip_queue"),
    path("police/tips/<int:tip_id>/", views.tip_detail, name="tip_detail"),
    path("police/tips/<int:tip_id>/reply/", views.tip_reply, name="tip_reply"),
    path("police/tips/<int:tip_id>/notes/", views.tip_note, name="tip_note"),
    path("police/tips/<int:tip_id>/state/", views.tip_state, name="tip_state"),
    path("police/tips/<int:tip_id>/assign/", views.tip_assign, name="tip_assign"),
    path("police/tips/<int:tip_id>/merge/", views.tip_merge, name="tip_merge"),
    path(
        "police/tips/<int:tip_id>/attachments/<int:attachment_id>/",
        views.tip_attachment,
        name="tip_attachment",
    ),
]
