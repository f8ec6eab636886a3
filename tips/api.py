"""The tips API for citizens' apps: file a tip, and read or add to one's thread with the number and codename."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import get_language
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tips.forms import CATEGORY_CHOICES
from tips.models import Tip, TipMessage
from tips.selectors import CodenameThrottled, tip_for_codename, tip_thread_for_citizen
from tips.services import (
    TipAlreadySent,
    TipRateLimited,
    tip_create,
    tip_follow_up_rate_check,
    tip_message_add,
    tip_rate_check,
)


class TipCreateSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=[value for value, _ in CATEGORY_CHOICES])
    description = serializers.CharField(max_length=5000)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    occurred_text = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    place_text = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False, allow_null=True
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False, allow_null=True
    )
    coarsen = serializers.BooleanField(required=False, default=False)
    submission = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="A random token the app draws once per tip; the same token sent again files nothing new (409).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("latitude") is None) != (attrs.get("longitude") is None):
            raise serializers.ValidationError("Give both latitude and longitude for a pin, or neither.")
        return attrs


class TipReceiptSerializer(serializers.Serializer):
    number = serializers.CharField()
    codename = serializers.CharField(help_text="Seven words; shown this once and never again.")


class CodenameSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=16)
    codename = serializers.CharField(max_length=200)


class FollowUpSerializer(CodenameSerializer):
    body = serializers.CharField(max_length=5000)


class CitizenMessageSerializer(serializers.Serializer):
    author = serializers.CharField(source="author_kind")
    body = serializers.CharField()
    # The day only: the minute a tipster wrote says more about them than triage needs to say back.
    created_on = serializers.SerializerMethodField()

    def get_created_on(self, message: TipMessage) -> date:
        return message.created_at.date()


class CitizenAttachmentSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    state = serializers.CharField()
    refusal = serializers.CharField()


class CitizenThreadSerializer(serializers.Serializer):
    number = serializers.CharField(source="tip.number")
    category = serializers.CharField(source="tip.category")
    description = serializers.CharField(source="tip.description")
    created_on = serializers.DateField(source="tip.created_on")
    messages = CitizenMessageSerializer(many=True)
    attachments = CitizenAttachmentSerializer(many=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class AlreadySentSerializer(DetailSerializer):
    number = serializers.CharField(help_text="The tip this token filed (its codename is not shown again).")


# DRF's validation errors: a message list per field.
_INVALID = OpenApiResponse(description="Invalid fields, each with its messages.")
_NOT_FOUND = {"detail": "That tip number and codename do not match."}
_THROTTLED = {"detail": "Too many attempts for this tip. Please try again in an hour."}
_FOLLOW_UPS_THROTTLED = {"detail": "Too many messages for this tip in the last hour. Please try later."}


class _CitizenAPIView(APIView):
    # No account, no session, no token: nothing here may tie a request to a person.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    # JSON only (anything else is 415): a page on another site can send a form or text/plain across sites,
    # but JSON needs a CORS preflight that nothing here answers, so no third party can file tips from a
    # visitor's browser.
    parser_classes = [JSONParser]


def _client_key(request: Request) -> str:
    # Set by TipAnonymityMiddleware on every tip route.
    return str(request._request.tip_client_key)  # type: ignore[attr-defined]


class TipCreateView(_CitizenAPIView):
    @extend_schema(
        request=TipCreateSerializer,
        responses={
            201: TipReceiptSerializer,
            400: _INVALID,
            409: AlreadySentSerializer,
            415: DetailSerializer,
            429: DetailSerializer,
        },
        summary="File an anonymous tip",
    )
    def post(self, request: Request) -> Response:
        incoming = TipCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            tip_rate_check(client_key=_client_key(request))
        except TipRateLimited:
            return Response({"detail": "Too many tips from here this hour."}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        data = incoming.validated_data
        try:
            receipt = tip_create(
                category=data["category"],
                description=data["description"],
                occurred_at=data.get("occurred_at"),
                occurred_text=data.get("occurred_text", ""),
                place_text=data.get("place_text", ""),
                latitude=data.get("latitude"),
                longitude=data.get("longitude"),
                coarsen=data.get("coarsen", False),
                language=get_language() or "en",
                submission=data.get("submission", ""),
            )
        except TipAlreadySent as sent:
            body = {"detail": "This tip was already sent.", "number": sent.number}
            return Response(AlreadySentSerializer(body).data, status=status.HTTP_409_CONFLICT)
        return Response(
            TipReceiptSerializer({"number": receipt.tip.number, "codename": receipt.codename}).data,
            status=status.HTTP_201_CREATED,
        )


def _open(request: Request, data: dict[str, Any]) -> Tip | Response:
    try:
        tip = tip_for_codename(number=data["number"], codename=data["codename"], client_key=_client_key(request))
    except CodenameThrottled:
        return Response(_THROTTLED, status=status.HTTP_429_TOO_MANY_REQUESTS)
    return tip if tip is not None else Response(_NOT_FOUND, status=status.HTTP_404_NOT_FOUND)


class TipThreadView(_CitizenAPIView):
    # POST, not GET: the codename must never be in a URL (URLs end up in logs and histories).
    @extend_schema(
        request=CodenameSerializer,
        responses={
            200: CitizenThreadSerializer,
            400: _INVALID,
            404: DetailSerializer,
            415: DetailSerializer,
            429: DetailSerializer,
        },
        summary="Read one's own tip and its thread",
    )
    def post(self, request: Request) -> Response:
        incoming = CodenameSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        opened = _open(request, incoming.validated_data)
        if isinstance(opened, Response):
            return opened
        return Response(CitizenThreadSerializer(tip_thread_for_citizen(tip=opened)).data)


class TipMessageView(_CitizenAPIView):
    @extend_schema(
        request=FollowUpSerializer,
        responses={
            201: CitizenThreadSerializer,
            400: _INVALID,
            404: DetailSerializer,
            415: DetailSerializer,
            429: DetailSerializer,
        },
        summary="Add a message to one's own tip",
    )
    def post(self, request: Request) -> Response:
        incoming = FollowUpSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        opened = _open(request, incoming.validated_data)
        if isinstance(opened, Response):
            return opened
        try:
            tip_follow_up_rate_check(tip=opened, client_key=_client_key(request), upload_bytes=0)
        except TipRateLimited:
            return Response(_FOLLOW_UPS_THROTTLED, status=status.HTTP_429_TOO_MANY_REQUESTS)
        tip_message_add(tip=opened, body=incoming.validated_data["body"])
        return Response(CitizenThreadSerializer(tip_thread_for_citizen(tip=opened)).data, status=201)
