"""The access matrix of DESIGN.md over every page: anonymous to login, other roles 403, charlie 404."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from tests.factories import BusinessFactory, CameraFactory, SiteFactory

# (url name, which of alice's objects it takes, method)
OWNER_PAGES = [
    ("community:portal", None, "get"),
    ("community:access_log", None, "get"),
    ("community:business_create", None, "get"),
]
OWNER_OBJECT_PAGES = [
    ("community:business_detail", "business", "get"),
    ("community:business_edit", "business", "get"),
    ("community:business_submit", "business", "post"),
    ("community:business_staff_add", "business", "post"),
    ("community:site_create", "business", "get"),
    ("community:site_edit", "site", "get"),
    ("community:agreement_create", "business", "get"),
    ("community:agreement_edit", "agreement", "get"),
    ("community:agreement_revoke", "agreement", "post"),
    ("cameras:camera_create", "business", "get"),
    ("cameras:camera_detail", "camera", "get"),
    ("cameras:camera_edit", "camera", "get"),
    ("cameras:camera_probe", "camera", "post"),
    ("cameras:camera_push_token_rotate", "camera", "post"),
    ("cameras:camera_delete", "camera", "post"),
]
POLICE_PAGES = [
    ("cameras:police_map", None, "get"),
    ("cameras:police_camera_list", None, "get"),
    ("cameras:police_wall", None, "get"),
]
SUPERVISOR_PAGES = [
    ("community:partners", None, "get"),
    ("community:officers", None, "get"),
    ("community:audit_search", None, "get"),
]
PUBLIC_PAGES = [
    "community:transparency",
    "community:public_partners",
    "community:home",
    "community:login",
    "community:signup",
]

ARG_NAMES = {"business": "business_id", "site": "site_id", "agreement": "agreement_id", "camera": "camera_id"}


@pytest.fixture
def alice_things(alice_business, alice_site, alice_agreement, alice_camera):
    return {"business": alice_business, "site": alice_site, "agreement": alice_agreement, "camera": alice_camera}


def url_for(name, target, things):
    return reverse(name, kwargs={ARG_NAMES[target]: things[target].pk} if target else None)


def call(client, method, url):
    return getattr(client, method)(url)


ALL_OWNER = OWNER_PAGES + OWNER_OBJECT_PAGES


@pytest.mark.parametrize(("name", "target", "method"), ALL_OWNER + POLICE_PAGES + SUPERVISOR_PAGES)
def test_anonymous_is_sent_to_login(client_for, alice_things, name, target, method):
    response = call(client_for(None), method, url_for(name, target, alice_things))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("community:login"))


@pytest.mark.parametrize(("name", "target", "method"), [p for p in ALL_OWNER if p[2] == "get"])
def test_alice_and_her_staff_open_her_pages(client_for, alice_things, bob, alice, name, target, method):
    for person in (alice, bob):
        assert call(client_for(person), method, url_for(name, target, alice_things)).status_code == 200


@pytest.mark.parametrize(("name", "target", "method"), OWNER_OBJECT_PAGES)
def test_charlie_gets_404_for_alices_things(client_for, alice_things, charlie, name, target, method):
    assert call(client_for(charlie), method, url_for(name, target, alice_things)).status_code == 404


@pytest.mark.parametrize(("name", "target", "method"), ALL_OWNER)
def test_police_get_403_on_the_owner_portal(client_for, alice_things, monitor, supervisor, name, target, method):
    for person in (monitor, supervisor):
        assert call(client_for(person), method, url_for(name, target, alice_things)).status_code == 403


@pytest.mark.parametrize(("name", "target", "method"), POLICE_PAGES + SUPERVISOR_PAGES)
def test_owners_get_403_on_police_pages(client_for, alice_things, alice, name, target, method):
    assert call(client_for(alice), method, url_for(name, target, alice_things)).status_code == 403


@pytest.mark.parametrize(("name", "target", "method"), SUPERVISOR_PAGES)
def test_monitors_get_403_on_supervisor_pages(client_for, alice_things, monitor, name, target, method):
    assert call(client_for(monitor), method, url_for(name, target, alice_things)).status_code == 403


@pytest.mark.parametrize(("name", "target", "method"), POLICE_PAGES + SUPERVISOR_PAGES)
def test_supervisors_open_every_police_page(client_for, alice_things, supervisor, name, target, method):
    assert call(client_for(supervisor), method, url_for(name, target, alice_things)).status_code == 200


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_pages_open_for_anyone(client_for, db, name):
    assert client_for(None).get(reverse(name)).status_code == 200


def test_monitor_sees_a_shared_camera_page_and_it_is_audited(client_for, monitor, alice_camera):
    response = client_for(monitor).get(reverse("cameras:police_camera_detail", args=[alice_camera.pk]))
    assert response.status_code == 200
    assert b"Front door" in response.content
    from community.models import AuditEvent

    assert AuditEvent.objects.filter(action="camera.view_page", camera_id=alice_camera.pk, actor=monitor).exists()


def test_monitor_gets_404_for_a_camera_of_an_unverified_partner(client_for, monitor):
    pending = CameraFactory(site=SiteFactory(business=BusinessFactory(state="pending")))
    assert client_for(monitor).get(reverse("cameras:police_camera_detail", args=[pending.pk])).status_code == 404


def test_supervisor_opens_a_partner_page(client_for, supervisor, alice_business):
    response = client_for(supervisor).get(reverse("community:partner_detail", args=[alice_business.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("persona", ["alice", "charlie", "monitor"])
def test_only_supervisors_open_partner_pages(request, client_for, alice_business, persona):
    person = request.getfixturevalue(persona)
    assert client_for(person).get(reverse("community:partner_detail", args=[alice_business.pk])).status_code == 403


@pytest.fixture
def alice_snapshot(alice_camera):
    alice_camera.snapshot.save("snap.jpg", ContentFile(b"\xff\xd8\xff\xe0fake-jpeg"), save=True)
    return alice_camera


@pytest.mark.parametrize(
    ("persona", "status"), [("alice", 200), ("bob", 200), ("monitor", 200), ("supervisor", 200), ("charlie", 404)]
)
def test_snapshot_access(request, client_for, alice_snapshot, persona, status):
    person = request.getfixturevalue(persona)
    response = client_for(person).get(reverse("cameras:camera_snapshot", args=[alice_snapshot.pk]))
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "image/jpeg"


def test_snapshot_is_refused_to_anonymous(client_for, alice_snapshot):
    response = client_for(None).get(reverse("cameras:camera_snapshot", args=[alice_snapshot.pk]))
    assert response.status_code == 302


def test_an_unverified_officer_is_sent_to_two_factor(client, monitor):
    client.force_login(monitor)
    response = client.get(reverse("cameras:police_map"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("community:otp_verify"))
