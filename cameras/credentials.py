"""Stream URLs at rest: validation, Fernet encryption with key rotation, and a masked form to show back."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError

from cameras.media.addresses import stream_url_address_refusal

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
MAX_STREAM_URL_LENGTH = 1000
MASK = "••••••"


def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        # Only the embedded default gets here (check --deploy warns otherwise): a key derived from
        # SECRET_KEY keeps the demo working without another secret to manage.
        digest = hashlib.sha256(f"lantern-stream-url:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def stream_url_validate(url: str) -> str:
    """Return the URL tidied, or raise ValidationError with a message an owner understands.

    Validation never contacts the camera: the probe does that later, in a worker, with a timeout. It does
    resolve the host, to refuse addresses Lantern does not connect to (cameras.media.addresses).
    """
    url = (url or "").strip()
    if not url:
        raise ValidationError("Enter the camera's stream address, for example rtsp://192.0.2.10:554/stream1.")
    if len(url) > MAX_STREAM_URL_LENGTH:
        raise ValidationError(f"The stream address is longer than {MAX_STREAM_URL_LENGTH} characters.")
    if any(ch.isspace() for ch in url) or any(ord(ch) < 32 for ch in url):
        raise ValidationError("The stream address must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError("The stream address has an invalid port number.") from None
    scheme = parts.scheme.lower()
    if scheme not in STREAM_SCHEMES:
        raise ValidationError(
            "Lantern supports stream addresses starting with rtsp://, rtsps://, http:// or https://"
            + (f" (not {scheme}://)." if scheme else ".")
        )
    if not parts.hostname:
        raise ValidationError("The stream address needs a host name or IP address after the //.")
    if port == 0:
        raise ValidationError("The stream address has an invalid port number.")
    # Resolving a name is not contacting the camera; the probe and the relay check again at each connection.
    refusal = stream_url_address_refusal(url=url)
    if refusal:
        raise ValidationError(refusal, code="address_refused")
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def stream_url_with_credentials(*, url: str, username: str = "", password: str = "") -> str:
    """Put a separately typed username and password into the URL (replacing any it had)."""
    if not username and not password:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def stream_url_mask(url: str) -> str:
    """The URL with its password replaced, so that it can be shown back and logged."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = quote(unquote(parts.username or ""), safe="")
    if parts.password is not None:
        netloc += f":{MASK}"
    netloc += f"@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def stream_url_encrypt(url: str) -> str:
    return _fernet().encrypt(url.encode()).decode()


def stream_url_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The stored stream address cannot be decrypted with the configured keys.") from exc


def secret_encrypt(secret: str) -> str:
    """Any secret the server must read back (a sensor's HMAC key), encrypted like stream URLs."""
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    return stream_url_decrypt(token)


def push_token_new() -> tuple[str, str]:
    """A fresh push token and its SHA-256; only the hash is stored, the token is shown once."""
    token = secrets.token_urlsafe(32)
    return token, push_token_hash(token)


def push_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
