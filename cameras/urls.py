"""URLs for cameras: the owner's pages, the police map, list and camera page, snapshots, playback and evidence."""

from django.urls import path

from cameras import views, whep

app_name = "cameras"

urlpatterns = [
    path("portal/businesses/<int:business_id>/cameras/new/", views.camera_create, name="camera_create"),
    path("portal/cameras/<int:camera_id>/", views.camera_detail, name="camera_detail"),
    path("portal/cameras/<int:camera_id>/edit/", views.camera_edit, name="camera_edit"),
    path("portal/cameras/<int:camera_id>/probe/", views.camera_probe, name="camera_probe"),
    path("portal/cameras/<int:camera_id>/push-token/", views.camera_push_token_rotate, name="camera_push_token_rotate"),
    path("portal/cameras/<int:camera_id>/delete/", views.camera_delete, name="camera_delete"),
    path("police/map/", views.police_map, name="police_map"),
    path("police/wall/", views.police_wall, name="police_wall"),
    path("police/cameras/", views.police_camera_list, name="police_camera_list"),
    path("police/cameras/<int:camera_id>/", views.police_camera_detail, name="police_camera_detail"),
    path("cameras/<int:camera_id>/snapshot.jpg", views.camera_snapshot, name="camera_snapshot"),
    path("live/cameras/<int:camera_id>/whep", whep.whep_camera, name="whep_camera"),
    path("live/sessions/<str:session_id>", whep.whep_session, name="whep_session"),
    path("cameras/<int:camera_id>/playback/", views.camera_playback, name="camera_playback"),
    path("cameras/<int:camera_id>/recordings.json", views.camera_recordings, name="camera_recordings"),
    path("portal/storage/", views.storage_usage, name="storage_usage"),
    # Hyphenated like the name the services' emails link to ("cameras:evidence-detail").
    path("evidence/", views.evidence_list, name="evidence-list"),
    path("evidence/new/", views.evidence_new, name="evidence-new"),
    path("evidence/<int:request_id>/", views.evidence_detail, name="evidence-detail"),
    path("evidence/<int:request_id>/decision/", views.evidence_decide, name="evidence-decide"),
    path("evidence/<int:request_id>/retry/", views.evidence_retry, name="evidence-retry"),
    path("evidence/<int:request_id>/manifest/", views.evidence_manifest, name="evidence-manifest"),
    path(
        "evidence/<int:request_id>/items/<int:item_id>/download/",
        views.evidence_download,
        name="evidence-download",
    ),
]
