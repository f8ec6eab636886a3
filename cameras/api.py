"""The REST API for cameras: the registry, stream credentials, probes, snapshots, the map, recordings and
evidence requests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from django.utils.decorators import method_decorator
from django.views.decorators.gzip import gzip_page
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from cameras import selectors, services
from cameras.forms import recordings_window, recordings_window_error
from cameras.models import Camera, EvidenceItem, EvidenceRequest
from cameras.shared_moments import moment_shared_with
from cameras.views import recordings_playlist
from community.api import (
    ApiViewSet,
    AuditEventSerializer,
    body,
    get_site_for_viewer,
    query_params,
    require_editor,
)
from community.models import SharingAgreement, Site, User
from community.selectors import agreements_visible_to, owned_business_ids, sites_visible_to


def get_camera_for_viewer(user: User, camera_id: Any) -> Camera:
    camera = selectors.cameras_visible_to(user).filter(pk=camera_id).first()
    if camera is None:
        raise exceptions.NotFound
    return camera


class CameraSerializer(serializers.ModelSerializer):
    """What anyone who may see the camera reads; the stream address (masked) and the push token's
    hint only for the business's owner and staff. The encrypted address and passwords never leave."""

    mode = serializers.ChoiceField(
        choices=SharingAgreement.Mode.choices, source="agreement.mode", read_only=True, allow_null=True, default=None
    )
    stream_url_masked = serializers.SerializerMethodField()
    push_token_hint = serializers.SerializerMethodField()
    has_snapshot = serializers.SerializerMethodField()

    class Meta:
        model = Camera
        fields = [
            "id",
            "business",
            "site",
            "name",
            "source",
            "placement",
            "views",
            "agreement",
            "mode",
            "stream_url_masked",
            "push_token_hint",
            "health",
            "health_message",
            "last_seen_at",
            "last_probe_at",
            "codec",
            "profile",
            "width",
            "height",
            "fps",
            "has_snapshot",
            "snapshot_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _for_editor(self, camera: Camera) -> bool:
        return camera.business_id in self.context.get("editable_business_ids", ())

    def get_stream_url_masked(self, camera: Camera) -> str | None:
        return camera.stream_url_masked if self._for_editor(camera) else None

    def get_push_token_hint(self, camera: Camera) -> str | None:
        return camera.push_token_hint if self._for_editor(camera) else None

    def get_has_snapshot(self, camera: Camera) -> bool:
        return bool(camera.snapshot)


class EnrolledCameraSerializer(CameraSerializer):
    push_token = serializers.CharField(
        read_only=True, allow_null=True, help_text="Push cameras only; shown this once, never again."
    )

    class Meta(CameraSerializer.Meta):
        fields = [*CameraSerializer.Meta.fields, "push_token"]
        read_only_fields = fields


def _editable_business_ids(user: User) -> set[int]:
    if not user.is_owner:
        return set()
    return {row["id"] for row in owned_business_ids(user)}


def _camera_data(user: User, camera: Camera) -> dict[str, Any]:
    return dict(CameraSerializer(camera, context={"editable_business_ids": _editable_business_ids(user)}).data)


class StreamFields(serializers.Serializer):
    """The stream address is checked here with the same rule the services apply, so that a mistake
    comes back on the `stream_url` field rather than as a message about the whole request."""

    stream_url = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="rtsp://, rtsps://, http:// or https://"
    )
    stream_username = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    stream_password = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200, write_only=True, style={"input_type": "password"}
    )


