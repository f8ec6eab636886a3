"""The evidence manifest: canonical bytes, an Ed25519 signature that any change breaks, a public key to check it."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from django.core.exceptions import ImproperlyConfigured

from cameras.manifest import manifest_bytes, manifest_sign, manifest_signature_valid, signing_public_key_pem

MANIFEST = {
    "format": "lantern-evidence-manifest/1",
    "request": {"id": 12, "case_number": "2026-001234", "reason": "Break-in at the café"},
    "items": [{"key": "evidence/request-12/front.mp4", "sha256": "ab" * 32, "size_bytes": 1234, "duration_s": 60.5}],
    "exported_at": "2026-11-21T10:00:00+00:00",
}


def pem_of(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_the_same_data_gives_the_same_bytes_whatever_the_order_of_its_keys() -> None:
    shuffled = {key: MANIFEST[key] for key in reversed(list(MANIFEST))}

    assert manifest_bytes(data=shuffled) == manifest_bytes(data=MANIFEST)


def test_the_bytes_are_compact_sorted_utf8_json() -> None:
    data = manifest_bytes(data=MANIFEST)

    assert data.startswith(b'{"exported_at":"2026-11-21T10:00:00+00:00","format":')
    assert b" " not in data.replace("Break-in at the café".encode(), b"")
    assert b"\n" not in data
    assert "café".encode() in data
    assert json.loads(data) == MANIFEST


def test_datetimes_are_written_as_iso_8601() -> None:
    data = manifest_bytes(data={"at": datetime(2026, 11, 21, 10, 0, tzinfo=UTC)})

    assert data == b'{"at":"2026-11-21T10:00:00+00:00"}'


def test_values_json_cannot_hold_are_refused() -> None:
    with pytest.raises(TypeError):
        manifest_bytes(data={"path": Path("/tmp")})
    with pytest.raises(ValueError):
        manifest_bytes(data={"duration_s": float("nan")})


def test_a_signature_checks_out_over_the_bytes_it_was_made_for() -> None:
    data = manifest_bytes(data=MANIFEST)

    signature = manifest_sign(data=data)

    assert len(base64.b64decode(signature)) == 64
    assert manifest_signature_valid(data=data, signature=signature)


def test_changing_one_byte_breaks_the_signature() -> None:
    data = manifest_bytes(data=MANIFEST)
    signature = manifest_sign(data=data)
    changed = data.replace(b"1234", b"1235", 1)

    assert changed != data
    assert not manifest_signature_valid(data=changed, signature=signature)


def test_a_signature_by_another_key_is_refused(settings) -> None:
    data = manifest_bytes(data=MANIFEST)
    settings.EVIDENCE_SIGNING_KEY = pem_of(Ed25519PrivateKey.generate())
    theirs = manifest_sign(data=data)
    settings.EVIDENCE_SIGNING_KEY = ""

    assert not manifest_signature_valid(data=data, signature=theirs)


def test_a_signature_that_is_not_base64_is_simply_invalid() -> None:
    data = manifest_bytes(data=MANIFEST)

    assert not manifest_signature_valid(data=data, signature="not a signature!")
    assert not manifest_signature_valid(data=data, signature="")


def test_a_manifest_signed_before_a_key_change_checks_out_against_the_old_public_key(settings) -> None:
    data = manifest_bytes(data=MANIFEST)
    old_signature = manifest_sign(data=data)
    old_public = signing_public_key_pem()

    settings.EVIDENCE_SIGNING_KEY = pem_of(Ed25519PrivateKey.generate())

    assert not manifest_signature_valid(data=data, signature=old_signature)
    assert manifest_signature_valid(data=data, signature=old_signature, public_key_pem=old_public)


def test_without_a_configured_key_the_key_comes_from_the_secret_key(settings) -> None:
    first = signing_public_key_pem()
    assert signing_public_key_pem() == first

    settings.SECRET_KEY = "another secret key for another installation"

    assert signing_public_key_pem() != first


def test_a_configured_key_is_the_one_used(settings) -> None:
    key = Ed25519PrivateKey.generate()
    settings.EVIDENCE_SIGNING_KEY = pem_of(key)
    expected = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    assert signing_public_key_pem() == expected.decode()


def test_a_configured_key_that_is_not_ed25519_is_refused_with_a_clear_message(settings) -> None:
    rsa = generate_private_key(public_exponent=65537, key_size=2048)
    settings.EVIDENCE_SIGNING_KEY = rsa.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

    with pytest.raises(ImproperlyConfigured, match="Ed25519"):
        manifest_sign(data=b"{}")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_an_auditor_can_check_a_manifest_with_openssl_and_the_public_key_alone(tmp_path: Path) -> None:
    data = manifest_bytes(data=MANIFEST)
    (tmp_path / "manifest.json").write_bytes(data)
    (tmp_path / "signature.bin").write_bytes(base64.b64decode(manifest_sign(data=data)))
    (tmp_path / "lantern.pem").write_text(signing_public_key_pem())
    command = [
        "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "lantern.pem", "-rawin",
        "-in", "manifest.json", "-sigfile", "signature.bin",
    ]  # fmt: skip

    good = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    (tmp_path / "manifest.json").write_bytes(data.replace(b"2026-001234", b"2026-001235"))
    bad = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)

    assert good.returncode == 0, good.stderr
    assert "Signature Verified Successfully" in good.stdout
    assert bad.returncode != 0
