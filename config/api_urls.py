"""The REST API: one router for every app, the token and transparency endpoints, and the OpenAPI schema."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import SimpleRouter

from cameras.api import CameraViewSet, EvidenceRequestViewSet
from community.api import (
    AgreementViewSet,
    AuditEventViewSet,
    BusinessViewSet,
    OfficerViewSet,
    SiteViewSet,
    TokenView,
    TransparencyView,
)

router = SimpleRouter()
router.register("businesses", BusinessViewSet, basename="api-business")
router.register("sites", SiteViewSet, basename="api-site")
router.register("agreements", AgreementViewSet, basename="api-agreement")
router.register("cameras", CameraViewSet, basename="api-camera")
router.register("evidence-requests", EvidenceRequestViewSet, basename="api-evidence-request")
router.register("audit-events", AuditEventViewSet, basename="api-audit-event")
router.register("officers", OfficerViewSet, basename="api-officer")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("transparency/", TransparencyView.as_view(), name="api-transparency"),
    # Like every endpoint but the token and the transparency report, the description of the API is
    # for signed-in people only.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: the pages' CSP refuses inline scripts.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[IsAuthenticated]),
        name="api-docs",
    ),
    *router.urls,
]
