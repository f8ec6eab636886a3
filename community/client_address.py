"""The client's network address as our own reverse proxies saw it, for login lockouts and rate limits."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address of whoever sent this request, trusting only the X-Forwarded-For entries our proxies wrote.

    Each proxy appends the address it received the request from, so behind TRUSTED_PROXY_COUNT proxies of
    our own the client is that many entries from the right. Everything to the left of it was written by the
    client and may be anything: taking the left-most entry would give every request a fresh address of the
    attacker's choosing. Without trusted proxies the TCP peer (REMOTE_ADDR) is the client.

    Takes the request positionally because django-axes calls it that way (AXES_CLIENT_IP_CALLABLE).
    """
    peer = str(request.META.get("REMOTE_ADDR") or "")
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if count <= 0:
        return peer
    hops = [hop.strip() for hop in str(request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    if len(hops) < count:
        # The request did not pass through as many of our proxies as configured (a misconfiguration, or a
        # client that reached an inner proxy directly): nothing in the header can be trusted.
        return peer
    candidate = hops[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # Our own proxy writes addresses only; anything else means the header is not what we think it is.
        return peer
