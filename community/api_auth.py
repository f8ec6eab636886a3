"""DRF authentication by `Authorization: Bearer <token>`, the form WHEP and other API clients send."""

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"
