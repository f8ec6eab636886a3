"""The REST API for people and partners: tokens, businesses, sites, sharing terms, officers and the audit trail."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from community import selectors, services
from community.api_auth import BearerTokenAuthentication
from community.models import AuditEvent, Business, Invitation, SharingAgreement, Site, User

# ---------------------------------------------------------------- errors and access


def _detail_of(exc: DjangoValidationError) -> dict[str, Any]:
    """A service's ValidationError as DRF's body: `{"field": ["message"]}`, or `{"detail": "message"}`."""
    if hasattr(exc, "error_dict"):
        return {
            (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"detail": " ".join(exc.messages)}


class ServiceErrors:
    """Turns the errors services raise into API answers: ValidationError -> 400, PermissionError -> 403."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DjangoValidationError):
            exc = exceptions.ValidationError(_detail_of(exc))
        # Services raise a bare PermissionError (no errno); one with an errno is an OS failure
        # (a storage file we may not read), which is our fault and must stay a 500.
        elif isinstance(exc, PermissionError) and exc.errno is None:
            exc = exceptions.PermissionDenied(str(exc) or None)
        return super().handle_exception(exc)  # type: ignore[misc]


class ApiViewSet(ServiceErrors, viewsets.GenericViewSet):
    """Rows come from the selectors and writes go through the services; the query parameters are
    read by small serializers, so django-filter's backend has nothing to do here."""

    filter_backends: list[Any] = []
    lookup_value_regex = r"\d+"

    @property
    def user(self) -> User:
        """The caller; the permission classes let only signed-in people this far."""
        user = self.request.user
        assert isinstance(user, User)
        return user

    def paginated(
        self, rows: QuerySet[Any], serializer_class: type[serializers.Serializer], **context: Any
    ) -> Response:
        page = self.paginate_queryset(rows)
        data = serializer_class(page, many=True, context={"request": self.request, **context}).data
        return self.get_paginated_response(data)


