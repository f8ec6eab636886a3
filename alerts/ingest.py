"""The sensor ingest endpoint: an HMAC-signed event from a gunshot detector, alarm panel or panic button
becomes an alert at its place."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from alerts import services
from alerts.models import SensorSource

logger = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024


def _unauthorized() -> JsonResponse:
    # The same answer for an unknown source, a disabled one and a bad signature: nothing to probe for.
    response = JsonResponse({"detail": "Missing or invalid signature."}, status=401)
    response["WWW-Authenticate"] = 'HMAC-SHA256 realm="lantern-sensors"'
    return response


# Sensors are machines with a shared secret, not browsers with a session: the HMAC replaces CSRF.
@csrf_exempt
@require_POST
def sensor_event(request: HttpRequest, source_id: int) -> JsonResponse:
    body = request.body[: _MAX_BODY + 1]
    if len(body) > _MAX_BODY:
        return JsonResponse({"detail": "The event is larger than 64 KB."}, status=413)
    source = (
        SensorSource.objects.select_related("camera", "camera__site", "camera__agreement").filter(pk=source_id).first()
    )
    if source is None or not services.sensor_signature_valid(
        source=source,
        timestamp=request.headers.get("X-Lantern-Timestamp", ""),
        body=body,
        signature=request.headers.get("X-Lantern-Signature", ""),
    ):
        return _unauthorized()
    try:
        alert, created = services.sensor_event_record(source=source, body=body)
    except ValidationError as error:
        return JsonResponse({"errors": error.message_dict}, status=400)
    return JsonResponse({"alert": alert.pk, "created": created}, status=201 if created else 200)
