"""The admin is a read-only window for supervisors; the audit trail cannot be changed through it."""

import pytest
from django.urls import reverse

from community.models import AuditEvent
from community.services import audit_record
from tests.conftest import log_in


@pytest.fixture
def event(alice):
    return audit_record(actor=alice, action="agreement.revoke", target=alice)


@pytest.fixture
def supervisor_admin(client, supervisor):
    return log_in(client, supervisor)


def test_supervisor_reads_the_audit_trail_in_the_admin(supervisor_admin, event):
    response = supervisor_admin.get(reverse("admin:community_auditevent_changelist"))
    assert response.status_code == 200
    assert b"agreement.revoke" in response.content


def test_the_admin_offers_no_way_to_change_or_delete_an_event(supervisor_admin, event):
    change = supervisor_admin.post(
        reverse("admin:community_auditevent_change", args=[event.pk]), {"action": "rewritten"}
    )
    assert change.status_code == 403
    delete = supervisor_admin.post(reverse("admin:community_auditevent_delete", args=[event.pk]), {"post": "yes"})
    assert delete.status_code == 403
    bulk = supervisor_admin.post(
        reverse("admin:community_auditevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert AuditEvent.objects.get(pk=event.pk).action == "agreement.revoke"
    assert supervisor_admin.get(reverse("admin:community_auditevent_add")).status_code == 403


def test_camera_admin_never_shows_stream_credentials(supervisor_admin, alice_camera):
    response = supervisor_admin.get(reverse("admin:cameras_camera_change", args=[alice_camera.pk]))
    assert response.status_code == 200
    assert b"s3cret" not in response.content
    assert alice_camera.stream_url_encrypted.encode() not in response.content


@pytest.mark.parametrize("persona", ["alice", "monitor"])
def test_others_cannot_enter_the_admin(request, client, persona):
    log_in(client, request.getfixturevalue(persona))
    response = client.get(reverse("admin:community_auditevent_changelist"))
    assert response.status_code == 302


def test_supervisor_without_second_factor_cannot_enter_the_admin(client, supervisor, event):
    client.force_login(supervisor)
    response = client.get(reverse("admin:community_auditevent_changelist"))
    assert response.status_code == 302


# ---------------------------------------------------------------- secrets the libraries' own admins would show


@pytest.fixture
def superuser(db, agency):
    from tests.factories import OfficerFactory

    return OfficerFactory(
        email="root@police.example", agency=agency, role="supervisor", is_staff=True, is_superuser=True
    )


@pytest.fixture
def superuser_admin(client, superuser):
    return log_in(client, superuser)


@pytest.fixture
def alice_token(alice):
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=alice)


@pytest.mark.parametrize("persona", ["superuser", "supervisor"])
def test_the_admin_lists_api_tokens_by_a_prefix_only(request, client, persona, alice_token):
    admin_client = log_in(client, request.getfixturevalue(persona))
    listing = admin_client.get(reverse("admin:authtoken_tokenproxy_changelist"))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert alice_token.key[:6] in page
    assert alice_token.key not in page
    detail = admin_client.get(reverse("admin:authtoken_tokenproxy_change", args=[alice_token.pk]))
    assert alice_token.key.encode() not in detail.content
    assert admin_client.get(reverse("admin:authtoken_tokenproxy_add")).status_code == 403


def test_a_superuser_cannot_give_an_officer_a_second_factor_in_the_admin(superuser_admin, monitor):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert superuser_admin.get(reverse("admin:otp_totp_totpdevice_add")).status_code == 403
    response = superuser_admin.post(
        reverse("admin:otp_totp_totpdevice_add"),
        {"user": monitor.pk, "name": "planted", "key": "3132333435363738393031323334353637383930", "confirmed": "on"},
    )
    assert response.status_code == 403
    assert not TOTPDevice.objects.filter(user=monitor, name="planted").exists()


def test_the_admin_shows_no_officers_second_factor_secret(superuser_admin, monitor):
    from tests.conftest import otp_device_for

    device = otp_device_for(monitor)
    listing = superuser_admin.get(reverse("admin:otp_totp_totpdevice_changelist"))
    assert listing.status_code == 200
    assert str(monitor).encode() in listing.content
    detail = superuser_admin.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert detail.status_code == 200
    assert device.key.encode() not in detail.content
    assert b"qrcode" not in detail.content.lower()


def test_camera_admin_never_shows_the_stream_address_even_masked(supervisor_admin, alice_camera):
    assert alice_camera.stream_url_masked
    for url in (
        reverse("admin:cameras_camera_changelist"),
        reverse("admin:cameras_camera_change", args=[alice_camera.pk]),
    ):
        response = supervisor_admin.get(url)
        assert response.status_code == 200
        assert alice_camera.stream_url_masked.encode() not in response.content