def query_params(request: Request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def body(request: Request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def get_business_for_viewer(user: User, business_id: Any) -> Business:
    business = selectors.businesses_visible_to(user).filter(pk=business_id).first()
    if business is None:
        raise exceptions.NotFound
    return business


def get_site_for_viewer(user: User, site_id: Any) -> Site:
    site = selectors.sites_visible_to(user).filter(pk=site_id).first()
    if site is None:
        raise exceptions.NotFound
    return site


def get_agreement_for_viewer(user: User, agreement_id: Any) -> SharingAgreement:
    agreement = selectors.agreements_visible_to(user).prefetch_related("cameras").filter(pk=agreement_id).first()
    if agreement is None:
        raise exceptions.NotFound
    return agreement


def require_editor(user: User, business: Business) -> None:
    """Visible is not writable: police read partners' things, only the owner and staff change them."""
    if not selectors.business_editable_by(business=business, user=user):
        raise exceptions.PermissionDenied("Only the business's owner and staff can change this.")


def business_from_body(request: Request, user: User) -> Business:
    """The business named in a create request, checked before the rest of the body: a business the
    caller cannot see is a 404 and one they cannot change a 403, whatever else was sent."""
    ref = BusinessRefSerializer(data=request.data)
    ref.is_valid(raise_exception=True)
    business = get_business_for_viewer(user, ref.validated_data["business"])
    require_editor(user, business)
    return business


class BusinessRefSerializer(serializers.Serializer):
    business = serializers.IntegerField()


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


# ---------------------------------------------------------------- tokens


class TokenCreateSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=16, help_text="Police: the current TOTP code."
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


_BAD_LOGIN = "Unable to log in with the email address and password given."


class TokenView(ServiceErrors, APIView):
    """POST trades an email, password and (for police) a TOTP code for an API token; DELETE revokes it."""

    # Only the bearer token: a browser session must not be able to mint or drop tokens without CSRF.
    authentication_classes = [BearerTokenAuthentication]

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(
        request=TokenCreateSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(description="Wrong email, password or two-factor code."),
            429: OpenApiResponse(description="Too many failed logins; try again later."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = body(request, TokenCreateSerializer)
        django_request = request._request
        user = authenticate(request=django_request, username=data["email"], password=data["password"])
        if getattr(django_request, "axes_locked_out", False):
            # django-axes would swap our answer for its HTML lockout page; an API client wants JSON.
            django_request.axes_locked_out = False  # type: ignore[attr-defined]
            raise exceptions.Throttled(detail="Too many failed logins; try again later.")
        if user is None:
            raise exceptions.ValidationError({"detail": _BAD_LOGIN})
        assert isinstance(user, User)
        if user.is_police:
            devices = list(TOTPDevice.objects.devices_for_user(user, confirmed=True))
            if not devices:
                raise exceptions.ValidationError(
                    {"otp": ["Set up two-factor login in the web app before using the API."]}
                )
            if not data["otp"] or not any(device.verify_token(data["otp"]) for device in devices):
                # Counts towards the lockout (and the audit trail) like a wrong password.
                user_login_failed.send(sender=__name__, credentials={"username": data["email"]}, request=django_request)
                raise exceptions.ValidationError({"otp": ["Enter the current 6-digit code from your authenticator."]})
        token = services.api_token_issue(user=user, request=django_request)
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        assert isinstance(request.auth, Token)
        services.api_token_revoke(token=request.auth, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- businesses


class BusinessSerializer(serializers.ModelSerializer):
    class Meta:
        model = Business
        fields = [
            "id",
            "name",
            "contact_name",
            "contact_email",
            "contact_phone",
            "state",
            "state_reason",
            "submitted_at",
            "verified_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class BusinessCreateSerializer(serializers.Serializer):
    name = serializers.CharField()
    contact_name = serializers.CharField()
    contact_email = serializers.CharField()
    contact_phone = serializers.CharField(required=False, allow_blank=True, default="")


class BusinessUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    contact_name = serializers.CharField(required=False)
    contact_email = serializers.CharField(required=False)
    contact_phone = serializers.CharField(required=False, allow_blank=True)


class BusinessFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Business.State.choices, required=False)


class BusinessViewSet(ApiViewSet):
    """Owners enrol and edit their businesses; supervisors verify and suspend partners; monitors read."""

    queryset = Business.objects.none()  # for the schema; rows come from the selectors
    serializer_class = BusinessSerializer

    @extend_schema(parameters=[BusinessFilterSerializer])
    def list(self, request: Request) -> Response:
        filters = query_params(request, BusinessFilterSerializer)
        rows = selectors.businesses_visible_to(self.user)
        if filters.get("state"):
            rows = rows.filter(state=filters["state"])
        return self.paginated(rows, BusinessSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(BusinessSerializer(get_business_for_viewer(self.user, pk)).data)

    @extend_schema(request=BusinessCreateSerializer, responses={201: BusinessSerializer})
    def create(self, request: Request) -> Response:
        if not self.user.is_owner:
            raise exceptions.PermissionDenied("Only business owners enrol businesses.")
        data = body(request, BusinessCreateSerializer)
        business = services.business_create(owner=self.user, **data)
        return Response(BusinessSerializer(business).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BusinessUpdateSerializer, responses={200: BusinessSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        business = get_business_for_viewer(self.user, pk)
        require_editor(self.user, business)
        data = body(request, BusinessUpdateSerializer)
        business = services.business_update(business=business, by=self.user, **data)
        return Response(BusinessSerializer(business).data)

    @extend_schema(request=None, responses={200: BusinessSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        business = get_business_for_viewer(self.user, pk)
        require_editor(self.user, business)
        business = services.business_submit(business=business, by=self.user)
        return Response(BusinessSerializer(business).data)

    @extend_schema(request=ReasonSerializer, responses={200: BusinessSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str) -> Response:
        business = get_business_for_viewer(self.user, pk)
        data = body(request, ReasonSerializer)
        business = services.business_verify(business=business, by=self.user, reason=data["reason"])
        return Response(BusinessSerializer(business).data)

    @extend_schema(request=ReasonSerializer, responses={200: BusinessSerializer})
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str) -> Response:
        business = get_business_for_viewer(self.user, pk)
        data = body(request, ReasonSerializer)
        business = services.business_suspend(business=business, by=self.user, reason=data["reason"])
        return Response(BusinessSerializer(business).data)


# ---------------------------------------------------------------- sites


class CoordinateField(serializers.DecimalField):
    """Degrees, stored to the micro-degree; maps and phones send more digits, which are rounded, not refused."""

    default_error_messages = {"out_of_range": "{name} must be between -{bound} and {bound}."}

    def __init__(self, *, name: str, bound: int, **kwargs: Any) -> None:
        self.name, self.bound = name, bound
        super().__init__(max_digits=9, decimal_places=6, coerce_to_string=False, **kwargs)

    def validate_precision(self, value: Decimal) -> Decimal:
        if not -self.bound <= value <= self.bound:
            self.fail("out_of_range", name=self.name, bound=self.bound)
        return value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)


class SiteSerializer(serializers.ModelSerializer):
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, coerce_to_string=False, read_only=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, coerce_to_string=False, read_only=True)

    class Meta:
        model = Site
        fields = [
            "id",
            "business",
            "name",
            "address",
            "latitude",
            "longitude",
            "timezone",
            "listed_publicly",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SiteCreateSerializer(serializers.Serializer):
    business = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    latitude = CoordinateField(name="Latitude", bound=90)
    longitude = CoordinateField(name="Longitude", bound=180)
    timezone = serializers.CharField(default="America/Detroit", help_text="An IANA time zone such as America/Detroit.")
    listed_publicly = serializers.BooleanField(default=False)


class SiteUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    address = serializers.CharField(required=False)
    latitude = CoordinateField(name="Latitude", bound=90, required=False)
    longitude = CoordinateField(name="Longitude", bound=180, required=False)
    timezone = serializers.CharField(required=False)
    listed_publicly = serializers.BooleanField(required=False)


class ByBusinessFilterSerializer(serializers.Serializer):
    business = serializers.IntegerField(required=False)


class SiteViewSet(ApiViewSet):
    """A business's places, with coordinates for the map; the owner's side writes, police read."""

    queryset = Site.objects.none()  # for the schema; rows come from the selectors
    serializer_class = SiteSerializer

    @extend_schema(parameters=[ByBusinessFilterSerializer])
    def list(self, request: Request) -> Response:
        filters = query_params(request, ByBusinessFilterSerializer)
        rows = selectors.sites_visible_to(self.user)
        if filters.get("business") is not None:
            rows = rows.filter(business_id=filters["business"])
        return self.paginated(rows, SiteSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SiteSerializer(get_site_for_viewer(self.user, pk)).data)

    @extend_schema(request=SiteCreateSerializer, responses={201: SiteSerializer})
    def create(self, request: Request) -> Response:
        business = business_from_body(request, self.user)
        data = body(request, SiteCreateSerializer)
        del data["business"]
        site = services.site_create(business=business, by=self.user, **data)
        return Response(SiteSerializer(site).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SiteUpdateSerializer, responses={200: SiteSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        site = get_site_for_viewer(self.user, pk)
        require_editor(self.user, site.business)
        data = body(request, SiteUpdateSerializer)
        site = services.site_update(site=site, by=self.user, **data)
        return Response(SiteSerializer(site).data)


# ---------------------------------------------------------------- sharing agreements


class AgreementSerializer(serializers.ModelSerializer):
    camera_ids: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        source="cameras", many=True, read_only=True
    )

    class Meta:
        model = SharingAgreement
        fields = [
            "id",
            "business",
            "name",
            "mode",
            "schedule",
            "alarm_window_minutes",
            "recording_allowed",
            "retention_days",
            "evidence_preapproved",
            "state",
            "state_reason",
            "version",
            "terms_version",
            "terms_accepted_at",
            "revoked_at",
            "camera_ids",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


_SCHEDULE_HELP = 'Weekdays to [start, end] windows, e.g. {"mon": [["08:00", "18:00"]]}; only for mode "schedule".'
_TERMS_HELP = "Must be true: the sharing terms are accepted anew with every change."


class AgreementCreateSerializer(serializers.Serializer):
    business = serializers.IntegerField()
    name = serializers.CharField()
    mode = serializers.ChoiceField(choices=SharingAgreement.Mode.choices)
    terms_accepted = serializers.BooleanField(default=False, help_text=_TERMS_HELP)
    schedule = serializers.JSONField(required=False, default=None, help_text=_SCHEDULE_HELP)
    alarm_window_minutes = serializers.IntegerField(required=False, default=15)
    recording_allowed = serializers.BooleanField(required=False, default=False)
    retention_days = serializers.IntegerField(required=False, default=30)
    evidence_preapproved = serializers.BooleanField(required=False, default=False)
    camera_ids = serializers.ListField(child=serializers.IntegerField(), required=False)


class AgreementUpdateSerializer(serializers.Serializer):
    terms_accepted = serializers.BooleanField(default=False, help_text=_TERMS_HELP)
    name = serializers.CharField(required=False)
    mode = serializers.ChoiceField(choices=SharingAgreement.Mode.choices, required=False)
    schedule = serializers.JSONField(required=False, help_text=_SCHEDULE_HELP)
    alarm_window_minutes = serializers.IntegerField(required=False)
    recording_allowed = serializers.BooleanField(required=False)
    retention_days = serializers.IntegerField(required=False)
    evidence_preapproved = serializers.BooleanField(required=False)
    camera_ids = serializers.ListField(child=serializers.IntegerField(), required=False)


class AgreementFilterSerializer(serializers.Serializer):
    business = serializers.IntegerField(required=False)
    state = serializers.ChoiceField(choices=SharingAgreement.State.choices, required=False)


class AgreementViewSet(ApiViewSet):
    """Sharing terms: the owner's side creates, changes and revokes them; police read the active ones."""

    queryset = SharingAgreement.objects.none()  # for the schema; rows come from the selectors
    serializer_class = AgreementSerializer

    @extend_schema(parameters=[AgreementFilterSerializer])
    def list(self, request: Request) -> Response:
        filters = query_params(request, AgreementFilterSerializer)
        rows = selectors.agreements_visible_to(self.user).prefetch_related("cameras")
        if filters.get("business") is not None:
            rows = rows.filter(business_id=filters["business"])
        if filters.get("state"):
            rows = rows.filter(state=filters["state"])
        return self.paginated(rows, AgreementSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(AgreementSerializer(get_agreement_for_viewer(self.user, pk)).data)

    @extend_schema(request=AgreementCreateSerializer, responses={201: AgreementSerializer})
    def create(self, request: Request) -> Response:
        business = business_from_body(request, self.user)
        data = body(request, AgreementCreateSerializer)
        del data["business"]
        agreement = services.agreement_create(business=business, by=self.user, **data)
        return Response(AgreementSerializer(agreement).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AgreementUpdateSerializer, responses={200: AgreementSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        agreement = get_agreement_for_viewer(self.user, pk)
        require_editor(self.user, agreement.business)
        data = body(request, AgreementUpdateSerializer)
        agreement = services.agreement_update(agreement=agreement, by=self.user, **data)
        return Response(AgreementSerializer(agreement).data)

    @extend_schema(request=ReasonSerializer, responses={200: AgreementSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        agreement = get_agreement_for_viewer(self.user, pk)
        require_editor(self.user, agreement.business)
        data = body(request, ReasonSerializer)
        agreement = services.agreement_revoke(agreement=agreement, by=self.user, reason=data["reason"])
        return Response(AgreementSerializer(agreement).data)


# ---------------------------------------------------------------- audit trail


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor_label",
            "action",
            "target_type",
            "target_id",
            "target_label",
            "business_id",
            "camera_id",
            "details",
        ]
        read_only_fields = fields


class AuditEventFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, default="", help_text="Part of a person or a target.")
    action = serializers.CharField(required=False, allow_blank=True, default="", help_text="Prefix, e.g. camera.view")
    camera = serializers.IntegerField(required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class ReadsAuditTrail(BasePermission):
    """Owners read their own businesses' trail and supervisors all of it; monitors have no row."""

    message = "Your role cannot read the audit trail."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user.is_authenticated and (user.is_owner or user.is_supervisor))


class AuditEventViewSet(ApiViewSet):
    queryset = AuditEvent.objects.none()  # for the schema; rows come from the selectors
    serializer_class = AuditEventSerializer
    permission_classes = [IsAuthenticated, ReadsAuditTrail]

    @extend_schema(parameters=[AuditEventFilterSerializer])
    def list(self, request: Request) -> Response:
        filters = query_params(request, AuditEventFilterSerializer)
        rows = selectors.audit_events_search(
            user=self.user,
            q=filters["q"],
            action=filters["action"],
            camera_id=filters.get("camera"),
            since=filters.get("since"),
            until=filters.get("until"),
        )
        return self.paginated(rows, AuditEventSerializer)


# ---------------------------------------------------------------- officers

_POLICE_ROLES = [(role.value, role.label) for role in (User.Role.MONITOR, User.Role.SUPERVISOR)]


class OfficerSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=_POLICE_ROLES, read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "is_active", "date_joined", "last_login"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    full_name = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=_POLICE_ROLES)


class InvitationSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=_POLICE_ROLES, read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "full_name", "role", "created_at", "expires_at"]
        read_only_fields = fields


class IsSupervisor(BasePermission):
    message = "Only supervisors manage officers."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user.is_authenticated and request.user.is_supervisor)


def get_officer_for_supervisor(user: User, officer_id: Any) -> User:
    officer = selectors.officers_of(supervisor=user).filter(pk=officer_id).first()
    if officer is None:
        raise exceptions.NotFound
    return officer


class OfficerViewSet(ApiViewSet):
    """A supervisor's own agency: its officers, invitations for new ones, and (de)activation."""

    queryset = User.objects.none()  # for the schema; rows come from the selectors
    serializer_class = OfficerSerializer
    permission_classes = [IsAuthenticated, IsSupervisor]

    def list(self, request: Request) -> Response:
        return self.paginated(selectors.officers_of(supervisor=self.user), OfficerSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(OfficerSerializer(get_officer_for_supervisor(self.user, pk)).data)

    @extend_schema(
        request=InvitationCreateSerializer,
        responses={201: InvitationSerializer},
        description="Invite an officer to your agency; the link goes to them by email, never into this answer.",
    )
    def create(self, request: Request) -> Response:
        data = body(request, InvitationCreateSerializer)
        invitation, _token = services.invitation_create(by=self.user, **data)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses={200: OfficerSerializer})
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        officer = get_officer_for_supervisor(self.user, pk)
        data = body(request, ReasonSerializer)
        officer = services.officer_deactivate(officer=officer, by=self.user, reason=data["reason"])
        return Response(OfficerSerializer(officer).data)

    @extend_schema(request=None, responses={200: OfficerSerializer})
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk: str) -> Response:
        officer = get_officer_for_supervisor(self.user, pk)
        officer = services.officer_reactivate(officer=officer, by=self.user)
        return Response(OfficerSerializer(officer).data)


# ---------------------------------------------------------------- transparency


class TransparencyMonthSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    verifications = serializers.IntegerField()
    suspensions = serializers.IntegerField()
    revocations = serializers.IntegerField()
    agreements = serializers.IntegerField()
    cameras_enrolled = serializers.IntegerField()


class TransparencyTipMonthSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    counts = serializers.ListField(
        child=serializers.IntegerField(min_value=0),
        help_text="Tips received this month in each category, in the order of tip_categories.",
    )
    total = serializers.IntegerField(
        min_value=0, help_text="Tips received this month in all categories; merged duplicates are counted once."
    )


class TransparencyReportSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    partners = serializers.IntegerField()
    cameras_by_mode = serializers.DictField(child=serializers.IntegerField())
    cameras_shared = serializers.IntegerField()
    months = TransparencyMonthSerializer(many=True)
    tip_categories = serializers.ListField(
        child=serializers.CharField(), help_text="The tip categories' labels, in the order of each month's counts."
    )
    # Counts only: a tip's text, number and place never leave the police pages.
    tips_by_month = TransparencyTipMonthSerializer(
        many=True, help_text="Anonymous tips received per month and category, newest month first."
    )


class TransparencyView(APIView):
    """The public report: counts only, never a name or an address."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: TransparencyReportSerializer}, auth=[])
    def get(self, request: Request) -> Response:
        return Response(TransparencyReportSerializer(selectors.transparency_report()).data)
