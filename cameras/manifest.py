"""The evidence manifest's canonical bytes and their Ed25519 signature, checkable without our server."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Changing this changes the embedded mode's key, and with it every signature made so far.
_DERIVATION_INFO = b"lantern evidence manifest signing key v1"


def manifest_bytes(*, data: dict[str, Any]) -> bytes:
    """`data` as canonical JSON: keys sorted, no spaces or newlines, UTF-8; the same dict always gives the
    same bytes. Datetimes and dates become ISO 8601 strings and UUIDs strings; any other type that
    JSON lacks (and NaN or infinity) is refused rather than written in some form a reader could not rebuild."""
    text = json.dumps(
        data,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_value,
    )
    return text.encode("utf-8")


def manifest_sign(*, data: bytes) -> str:
    """The Ed25519 signature of exactly these bytes, base64 (standard alphabet, padded)."""
    return base64.b64encode(_signing_key().sign(data)).decode("ascii")


def manifest_signature_valid(*, data: bytes, signature: str, public_key_pem: str | None = None) -> bool:
    """Whether `signature` is ours over exactly `data`; with `public_key_pem`, whether it is that key's
    (a manifest signed before the key was rotated)."""
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return False
    if public_key_pem is None:
        public_key = _signing_key().public_key()
    else:
        loaded = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
        if not isinstance(loaded, Ed25519PublicKey):
            return False
        public_key = loaded
    try:
        public_key.verify(raw, data)
    except InvalidSignature:
        return False
    return True


def signing_public_key_pem() -> str:
    """The public half of the signing key as PEM (SubjectPublicKeyInfo), to publish for courts and auditors.

    With it, `openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in manifest.json -sigfile sig.bin`
    checks a manifest (sig.bin being the base64 signature decoded) without Lantern.
    """
    public = _signing_key().public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _json_value(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no canonical JSON form in a manifest")


def _signing_key() -> Ed25519PrivateKey:
    # Read the settings on every call (so that tests can override them) and parse each key once.
    return _key_load(pem=getattr(settings, "EVIDENCE_SIGNING_KEY", ""), secret_key=settings.SECRET_KEY)


@functools.lru_cache(maxsize=4)
def _key_load(*, pem: str, secret_key: str) -> Ed25519PrivateKey:
    if pem.strip():
        try:
            key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError) as error:
            raise ImproperlyConfigured(f"LANTERN_EVIDENCE_SIGNING_KEY is not an unencrypted PEM key: {error}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ImproperlyConfigured(
                "LANTERN_EVIDENCE_SIGNING_KEY must be an Ed25519 key (openssl genpkey -algorithm ed25519)."
            )
        return key
    # The embedded mode (one machine, nothing to configure) and tests derive the key from SECRET_KEY, so that
    # signatures survive restarts without another secret to manage. Acceptable only there: anyone holding
    # SECRET_KEY can then sign manifests, and rotating SECRET_KEY silently changes the signing key. A
    # deployment whose manifests go to court sets LANTERN_EVIDENCE_SIGNING_KEY(_FILE) to a key of its own.
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DERIVATION_INFO).derive(secret_key.encode())
    return Ed25519PrivateKey.from_private_bytes(seed)
