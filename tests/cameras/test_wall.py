"""The monitor's wall is remembered per person, and never keeps a camera they may no longer see."""

import json

from django.urls import reverse

from cameras.models import MonitorWall
from community.services import agreement_revoke


def save(client, payload):
    return client.post(reverse("cameras:police_wall"), data=json.dumps(payload), content_type="application/json")


def test_the_layout_and_tiles_are_remembered(client_for, monitor, alice_camera):
    client = client_for(monitor)
    assert save(client, {"layout": 9, "tiles": [None, alice_camera.pk]}).status_code == 200
    config = client.get(reverse("cameras:police_wall")).context["config"]
    assert (config["layout"], config["tiles"]) == (9, [None, alice_camera.pk])


def test_each_monitor_has_their_own_wall(client_for, monitor, supervisor, alice_camera):
    save(client_for(monitor), {"layout": 1, "tiles": [alice_camera.pk]})
    assert client_for(supervisor).get(reverse("cameras:police_wall")).context["config"]["layout"] == 4


def test_a_revoked_camera_drops_off_the_wall(client_for, monitor, alice, alice_camera):
    save(client_for(monitor), {"layout": 4, "tiles": [alice_camera.pk]})
    agreement_revoke(agreement=alice_camera.agreement, by=alice)
    assert client_for(monitor).get(reverse("cameras:police_wall")).context["config"]["tiles"] == [None]


def test_bad_layouts_are_refused(client_for, monitor):
    client = client_for(monitor)
    assert save(client, {"layout": 5, "tiles": []}).status_code == 400
    assert save(client, {"layout": 1, "tiles": [1, 2]}).status_code == 400
    assert save(client, {"layout": "x"}).status_code == 400
    assert not MonitorWall.objects.exists()
