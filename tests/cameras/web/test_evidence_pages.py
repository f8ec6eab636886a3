"""Evidence request pages: who sees which request, filing one (and every way it can be refused), the owner's
answer, downloads with their audit, retrying a failed export, and the chain of custody."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from cameras.models import Camera, EvidenceRequest
from community.models import AuditEvent, Business, SharingAgreement
from tests.factories import AgreementFactory, BusinessFactory, CameraFactory, SiteFactory

DETAIL_EXPECTED = {"alice": 200, "bob": 200, "charlie": 404, "monitor": 200, "other_monitor": 404, "supervisor": 200}
LOCAL = "%Y-%m-%dT%H:%M"


def _detail(request: EvidenceRequest) -> str:
    return reverse("cameras:evidence-detail", args=[request.pk])


def _form(
    camera_ids: list[int],
    *,
    end: datetime | None = None,
    hours: float = 1,
    zone: str = "America/Detroit",  # the agency's zone, which the form offers besides the sites' own
    **overrides: Any,
) -> dict[str, Any]:
    end = end or timezone.now() - timedelta(minutes=5)
    start = end - timedelta(hours=hours)
    data = {
        "case_number": "2026-001234",
        "reason": "Armed robbery at the corner store",
        "camera_ids": [str(pk) for pk in camera_ids],
        "time_zone": zone,
        "window_start": start.astimezone(ZoneInfo(zone)).strftime(LOCAL),
        "window_end": end.astimezone(ZoneInfo(zone)).strftime(LOCAL),
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- who may open what


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("cameras:evidence-list", "get"),
        ("cameras:evidence-new", "get"),
        ("cameras:evidence-detail", "get"),
        ("cameras:evidence-decide", "post"),
        ("cameras:evidence-retry", "post"),
        ("cameras:evidence-manifest", "post"),
    ],
)
def test_anonymous_is_sent_to_login(client_for, pending, name, method) -> None:
    args = [] if name in ("cameras:evidence-list", "cameras:evidence-new") else [pending.pk]

    response = getattr(client_for(None), method)(reverse(name, args=args))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("community:login"))


@pytest.mark.parametrize(("persona", "expected"), DETAIL_EXPECTED.items())
def test_each_persona_gets_the_request_page_the_access_matrix_gives(request, client_for, pending, persona, expected):
    response = client_for(request.getfixturevalue(persona)).get(_detail(pending))

    assert response.status_code == expected


@pytest.mark.parametrize(("persona", "sees"), [(p, e == 200) for p, e in DETAIL_EXPECTED.items()])
def test_the_list_shows_each_persona_only_the_requests_they_may_see(request, client_for, pending, persona, sees):
    response = client_for(request.getfixturevalue(persona)).get(reverse("cameras:evidence-list"))

    assert response.status_code == 200
    assert (pending in response.context["page"].object_list) is sees
    assert ("2026-001234" in response.content.decode()) is sees


@pytest.mark.parametrize(("persona", "waiting"), [("alice", True), ("bob", True), ("monitor", False)])
def test_the_owner_sees_which_requests_wait_for_her_answer(request, client_for, pending, persona, waiting) -> None:
    page = client_for(request.getfixturevalue(persona)).get(reverse("cameras:evidence-list")).content.decode()

    assert ("Waiting for your answer" in page) is waiting


def test_the_list_filters_by_state(client_for, monitor, pending) -> None:
    url = reverse("cameras:evidence-list")

    assert list(client_for(monitor).get(url, {"state": "pending"}).context["page"].object_list) == [pending]
    assert list(client_for(monitor).get(url, {"state": "denied"}).context["page"].object_list) == []


def test_the_owner_dashboard_has_a_waiting_for_your_answer_panel(client_for, alice, charlie, pending) -> None:
    page = client_for(alice).get(reverse("community:portal")).content.decode()

    assert "Waiting for your answer" in page and _detail(pending) in page
    assert "Waiting for your answer" not in client_for(charlie).get(reverse("community:portal")).content.decode()


# ---------------------------------------------------------------- filing a request


def test_a_monitor_coming_from_a_camera_finds_it_chosen_and_the_last_hour_in_its_time_zone(
    client_for, monitor, alice_camera, recording, settings
) -> None:
    response = client_for(monitor).get(reverse("cameras:evidence-new"), {"camera": alice_camera.pk})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["camera_ids"] == [alice_camera.pk]
    assert form.initial["time_zone"] == "America/Detroit"
    start = datetime.strptime(form.initial["window_start"], LOCAL)
    end = datetime.strptime(form.initial["window_end"], LOCAL)
    assert end - start == timedelta(hours=1)
    page = response.content.decode()
    assert f'value="{alice_camera.pk}"' in page and "checked" in page
    assert settings.EVIDENCE_CASE_NUMBER_HINT in page
    assert "Times are read in this time zone" in page


def test_a_monitor_files_a_request_and_lands_on_it(client_for, monitor, alice_camera, recording) -> None:
    response = client_for(monitor).post(reverse("cameras:evidence-new"), _form([alice_camera.pk]))

    request = EvidenceRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == _detail(request)
    assert request.requested_by == monitor and list(request.cameras.all()) == [alice_camera]
    assert request.state == EvidenceRequest.State.PENDING


def test_the_window_is_read_in_the_chosen_time_zone(client_for, monitor, alice_camera, recording) -> None:
    end = (timezone.now() - timedelta(hours=2)).replace(second=0, microsecond=0)

    client_for(monitor).post(reverse("cameras:evidence-new"), _form([alice_camera.pk], end=end, zone="America/Detroit"))

    request = EvidenceRequest.objects.get()
    assert request.window_end == end
    assert request.window_start == end - timedelta(hours=1)


@pytest.mark.parametrize("persona", ["alice", "bob", "charlie"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_owner_filing_a_request_gets_403_and_nothing_is_created(
    request, client_for, alice_camera, recording, persona, method
) -> None:
    client = client_for(request.getfixturevalue(persona))

    response = getattr(client, method)(reverse("cameras:evidence-new"), _form([alice_camera.pk]))

    assert response.status_code == 403
    assert "Only police file evidence requests" in response.content.decode()
    assert not EvidenceRequest.objects.exists()


@pytest.fixture
def not_recorded(alice_site, alice_business) -> Camera:
    return CameraFactory(site=alice_site, name="Till", agreement=AgreementFactory(business=alice_business))


@pytest.fixture
def not_shared() -> Camera:
    business = BusinessFactory(state=Business.State.PENDING)
    agreement = AgreementFactory(business=business, recording_allowed=True)
    return CameraFactory(site=SiteFactory(business=business), agreement=agreement)


@pytest.fixture
def elsewhere(charlie_camera) -> Camera:
    SharingAgreement.objects.filter(pk=charlie_camera.agreement_id).update(recording_allowed=True)
    return charlie_camera


BAD_INPUT = [
    ("window-too-long", {"hours": 13}, "window_end", "at most 12 hours"),
    ("window-reversed", {"hours": -1}, "window_end", "must end after it starts"),
    ("window-in-the-future", {"end": timezone.now() + timedelta(hours=3)}, "window_end", "must be in the past"),
    ("no-case-number", {"case_number": ""}, "case_number", "Give the case number"),
    ("case-number-malformed", {"case_number": "robbery"}, "case_number", "Case numbers look like this"),
    ("no-reason", {"reason": "  "}, "reason", "Say why the footage is needed"),
    ("no-camera", {"cameras": []}, "camera_ids", "Choose at least one camera"),
    ("camera-not-recorded", {"cameras": ["not_recorded"]}, "camera_ids", "do not allow recording"),
    ("camera-not-shared", {"cameras": ["not_shared"]}, "camera_ids", "No such camera"),
    ("two-businesses", {"cameras": ["alice_camera", "elsewhere"]}, "camera_ids", "different businesses"),
    ("window-not-a-time", {"window_start": "soon"}, "window_start", "Enter a valid date/time"),
]


@pytest.mark.parametrize(("case", "change", "field", "message"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_a_400_with_the_message_on_its_field_and_nothing_is_created(
    request, client_for, monitor, alice_camera, recording, case, change, field, message
) -> None:
    change = dict(change)
    cameras = [request.getfixturevalue(name).pk for name in change.pop("cameras", ["alice_camera"])]
    form_changes = {k: v for k, v in change.items() if k not in ("hours", "end")}
    data = _form(cameras, hours=change.get("hours", 1), end=change.get("end"), **form_changes)
    client = client_for(monitor)
    events = AuditEvent.objects.count()

    response = client.post(reverse("cameras:evidence-new"), data)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in error for error in errors.get(field, [])), errors
    assert message in response.content.decode()
    assert not EvidenceRequest.objects.exists()
    assert AuditEvent.objects.count() == events


# ---------------------------------------------------------------- the owner's answer


def _decide(client, request: EvidenceRequest, decision: str, reason: str = ""):
    return client.post(reverse("cameras:evidence-decide", args=[request.pk]), {"decision": decision, "reason": reason})


def test_only_the_owner_side_sees_the_answer_form(client_for, alice, bob, monitor, supervisor, pending) -> None:
    for person, shown in ((alice, True), (bob, True), (monitor, False), (supervisor, False)):
        page = client_for(person).get(_detail(pending)).content.decode()
        assert ('value="approve"' in page) is shown, person


@pytest.mark.parametrize("persona", ["alice", "bob"])
def test_the_owner_side_approves_and_the_custody_says_who(request, client_for, pending, persona) -> None:
    person = request.getfixturevalue(persona)

    response = _decide(client_for(person), pending, "approve")

    assert response.status_code == 302 and response["Location"] == _detail(pending)
    pending.refresh_from_db()
    assert pending.state == EvidenceRequest.State.APPROVED and pending.decided_by == person
    page = client_for(person).get(_detail(pending)).content.decode()
    assert 'data-action="evidence.approve"' in page and person.email in page


def test_a_denial_without_a_reason_is_a_400_that_says_so(client_for, alice, pending) -> None:
    response = _decide(client_for(alice), pending, "deny", reason=" ")

    assert response.status_code == 400
    assert "Say why you deny the request" in response.content.decode()
    pending.refresh_from_db()
    assert pending.state == EvidenceRequest.State.PENDING


def test_a_denial_with_a_reason_is_recorded(client_for, alice, monitor, pending) -> None:
    assert _decide(client_for(alice), pending, "deny", reason="The camera faces a clinic").status_code == 302

    pending.refresh_from_db()
    assert pending.state == EvidenceRequest.State.DENIED
    assert "The camera faces a clinic" in client_for(monitor).get(_detail(pending)).content.decode()


def test_a_second_answer_is_a_409_and_the_first_stands(client_for, alice, bob, pending) -> None:
    _decide(client_for(alice), pending, "approve")

    response = _decide(client_for(bob), pending, "deny", reason="No")

    assert response.status_code == 409
    assert "already been answered" in response.content.decode()
    pending.refresh_from_db()
    assert pending.state == EvidenceRequest.State.APPROVED and pending.decided_by.email == "alice@example.com"


@pytest.mark.parametrize(
    ("persona", "expected"), [("charlie", 404), ("other_monitor", 404), ("monitor", 403), ("supervisor", 403)]
)
def test_nobody_else_can_answer(request, client_for, pending, persona, expected) -> None:
    response = _decide(client_for(request.getfixturevalue(persona)), pending, "approve")

    assert response.status_code == expected
    pending.refresh_from_db()
    assert pending.state == EvidenceRequest.State.PENDING
    assert not AuditEvent.objects.filter(action="evidence.approve").exists()


# ---------------------------------------------------------------- downloads, retries and custody


def _download(client, request: EvidenceRequest):
    item = request.items.get()
    return client.post(reverse("cameras:evidence-download", args=[request.pk, item.pk]))


@pytest.mark.parametrize(("persona", "expected"), DETAIL_EXPECTED.items())
def test_downloads_are_for_those_who_may_see_the_request(request, client_for, exported, persona, expected) -> None:
    response = _download(client_for(request.getfixturevalue(persona)), exported)

    assert response.status_code == (303 if expected == 200 else 404)
    downloads = AuditEvent.objects.filter(action="evidence.download", target_id=str(exported.pk)).count()
    assert downloads == (1 if expected == 200 else 0)


def test_a_download_is_audited_and_its_link_serves_the_exported_file_for_five_minutes(
    client_for, monitor, exported, settings
) -> None:
    item = exported.items.get()

    response = _download(client_for(monitor), exported)

    assert response["Location"].startswith("/media/signed/")
    assert response["Cache-Control"] == "private, no-store"
    event = AuditEvent.objects.get(action="evidence.download")
    assert event.actor == monitor and event.details == {"key": item.key, "sha256": item.sha256}
    assert event.camera_id == item.camera_id and event.business_id == exported.business_id
    served = client_for(None).get(response["Location"])
    assert served["Content-Disposition"] == f'attachment; filename="{item.filename}"'
    assert hashlib.sha256(b"".join(served.streaming_content)).hexdigest() == item.sha256
    assert settings.MEDIA_URL_EXPIRE_S <= 300


def test_an_item_of_another_request_is_not_found(client_for, monitor, exported, alice_camera) -> None:
    other = EvidenceRequest.objects.create(
        business=exported.business,
        case_number="2026-000002",
        reason="Other",
        window_start=exported.window_start,
        window_end=exported.window_end,
        requested_by=monitor,
    )
    item = exported.items.get()

    response = client_for(monitor).post(reverse("cameras:evidence-download", args=[other.pk, item.pk]))

    assert response.status_code == 404


def test_downloads_are_posts(client_for, monitor, exported) -> None:
    item = exported.items.get()

    assert client_for(monitor).get(reverse("cameras:evidence-download", args=[exported.pk, item.pk])).status_code == 405


def test_the_manifest_download_is_audited(client_for, alice, exported) -> None:
    response = client_for(alice).post(reverse("cameras:evidence-manifest", args=[exported.pk]))

    assert response.status_code == 303
    event = AuditEvent.objects.get(action="evidence.download")
    assert event.actor == alice and event.details["sha256"] == exported.manifest_sha256


def test_there_is_no_manifest_before_the_export(client_for, monitor, pending) -> None:
    assert client_for(monitor).post(reverse("cameras:evidence-manifest", args=[pending.pk])).status_code == 404


def test_the_exported_page_shows_files_manifest_key_and_the_whole_chain_of_custody(
    client_for, monitor, alice, exported
) -> None:
    _download(client_for(monitor), exported)
    item = exported.items.get()

    response = client_for(alice).get(_detail(exported))

    page = response.content.decode()
    assert item.sha256 in page and item.filename in page
    assert exported.manifest_sha256 in page and "BEGIN PUBLIC KEY" in page
    actions = [event.action for event, _ in response.context["custody"]]
    assert actions == ["evidence.create", "evidence.approve", "evidence.export", "evidence.download"]
    words = [what for _, what in response.context["custody"]]
    assert words == ["Requested", "Approved", "Exported", "Downloaded"]
    assert monitor.email in page and alice.email in page and "export worker" in page


@pytest.mark.parametrize(
    ("persona", "expected"), [("monitor", 302), ("supervisor", 302), ("alice", 403), ("charlie", 404)]
)
def test_a_failed_export_is_retried_by_the_requester_or_a_supervisor(request, client_for, failed, persona, expected):
    client = client_for(request.getfixturevalue(persona))

    assert "Retry the export" in client_for(request.getfixturevalue("monitor")).get(_detail(failed)).content.decode()
    response = client.post(reverse("cameras:evidence-retry", args=[failed.pk]))

    assert response.status_code == expected
    failed.refresh_from_db()
    retried = expected == 302
    assert failed.state == (EvidenceRequest.State.APPROVED if retried else EvidenceRequest.State.FAILED)
    assert AuditEvent.objects.filter(action="evidence.export_retry").exists() is retried


def test_retrying_what_did_not_fail_is_a_409(client_for, monitor, pending) -> None:
    response = client_for(monitor).post(reverse("cameras:evidence-retry", args=[pending.pk]))

    assert response.status_code == 409
    assert "Only a failed export can be retried" in response.content.decode()


def test_the_page_follows_the_request_over_its_own_websocket(client_for, monitor, pending) -> None:
    response = client_for(monitor).get(_detail(pending))

    assert response.context["live"] == {"socket": f"/ws/evidence/{pending.pk}/", "state": "pending"}
    assert "js/evidence.js" in response.content.decode()
