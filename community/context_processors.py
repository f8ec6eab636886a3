"""Template context every page needs: the map tile source and the current terms version."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def lantern(request: HttpRequest) -> dict[str, Any]:
    return {
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        "map_center": settings.MAP_CENTER,
        "terms_version": settings.TERMS_VERSION,
    }