class CameraCreateSerializer(StreamFields):
    site = serializers.IntegerField()
    name = serializers.CharField()
    # A declared field named like Field.source; DRF's metaclass takes it out of the class attributes.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=Camera.Source.choices, default=Camera.Source.PULL
    )
    placement = serializers.ChoiceField(choices=Camera.Placement.choices, default=Camera.Placement.OUTDOOR)
    views = serializers.CharField(required=False, allow_blank=True, default="")
    agreement = serializers.IntegerField(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["source"] == Camera.Source.PULL and not attrs.get("stream_url"):
            raise serializers.ValidationError(
                {"stream_url": ["Enter the camera's stream address, for example rtsp://192.0.2.10:554/stream1."]}
            )
        return attrs


class CameraUpdateSerializer(StreamFields):
    name = serializers.CharField(required=False)
    site = serializers.IntegerField(required=False)
    placement = serializers.ChoiceField(choices=Camera.Placement.choices, required=False)
    views = serializers.CharField(required=False, allow_blank=True)
    agreement = serializers.IntegerField(required=False, allow_null=True)


class SiteRefSerializer(serializers.Serializer):
    site = serializers.IntegerField()


class CameraFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, default="", help_text="Name, view, site or business.")
    health = serializers.ChoiceField(choices=Camera.Health.choices, required=False, default="")
    mode = serializers.ChoiceField(choices=SharingAgreement.Mode.choices, required=False, default="")
    placement = serializers.ChoiceField(choices=Camera.Placement.choices, required=False, default="")
    business = serializers.IntegerField(required=False)


class PushTokenSerializer(serializers.Serializer):
    push_token = serializers.CharField(help_text="Shown this once; the camera sends it to ingest its stream.")
    push_token_hint = serializers.CharField()


_MAP_ROW = "[id, latitude, longitude, health, mode, name, site name]; mode is empty for cameras without terms."


def _site_in(user: User, site_id: int) -> Site:
    site = sites_visible_to(user).filter(pk=site_id).first()
    if site is None:
        raise exceptions.ValidationError({"site": ["Choose one of this business's sites."]})
    return site


def _agreement_in(user: User, agreement_id: int | None) -> SharingAgreement | None:
    if agreement_id is None:
        return None
    agreement = agreements_visible_to(user).filter(pk=agreement_id).first()
    if agreement is None:
        raise exceptions.ValidationError({"agreement": ["Choose sharing terms of this business."]})
    return agreement


class RecordingsQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False, help_text="Start (ISO 8601); ten minutes before until if left out."
    )
    until = serializers.DateTimeField(required=False, help_text="End (ISO 8601); now if left out.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = recordings_window(since=attrs.get("since"), until=attrs.get("until"))
        error = recordings_window_error(since=since, until=until)
        if error:
            raise serializers.ValidationError({"until": [error]})
        return {"since": since, "until": until}


class RecordingSegmentSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    url = serializers.CharField(help_text="A presigned link; it stops working after `expires_in` seconds.")
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()


class RecordingsSerializer(serializers.Serializer):
    camera = serializers.IntegerField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    available_since = serializers.DateTimeField(
        allow_null=True, help_text="Police: nothing older than this can be played; null for the owner."
    )
    expires_in = serializers.IntegerField(help_text="Seconds the segment links stay valid.")
    segments = RecordingSegmentSerializer(many=True)


class JSONForErrors(DefaultContentNegotiation):
    """The snapshot view returns the JPEG itself; its errors go out as JSON even to a client that
    asked only for `image/jpeg` (which would otherwise be refused with 406 before the view runs)."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type


class CameraViewSet(ApiViewSet):
    """The camera registry. Owners and staff enrol and change cameras; police read those shared with them."""

    queryset = Camera.objects.none()  # for the schema; rows come from the selectors
    serializer_class = CameraSerializer

    @extend_schema(parameters=[CameraFilterSerializer])
    def list(self, request: Request) -> Response:
        filters = query_params(request, CameraFilterSerializer)
        rows = selectors.cameras_search(
            user=self.user,
            q=filters["q"],
            health=filters["health"],
            mode=filters["mode"],
            placement=filters["placement"],
            business_id=filters.get("business"),
        )
        return self.paginated(rows, CameraSerializer, editable_business_ids=_editable_business_ids(self.user))

    def retrieve(self, request: Request, pk: str) -> Response:
        camera = get_camera_for_viewer(self.user, pk)
        if self.user.is_police:
            # Police looking at a partner's camera leave a trace the owner can read, as on the web page.
            services.camera_view_record(camera=camera, by=self.user, what="page")
        return Response(_camera_data(self.user, camera))

    @extend_schema(request=CameraCreateSerializer, responses={201: EnrolledCameraSerializer})
    def create(self, request: Request) -> Response:
        site_ref = body(request, SiteRefSerializer)
        site = get_site_for_viewer(self.user, site_ref["site"])
        require_editor(self.user, site.business)
        data = body(request, CameraCreateSerializer)
        del data["site"]
        data["agreement"] = _agreement_in(self.user, data["agreement"])
        camera, push_token = services.camera_create(business=site.business, by=self.user, site=site, **data)
        return Response({**_camera_data(self.user, camera), "push_token": push_token}, status=status.HTTP_201_CREATED)

    @extend_schema(request=CameraUpdateSerializer, responses={200: CameraSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        camera = get_camera_for_viewer(self.user, pk)
        require_editor(self.user, camera.business)
        data = body(request, CameraUpdateSerializer)
        if "site" in data:
            data["site"] = _site_in(self.user, data["site"])
        if "agreement" in data:
            data["agreement"] = _agreement_in(self.user, data["agreement"])
        camera = services.camera_update(camera=camera, by=self.user, **data)
        return Response(_camera_data(self.user, camera))

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        camera = get_camera_for_viewer(self.user, pk)
        require_editor(self.user, camera.business)
        services.camera_delete(camera=camera, by=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={202: CameraSerializer, 400: OpenApiResponse(description="Push cameras are not probed.")},
        description="Queue a probe of the stream; the camera's health and snapshot change when it finishes.",
    )
    @action(detail=True, methods=["post"])
    def probe(self, request: Request, pk: str) -> Response:
        camera = get_camera_for_viewer(self.user, pk)
        if not (self.user.is_supervisor or selectors.camera_editable_by(camera=camera, user=self.user)):
            raise exceptions.PermissionDenied("Only the camera's owner and staff, or a supervisor, can probe it.")
        services.camera_probe_request(camera=camera, by=self.user)
        camera.refresh_from_db()
        return Response(_camera_data(self.user, camera), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={200: PushTokenSerializer, 400: OpenApiResponse(description="Only push cameras have a token.")},
        description="Replace the push token; the old one stops working at once.",
    )
    @action(detail=True, methods=["post"], url_path="push-token")
    def push_token(self, request: Request, pk: str) -> Response:
        camera = get_camera_for_viewer(self.user, pk)
        require_editor(self.user, camera.business)
        token = services.camera_push_token_rotate(camera=camera, by=self.user)
        return Response({"push_token": token, "push_token_hint": token[-4:]})

    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The latest probe's snapshot."),
            404: OpenApiResponse(description="No such camera, or no snapshot yet."),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        content_negotiation_class=JSONForErrors,
    )
    def snapshot(self, request: Request, pk: str) -> FileResponse:
        camera = get_camera_for_viewer(self.user, pk)
        if not camera.snapshot:
            raise exceptions.NotFound("This camera has no snapshot yet.")
        if not moment_shared_with(camera=camera, user=self.user, at=camera.snapshot_at):
            # Taken when the owner did not share the camera live: police see no more of it than live view.
            raise exceptions.NotFound("This camera has no snapshot you may see.")
        try:
            image = camera.snapshot.open("rb")
        except FileNotFoundError:
            raise exceptions.NotFound("This camera has no snapshot yet.") from None
        if self.user.is_police:
            services.camera_view_record(camera=camera, by=self.user, what="snapshot")
        response = FileResponse(image, content_type="image/jpeg")
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        responses={
            200: inline_serializer(
                "CameraMap",
                {
                    "cameras": serializers.ListField(
                        child=serializers.ListField(child=serializers.JSONField()), help_text=_MAP_ROW
                    )
                },
            )
        },
        description="Every camera the caller may see, as compact rows for the map.",
    )
    # Compressed: 10,000 rows are ~720 KB raw, ~160 KB gzipped; the rows hold no secret, so
    # compression oracles (BREACH) have nothing to find.
    @method_decorator(gzip_page)
    @action(detail=False, methods=["get"], url_path="map")
    def map(self, request: Request) -> Response:
        return Response({"cameras": selectors.camera_map_features(user=self.user)})

    @extend_schema(
        parameters=[RecordingsQuerySerializer],
        responses={
            200: RecordingsSerializer,
            403: OpenApiResponse(description="The owner's terms do not share this camera's recordings with you."),
            404: OpenApiResponse(description="No such camera."),
        },
        description="The segments you may play in [since, until) (at most an hour), each with a link that expires "
        "within five minutes. Police get the last PLAYBACK_HOURS of what was shared live when recorded. Every "
        "call is in the owner's audit trail.",
    )
    @action(detail=True, methods=["get"])
    def recordings(self, request: Request, pk: str) -> Response:
        camera = get_camera_for_viewer(self.user, pk)
        decision = selectors.playback_decision(camera=camera, user=self.user)
        if decision.status == status.HTTP_404_NOT_FOUND:
            raise exceptions.NotFound
        if not decision.allowed:
            raise exceptions.PermissionDenied(decision.message)
        window = query_params(request, RecordingsQuerySerializer)
        playlist = recordings_playlist(
            request=request._request,
            camera=camera,
            user=self.user,
            decision=decision,
            since=window["since"],
            until=window["until"],
        )
        return Response(playlist, headers={"Cache-Control": "private, no-store"})


# ---------------------------------------------------------------- evidence requests


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This was already done."
    default_code = "conflict"


def get_evidence_request_for_viewer(user: User, request_id: Any) -> EvidenceRequest:
    evidence = selectors.evidence_requests_visible_to(user).filter(pk=request_id).first()
    if evidence is None:
        raise exceptions.NotFound
    return evidence


class EvidenceItemSerializer(serializers.ModelSerializer):
    filename = serializers.CharField(read_only=True)

    class Meta:
        model = EvidenceItem
        fields = ["id", "camera", "camera_name", "filename", "size_bytes", "sha256", "duration_s", "locked_until"]
        read_only_fields = fields


class EvidenceRequestSerializer(serializers.ModelSerializer):
    camera_ids: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        source="cameras", many=True, read_only=True
    )
    requested_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="email", read_only=True)
    decided_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="email", read_only=True, allow_null=True
    )
    items = EvidenceItemSerializer(many=True, read_only=True)

    class Meta:
        model = EvidenceRequest
        fields = [
            "id",
            "business",
            "case_number",
            "reason",
            "camera_ids",
            "window_start",
            "window_end",
            "requested_by",
            "state",
            "decided_by",
            "decided_at",
            "decision_reason",
            "preapproved_by",
            "export_progress",
            "export_error",
            "exported_at",
            "manifest_sha256",
            "manifest_signature",
            "items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EvidenceRequestCreateSerializer(serializers.Serializer):
    case_number = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=64, help_text=settings.EVIDENCE_CASE_NUMBER_HINT
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    camera_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, help_text="Cameras of one business."
    )
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField(
        help_text=f"After window_start, in the past, at most {settings.EVIDENCE_MAX_WINDOW_HOURS:g} hours later."
    )


class EvidenceDecisionSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=4000, help_text="Required to deny."
    )


class EvidenceFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=EvidenceRequest.State.choices, required=False)


class DownloadLinkSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="A presigned link to the file; each one handed out is audited.")
    expires_in = serializers.IntegerField(help_text="Seconds the link stays valid (at most 300).")


def _download_link(request: Request, url: str) -> Response:
    return Response(
        {"url": request.build_absolute_uri(url), "expires_in": settings.MEDIA_URL_EXPIRE_S},
        headers={"Cache-Control": "private, no-store"},
    )


_ITEM_ID = OpenApiParameter("item_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="An exported item.")


class EvidenceRequestViewSet(ApiViewSet):
    """Police ask a business for a bounded window of its footage for a case; the owner approves or denies;
    a worker exports it. Monitors see the requests they filed, owners those made of them, supervisors all."""

    queryset = EvidenceRequest.objects.none()  # for the schema; rows come from the selectors
    serializer_class = EvidenceRequestSerializer

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DjangoValidationError) and getattr(exc, "code", None) == "conflict":
            exc = Conflict(" ".join(exc.messages))
        return super().handle_exception(exc)

    def _get(self, pk: str) -> EvidenceRequest:
        return get_evidence_request_for_viewer(self.user, pk)

    @extend_schema(parameters=[EvidenceFilterSerializer])
    def list(self, request: Request) -> Response:
        filters = query_params(request, EvidenceFilterSerializer)
        rows = selectors.evidence_requests_visible_to(self.user).prefetch_related("cameras", "items")
        if filters.get("state"):
            rows = rows.filter(state=filters["state"])
        return self.paginated(rows, EvidenceRequestSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(EvidenceRequestSerializer(self._get(pk)).data)

    @extend_schema(
        request=EvidenceRequestCreateSerializer,
        responses={
            201: EvidenceRequestSerializer,
            400: OpenApiResponse(description="What is wrong, by field."),
            403: OpenApiResponse(description="Only police file requests."),
        },
    )
    def create(self, request: Request) -> Response:
        if not self.user.is_police:
            raise exceptions.PermissionDenied("Only police file evidence requests; business owners answer them.")
        data = body(request, EvidenceRequestCreateSerializer)
        evidence = services.evidence_request_create(by=self.user, **data)
        return Response(EvidenceRequestSerializer(evidence).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=EvidenceDecisionSerializer,
        responses={
            200: EvidenceRequestSerializer,
            400: OpenApiResponse(description="A denial needs a reason."),
            403: OpenApiResponse(description="Only the business's owner and staff answer."),
            409: OpenApiResponse(description="Already answered."),
        },
        description="The owner (or staff) approves, which queues the export, or denies with a reason.",
    )
    @action(detail=True, methods=["post"])
    def decision(self, request: Request, pk: str) -> Response:
        evidence = self._get(pk)
        data = body(request, EvidenceDecisionSerializer)
        evidence = services.evidence_request_decide(
            request=evidence, by=self.user, approve=data["approve"], reason=data["reason"]
        )
        return Response(EvidenceRequestSerializer(evidence).data)

    @extend_schema(
        request=None,
        responses={
            200: EvidenceRequestSerializer,
            403: OpenApiResponse(description="Only the requester or a supervisor retries."),
            409: OpenApiResponse(description="Only a failed export can be retried."),
        },
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        evidence = self._get(pk)
        if not (evidence.requested_by_id == self.user.pk or self.user.is_supervisor):
            raise exceptions.PermissionDenied("Only the officer who filed the request, or a supervisor, can retry it.")
        evidence = services.evidence_export_retry(request=evidence, by=self.user)
        return Response(EvidenceRequestSerializer(evidence).data)

    @extend_schema(
        request=None,
        parameters=[_ITEM_ID],
        responses={200: DownloadLinkSerializer, 404: OpenApiResponse(description="No such request or item.")},
        description="A link of at most five minutes to one exported file; the download is in the chain of custody.",
    )
    @action(detail=True, methods=["post"], url_path=r"items/(?P<item_id>\d+)/download")
    def download(self, request: Request, pk: str, item_id: str) -> Response:
        item = self._get(pk).items.filter(pk=item_id).first()
        if item is None:
            raise exceptions.NotFound
        return _download_link(request, services.evidence_download_url(item=item, by=self.user))

    @extend_schema(
        request=None,
        responses={200: DownloadLinkSerializer, 404: OpenApiResponse(description="Not exported yet.")},
        description="A link of at most five minutes to the signed manifest; the download is in the chain of custody.",
    )
    @action(detail=True, methods=["post"], url_path="manifest/download")
    def manifest_download(self, request: Request, pk: str) -> Response:
        evidence = self._get(pk)
        if not evidence.manifest_key:
            raise exceptions.NotFound("This request has no manifest yet.")
        return _download_link(request, services.evidence_manifest_url(request=evidence, by=self.user))

    @extend_schema(
        responses={200: AuditEventSerializer(many=True)},
        description="The chain of custody: every event about this request, oldest first.",
    )
    @action(detail=True, methods=["get"])
    def custody(self, request: Request, pk: str) -> Response:
        rows = selectors.evidence_custody(request=self._get(pk))
        return Response(AuditEventSerializer(rows, many=True).data)
