"""A deploy check: stream credentials need their own encryption key in production."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def field_encryption_key_check(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if settings.FIELD_ENCRYPTION_KEYS:
        return []
    return [
        Warning(
            "Stream credentials are encrypted with a key derived from SECRET_KEY.",
            hint="Set LANTERN_FIELD_ENCRYPTION_KEY (a Fernet key) so that rotating SECRET_KEY keeps them readable.",
            id="lantern.W001",
        )
    ]
