"""Logins are audited and locked after repeated failures; police need TOTP; officers join by invitation."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from community.models import AuditEvent, User
from community.services import invitation_create
from tests.conftest import PASSWORD, otp_device_for


def login(client, email, password=PASSWORD):
    return client.post(reverse("community:login"), {"username": email, "password": password})


def test_a_login_is_audited(client, alice):
    assert login(client, "alice@example.com").status_code == 302
    assert AuditEvent.objects.filter(action="auth.login", actor=alice).exists()


def test_logins_ignore_the_case_of_the_email(client, alice):
    assert login(client, "ALICE@example.com").status_code == 302


def test_a_failed_login_is_audited_without_the_password(client, alice):
    response = login(client, "alice@example.com", "wrong-password")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor_label == "alice@example.com"
    assert "wrong-password" not in str(event.details)


def test_repeated_failures_lock_the_account(client, monitor, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, monitor.email, "wrong-password")
    locked = login(client, monitor.email)  # even the right password
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()


def test_an_officer_is_asked_for_the_second_factor_after_the_password(client, monitor):
    otp_device_for(monitor)
    response = login(client, monitor.email)
    follow = client.get(response["Location"])
    assert follow.status_code == 302
    assert follow["Location"].startswith(reverse("community:otp_verify"))


def test_the_right_code_lets_the_officer_in(client, monitor):
    device = otp_device_for(monitor)
    login(client, monitor.email)
    response = client.post(
        reverse("community:otp_verify"), {"token": f"{totp(device.bin_key):06d}", "next": "/police/map/"}
    )
    assert response["Location"] == "/police/map/"
    assert client.get("/police/map/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.2fa_verified", actor=monitor).exists()


def test_a_wrong_code_is_refused_and_audited(client, monitor):
    otp_device_for(monitor)
    login(client, monitor.email)
    response = client.post(reverse("community:otp_verify"), {"token": "000000"})
    assert "not right" in response.content.decode()
    assert AuditEvent.objects.filter(action="auth.2fa_failed").exists()
    assert client.get("/police/map/").status_code == 302


def test_the_verify_step_cannot_redirect_elsewhere(client, monitor):
    device = otp_device_for(monitor)
    login(client, monitor.email)
    response = client.post(
        reverse("community:otp_verify"), {"token": f"{totp(device.bin_key):06d}", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("community:home")


def test_an_officer_without_a_device_enrols_with_a_server_rendered_qr_code(client, monitor):
    login(client, monitor.email)
    assert client.get(reverse("community:otp_verify"))["Location"].startswith(reverse("community:otp_setup"))
    page = client.get(reverse("community:otp_setup")).content.decode()
    assert "<svg" in page
    assert "https://" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace("http://www.w3.org", "")
    device = TOTPDevice.objects.get(user=monitor, confirmed=False)
    response = client.post(reverse("community:otp_setup"), {"token": f"{totp(device.bin_key):06d}"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/police/map/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.2fa_enrolled").exists()


def test_owners_need_no_second_factor(client, alice):
    login(client, alice.email)
    assert client.get(reverse("community:portal")).status_code == 200


def test_password_reset_sends_a_working_link(client, alice):
    client.post(reverse("community:password_reset"), {"email": "alice@example.com"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+", mail.outbox[0].body).group(0)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "another-long-phrase", "new_password2": "another-long-phrase"},
    )
    alice.refresh_from_db()
    assert alice.check_password("another-long-phrase")


def test_a_supervisor_invites_an_officer_who_joins_the_agency(client, supervisor):
    _, token = invitation_create(
        by=supervisor, email="new.officer@police.example", full_name="New Officer", role="monitor"
    )
    response = client.post(
        reverse("community:invitation_accept", args=[token]),
        {"password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert response["Location"] == reverse("community:otp_setup")
    officer = User.objects.get(email="new.officer@police.example")
    assert (officer.role, officer.agency_id) == ("monitor", supervisor.agency_id)
    again = client.get(reverse("community:invitation_accept", args=[token]))
    assert again.status_code == 404


def test_the_invitation_email_carries_the_link(supervisor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _, token = invitation_create(by=supervisor, email="x@police.example", full_name="X", role="monitor")
    assert token in mail.outbox[0].body


@pytest.mark.parametrize("persona", ["monitor", "alice"])
def test_only_supervisors_invite(request, persona):
    with pytest.raises(PermissionError):
        invitation_create(by=request.getfixturevalue(persona), email="y@police.example", full_name="Y", role="monitor")


def test_a_supervisor_deactivates_an_officer_of_the_agency(client_for, supervisor, monitor):
    client_for(supervisor).post(reverse("community:officer_deactivate", args=[monitor.pk]))
    monitor.refresh_from_db()
    assert not monitor.is_active
    assert AuditEvent.objects.filter(action="officer.deactivate", target_id=str(monitor.pk)).exists()


def test_a_supervisor_cannot_touch_another_agencys_officers(client_for, supervisor):
    from tests.factories import AgencyFactory, OfficerFactory

    other = OfficerFactory(agency=AgencyFactory(name="Other PD"))
    assert client_for(supervisor).post(reverse("community:officer_deactivate", args=[other.pk])).status_code == 404
    other.refresh_from_db()
    assert other.is_active
