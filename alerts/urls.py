"""URLs for alerts: the list and page, nearby cameras and the heat map, rules, forensic search."""

from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("alerts/", views.alert_list, name="alert_list"),
    path("alerts/heatmap.json", views.alert_heatmap, name="alert_heatmap"),
    path("alerts/<int:alert_id>/", views.alert_detail, name="alert_detail"),
    path("alerts/<int:alert_id>/transition/", views.alert_transition, name="alert_transition"),
    path("alerts/<int:alert_id>/notes/", views.alert_note, name="alert_note"),
    path("alerts/<int:alert_id>/snapshot.jpg", views.alert_snapshot, name="alert_snapshot"),
    path("alerts/<int:alert_id>/nearby.json", views.alert_nearby, name="alert_nearby"),
    path("police/nearby.json", views.place_nearby, name="place_nearby"),
    path("cameras/<int:camera_id>/rules/", views.camera_rules, name="camera_rules"),
    path("cameras/<int:camera_id>/rules/<int:rule_id>/delete/", views.camera_rule_delete, name="camera_rule_delete"),
    path("cameras/<int:camera_id>/masks/", views.camera_masks, name="camera_masks"),
    path("search/", views.detection_search, name="detection_search"),
    path("portal/sensors/", views.sensor_list, name="sensor_list"),
    path("detections/<int:detection_id>/thumbnail.jpg", views.detection_thumbnail, name="detection_thumbnail"),
]
