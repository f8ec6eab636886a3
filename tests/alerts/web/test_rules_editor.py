"""The rules editor: the owner and her staff draw and save zones, lines and ignore masks on their camera;
police and Charlie get a 404 (rules are the owner's); bad input is a 400 that names the field and saves nothing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from alerts.models import CameraAnalytics, Rule
from tests.alerts.web.conftest import PERSONAS

EDITOR_STATUS = {"anonymous": 302, "alice": 200, "bob": 200, "charlie": 404, "monitor": 404, "supervisor": 404}
ZONE = {
    "name": "Car park at night",
    "kind": "zone",
    "zone": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6]],
    "classes": ["person", "car"],
    "min_dwell_s": "30",
    "cooldown_s": "120",
    "severity": "high",
    "enabled": True,
    "schedule": {"mon": [["22:00", "06:00"]]},
}


def _client(request, client_for, persona):
    return client_for(None if persona == "anonymous" else request.getfixturevalue(persona))


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_editor_is_the_owners(request, client_for, persona, alice_camera) -> None:
    response = _client(request, client_for, persona).get(reverse("alerts:camera_rules", args=[alice_camera.pk]))

    assert response.status_code == EDITOR_STATUS[persona]
    if response.status_code == 200:
        assert "rules-config" in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_owner_and_staff_save_a_rule(request, client_for, persona, alice_camera) -> None:
    response = _post(
        _client(request, client_for, persona), reverse("alerts:camera_rules", args=[alice_camera.pk]), ZONE
    )

    assert response.status_code == EDITOR_STATUS[persona]
    saved = Rule.objects.filter(camera=alice_camera)
    if persona in ("alice", "bob"):
        rule = saved.get()
        assert response.json()["rule"]["id"] == rule.pk
        assert (rule.kind, rule.classes, rule.min_dwell_s, rule.cooldown_s, rule.severity) == (
            "zone",
            ["car", "person"],
            30.0,
            120,
            "high",
        )
        assert rule.schedule == {"mon": [["22:00", "06:00"]]}
    else:
        assert not saved.exists()


def test_a_line_rule_keeps_its_direction_and_can_be_changed(client_for, alice, alice_camera) -> None:
    client = client_for(alice)
    url = reverse("alerts:camera_rules", args=[alice_camera.pk])
    line = {"name": "Door line", "kind": "line", "line": [[0.2, 0.5], [0.8, 0.5]], "direction": "a_to_b"}

    created = _post(client, url, line).json()["rule"]
    changed = _post(client, url, {**line, "id": created["id"], "direction": "b_to_a"}).json()["rule"]

    assert changed["id"] == created["id"]
    assert Rule.objects.get().direction == "b_to_a"
    assert Rule.objects.get().line == [[0.2, 0.5], [0.8, 0.5]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ZONE, "zone": [[0.1, 0.1], [0.2, 0.2]]}, "zone"),
        ({**ZONE, "zone": [[0.1, 0.1], [1.5, 0.2], [0.3, 0.3]]}, "zone"),
        ({**ZONE, "name": " "}, "name"),
        ({**ZONE, "severity": "urgent"}, "severity"),
        ({**ZONE, "schedule": {"someday": [["1", "2"]]}}, "schedule"),
        ({**ZONE, "kind": "circle"}, "kind"),
    ],
)
def test_a_bad_rule_is_a_400_naming_the_field_and_saves_nothing(client_for, alice, alice_camera, body, field) -> None:
    response = _post(client_for(alice), reverse("alerts:camera_rules", args=[alice_camera.pk]), body)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Rule.objects.exists()


def test_a_body_that_is_not_json_is_a_400(client_for, alice, alice_camera) -> None:
    response = client_for(alice).post(
        reverse("alerts:camera_rules", args=[alice_camera.pk]), "zone!", content_type="application/json"
    )

    assert response.status_code == 400
    assert not Rule.objects.exists()


def test_changing_another_cameras_rule_through_this_one_is_a_404(
    client_for, alice, alice_camera, charlie, charlie_camera
) -> None:
    charlies = _post(client_for(charlie), reverse("alerts:camera_rules", args=[charlie_camera.pk]), ZONE).json()["rule"]

    response = _post(
        client_for(alice), reverse("alerts:camera_rules", args=[alice_camera.pk]), {**ZONE, "id": charlies["id"]}
    )

    assert response.status_code == 404
    assert Rule.objects.get(pk=charlies["id"]).camera_id == charlie_camera.pk


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_owner_and_staff_delete_a_rule(request, client_for, alice, persona, alice_camera) -> None:
    rule_id = _post(client_for(alice), reverse("alerts:camera_rules", args=[alice_camera.pk]), ZONE).json()["rule"][
        "id"
    ]

    response = _client(request, client_for, persona).post(
        reverse("alerts:camera_rule_delete", args=[alice_camera.pk, rule_id])
    )

    assert response.status_code == EDITOR_STATUS[persona]
    assert Rule.objects.filter(pk=rule_id).exists() is (persona not in ("alice", "bob"))


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_owner_and_staff_save_ignore_masks(request, client_for, persona, alice_camera) -> None:
    masks = [[[0, 0], [0.2, 0], [0.2, 0.2]], [[0.8, 0.8], [1, 0.8], [1, 1], [0.8, 1]]]

    response = _post(
        _client(request, client_for, persona), reverse("alerts:camera_masks", args=[alice_camera.pk]), {"masks": masks}
    )

    assert response.status_code == EDITOR_STATUS[persona]
    analytics = CameraAnalytics.objects.filter(camera=alice_camera).first()
    if persona in ("alice", "bob"):
        assert analytics is not None and len(analytics.ignore_masks) == 2
    else:
        assert analytics is None


@pytest.mark.parametrize("body", [{}, {"masks": "all"}, {"masks": [[[0, 0], [1, 1]]]}, {"masks": [[["a", 0]] * 3]}])
def test_bad_masks_are_a_400_and_keep_the_old_ones(client_for, alice, alice_camera, body) -> None:
    client = client_for(alice)
    url = reverse("alerts:camera_masks", args=[alice_camera.pk])
    _post(client, url, {"masks": [[[0, 0], [0.2, 0], [0.2, 0.2]]]})

    response = _post(client, url, body)

    assert response.status_code == 400
    assert CameraAnalytics.objects.get(camera=alice_camera).ignore_masks == [[[0, 0], [0.2, 0], [0.2, 0.2]]]
