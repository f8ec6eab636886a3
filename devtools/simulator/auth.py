"""Checks RTSP requests against one username/password with HTTP Digest (RFC 2617) or Basic authentication."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))')
_NONCES_KEPT = 1024


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - Digest auth is defined over MD5


class CameraCredentials:
    """The one account a simulated camera accepts, and the nonces it has handed out."""

    def __init__(self, *, username: str, password: str, realm: str = "Lantern camera simulator") -> None:
        self.username = username
        self.password = password
        self.realm = realm
        # Digest clients echo a nonce we issued; remembering the recent ones rejects made-up nonces.
        self._nonces: OrderedDict[str, None] = OrderedDict()

    def challenge_headers(self) -> list[tuple[str, str]]:
        """WWW-Authenticate headers for a 401; Digest first because clients such as FFmpeg pick the strongest."""
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = None
        while len(self._nonces) > _NONCES_KEPT:
            self._nonces.popitem(last=False)
        return [
            ("WWW-Authenticate", f'Digest realm="{self.realm}", nonce="{nonce}", algorithm=MD5'),
            ("WWW-Authenticate", f'Basic realm="{self.realm}"'),
        ]

    def accepts(self, *, method: str, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            return self._accepts_basic(encoded=rest.strip())
        if scheme.lower() == "digest":
            return self._accepts_digest(method=method, params=_params_parse(rest))
        return False

    def _accepts_basic(self, *, encoded: str) -> bool:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        username, sep, password = decoded.partition(":")
        return bool(sep) and _equal(username, self.username) & _equal(password, self.password)

    def _accepts_digest(self, *, method: str, params: dict[str, str]) -> bool:
        nonce, uri, response = params.get("nonce"), params.get("uri"), params.get("response")
        if not (nonce and uri and response) or nonce not in self._nonces:
            return False
        if params.get("algorithm", "MD5").upper() != "MD5":
            return False
        if not _equal(params.get("username", ""), self.username) or params.get("realm") != self.realm:
            return False
        ha1 = _md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = _md5(f"{method}:{uri}")
        qop = params.get("qop")
        if qop:
            expected = _md5(f"{ha1}:{nonce}:{params.get('nc', '')}:{params.get('cnonce', '')}:{qop}:{ha2}")
        else:
            expected = _md5(f"{ha1}:{nonce}:{ha2}")
        return _equal(response.lower(), expected)


def _params_parse(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(text)}


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
