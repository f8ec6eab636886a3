"""API tokens: police need their second factor to get one; tokens work as Bearer and stop working when revoked."""

from __future__ import annotations

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from community.models import AuditEvent
from tests.conftest import PASSWORD, otp_device_for


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):06d}"


def _ask(email: str, password: str = PASSWORD, otp: str | None = None):
    data = {"email": email, "password": password}
    if otp is not None:
        data["otp"] = otp
    return APIClient().post("/api/auth/token/", data, format="json")


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_an_owner_gets_a_token_without_a_second_factor_and_it_works_as_bearer(alice_camera, alice):
    response = _ask("Alice@Example.com")

    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert Token.objects.get(user=alice).key == token
    listed = _bearer(token).get("/api/cameras/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [alice_camera.pk]
    assert AuditEvent.objects.filter(action="auth.login", actor=alice).count() == 1


@pytest.mark.parametrize("otp", [None, "", "000000", "12345", "not-a-code"])
def test_police_without_the_right_code_get_no_token(monitor, otp):
    otp_device_for(monitor)

    response = _ask(monitor.email, otp=otp)

    assert response.status_code == 400
    assert response.json() == {"otp": ["Enter the current 6-digit code from your authenticator."]}
    assert not Token.objects.filter(user=monitor).exists()
    assert AuditEvent.objects.filter(action="auth.login_failed", target_id=str(monitor.pk)).count() == 1


def test_police_without_a_confirmed_device_get_no_token(monitor):
    TOTPDevice.objects.create(user=monitor, name="unconfirmed", confirmed=False)

    response = _ask(monitor.email, otp="123456")

    assert response.status_code == 400
    assert response.json() == {"otp": ["Set up two-factor login in the web app before using the API."]}
    assert not Token.objects.filter(user=monitor).exists()


@pytest.mark.parametrize("persona", ["monitor", "supervisor"])
def test_police_with_the_right_code_get_a_token_that_works(request, alice_camera, persona):
    officer = request.getfixturevalue(persona)
    device = otp_device_for(officer)

    response = _ask(officer.email, otp=_code(device))

    assert response.status_code == 200, response.content
    assert _bearer(response.json()["token"]).get(f"/api/cameras/{alice_camera.pk}/").status_code == 200


def test_a_code_cannot_be_used_twice(monitor):
    device = otp_device_for(monitor)
    code = _code(device)
    assert _ask(monitor.email, otp=code).status_code == 200

    assert _ask(monitor.email, otp=code).status_code == 400


@pytest.mark.parametrize(
    ("email", "password"),
    [("alice@example.com", "wrong password"), ("nobody@example.com", PASSWORD), ("", PASSWORD)],
)
def test_wrong_credentials_get_no_token(alice, email, password):
    response = _ask(email, password)

    assert response.status_code == 400
    assert "token" not in response.json()
    assert not Token.objects.exists()


def test_an_inactive_owner_gets_no_token(alice):
    alice.is_active = False
    alice.save()

    assert _ask(alice.email).status_code == 400


def test_repeated_failures_lock_the_account_out_with_a_json_answer(alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _ask(alice.email, "wrong password").status_code == 400

    last_failure = _ask(alice.email, "wrong password")
    right_password = _ask(alice.email)

    for response in (last_failure, right_password):
        assert response.status_code == 429
        assert response.json() == {"detail": "Too many failed logins; try again later."}
    assert not Token.objects.exists()


def test_a_deactivated_officers_token_stops_working(client_as, monitor, supervisor, alice_camera):
    token = _ask(monitor.email, otp=_code(otp_device_for(monitor))).json()["token"]
    assert _bearer(token).get("/api/cameras/").status_code == 200

    deactivated = client_as("supervisor").post(f"/api/officers/{monitor.pk}/deactivate/", {"reason": "Left"})

    assert deactivated.status_code == 200
    assert _bearer(token).get("/api/cameras/").status_code == 401


def test_an_inactive_users_leftover_token_is_refused(alice):
    token = Token.objects.create(user=alice)
    alice.is_active = False
    alice.save()

    assert _bearer(token.key).get("/api/businesses/").status_code == 401


def test_deleting_the_token_revokes_it(alice):
    token = _ask(alice.email).json()["token"]
    client = _bearer(token)

    response = client.delete("/api/auth/token/")

    assert response.status_code == 204
    assert client.get("/api/businesses/").status_code == 401
    assert not Token.objects.filter(user=alice).exists()
    assert AuditEvent.objects.filter(action="auth.logout", actor=alice).count() == 1


def test_a_made_up_token_is_refused(alice):
    assert _bearer("f" * 40).get("/api/businesses/").status_code == 401


def test_a_session_cannot_mint_or_revoke_tokens_without_its_own_token(client_as):
    assert client_as("alice").delete("/api/auth/token/").status_code == 401
