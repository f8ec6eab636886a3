"""The owner's enrolment pages: each step saves through the services, and bad input shows a clear
error on the form with nothing saved."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cameras.models import Camera
from community.models import AuditEvent, Business, SharingAgreement, Site, User


@pytest.fixture
def owner_client(client_for, alice):
    return client_for(alice)


def test_signup_creates_an_owner_and_logs_them_in(client_for, db):
    client = client_for(None)
    response = client.post(
        reverse("community:signup"),
        {
            "full_name": "Erin Baker",
            "email": "Erin@Example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="erin@example.com")
    assert user.role == User.Role.OWNER
    assert client.get(reverse("community:portal")).status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "alice@example.com"}, "already exists"),
        ({"password2": "different-pass-phrase"}, "not the same"),
        ({"password1": "short", "password2": "short"}, "too short"),
        ({"full_name": "x" * 151}, "at most 150"),
    ],
)
def test_signup_refuses_bad_input_with_a_message(client_for, alice, data, message):
    form = {
        "full_name": "Erin",
        "email": "erin@example.com",
        "password1": "a-long-pass-phrase",
        "password2": "a-long-pass-phrase",
    }
    response = client_for(None).post(reverse("community:signup"), {**form, **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.count() == 1


def test_the_whole_enrolment_path(owner_client, alice):
    response = owner_client.post(
        reverse("community:business_create"),
        {"name": "Corner Store", "contact_name": "Alice", "contact_email": "alice@example.com", "contact_phone": ""},
    )
    business = Business.objects.get(name="Corner Store")
    assert response["Location"] == reverse("community:site_create", args=[business.pk])
    owner_client.post(
        reverse("community:site_create", args=[business.pk]),
        {
            "name": "Shop",
            "address": "1 Main St",
            "latitude": "42.33",
            "longitude": "-83.04",
            "timezone": "America/Detroit",
        },
    )
    site = Site.objects.get(business=business)
    owner_client.post(
        reverse("cameras:camera_create", args=[business.pk]),
        {
            "name": "Door",
            "site": site.pk,
            "source": "pull",
            "stream_url": "rtsp://127.0.0.1:1/stream",
            "stream_username": "admin",
            "stream_password": "hunter2-secret",
            "placement": "outdoor",
            "views": "The door",
        },
    )
    camera = Camera.objects.get(business=business)
    assert "hunter2-secret" not in camera.stream_url_encrypted
    assert camera.stream_url_masked == "rtsp://admin:••••••@127.0.0.1:1/stream"
    page = owner_client.get(reverse("cameras:camera_detail", args=[camera.pk])).content.decode()
    assert "hunter2-secret" not in page
    owner_client.post(
        reverse("community:agreement_create", args=[business.pk]),
        {
            "name": "Terms",
            "mode": "always",
            "alarm_window_minutes": 15,
            "retention_days": 30,
            "cameras": [camera.pk],
            "terms_accepted": "on",
        },
    )
    agreement = SharingAgreement.objects.get(business=business)
    assert agreement.camera_ids() == [camera.pk]
    assert agreement.terms_accepted_by == alice
    owner_client.post(reverse("community:business_submit", args=[business.pk]))
    business.refresh_from_db()
    assert business.state == Business.State.PENDING
    second = owner_client.post(reverse("community:business_submit", args=[business.pk]), follow=True)
    assert "already been submitted" in second.content.decode()
    assert AuditEvent.objects.filter(action="business.submit").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"latitude": "91"}, "less than or equal to 90"),
        ({"longitude": "-181"}, "greater than or equal to -180"),
        ({"latitude": "north"}, "Enter a number"),
        ({"timezone": "Mars/Olympus"}, "Select a valid choice"),
        ({"name": "main street"}, "already has a site"),
        ({"address": "x" * 256}, "at most 255"),
    ],
)
def test_site_form_refuses_bad_input(owner_client, alice_site, data, message):
    form = {
        "name": "Second",
        "address": "2 Main St",
        "latitude": "42.3",
        "longitude": "-83.0",
        "timezone": "America/Detroit",
    }
    response = owner_client.post(reverse("community:site_create", args=[alice_site.business_id]), {**form, **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Site.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"stream_url": "ftp://camera.example/stream"}, "rtsp://, rtsps://, http:// or https://"),
        ({"stream_url": "rtsp://"}, "host name"),
        ({"stream_url": "rtsp://cam .example/x"}, "spaces"),
        ({"stream_url": "rtsp://127.0.0.1:99999/x"}, "port"),
        ({"stream_url": ""}, "stream address"),
        ({"name": "FRONT DOOR"}, "already has a camera"),
        ({"name": "x" * 101}, "at most 100"),
    ],
)
def test_camera_form_refuses_bad_input_and_never_contacts_the_stream(owner_client, alice_camera, data, message):
    form = {
        "name": "New",
        "site": alice_camera.site_id,
        "source": "pull",
        "stream_url": "rtsp://127.0.0.1:1/x",
        "placement": "outdoor",
    }
    response = owner_client.post(reverse("cameras:camera_create", args=[alice_camera.business_id]), {**form, **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Camera.objects.count() == 1


def test_terms_must_be_accepted(owner_client, alice_business):
    response = owner_client.post(
        reverse("community:agreement_create", args=[alice_business.pk]),
        {"name": "Unaccepted", "mode": "always", "alarm_window_minutes": 15, "retention_days": 30},
    )
    assert "Accept the sharing terms" in response.content.decode()
    assert not SharingAgreement.objects.filter(name="Unaccepted").exists()


def test_scheduled_terms_need_both_ends_of_a_window(owner_client, alice_business):
    response = owner_client.post(
        reverse("community:agreement_create", args=[alice_business.pk]),
        {
            "name": "Sched",
            "mode": "schedule",
            "mon_start": "08:00",
            "alarm_window_minutes": 15,
            "retention_days": 30,
            "terms_accepted": "on",
        },
    )
    assert "Give both a start and an end time for Monday" in response.content.decode()
    assert not SharingAgreement.objects.filter(name="Sched").exists()


def test_scheduled_terms_are_saved_in_the_site_time(owner_client, alice_business):
    owner_client.post(
        reverse("community:agreement_create", args=[alice_business.pk]),
        {
            "name": "Nights",
            "mode": "schedule",
            "fri_start": "22:00",
            "fri_end": "06:00",
            "alarm_window_minutes": 15,
            "retention_days": 30,
            "terms_accepted": "on",
        },
    )
    assert SharingAgreement.objects.get(name="Nights").schedule == {"fri": [["22:00", "06:00"]]}


def test_changing_terms_on_the_page_asks_for_acceptance_again(owner_client, alice_agreement):
    url = reverse("community:agreement_edit", args=[alice_agreement.pk])
    response = owner_client.post(
        url, {"name": alice_agreement.name, "mode": "registry", "alarm_window_minutes": 15, "retention_days": 30}
    )
    assert "Accept the sharing terms" in response.content.decode()
    alice_agreement.refresh_from_db()
    assert alice_agreement.mode == "always"


def test_revoking_on_the_page_is_one_action(owner_client, alice_agreement):
    owner_client.post(reverse("community:agreement_revoke", args=[alice_agreement.pk]), {"reason": "Moving"})
    alice_agreement.refresh_from_db()
    assert alice_agreement.state == SharingAgreement.State.REVOKED


def test_owner_reads_who_accessed_her_cameras(client_for, alice, monitor, alice_camera, charlie_camera):
    client_for(monitor).get(reverse("cameras:police_camera_detail", args=[alice_camera.pk]))
    client_for(monitor).get(reverse("cameras:police_camera_detail", args=[charlie_camera.pk]))
    page = client_for(alice).get(reverse("community:access_log")).content.decode()
    assert "monica@police.example" in page
    assert "camera.view_page" in page
    assert "Garage door" not in page


def test_owner_adds_staff_who_then_manages_the_business(client_for, alice, alice_business, charlie):
    client_for(alice).post(
        reverse("community:business_staff_add", args=[alice_business.pk]), {"email": "charlie@example.com"}
    )
    assert client_for(charlie).get(reverse("community:business_detail", args=[alice_business.pk])).status_code == 200
