"""TURN credentials follow coturn's REST scheme: an expiring username and its HMAC-SHA1 under the shared secret."""

import base64
import hashlib
import hmac
import time

from cameras.live import ice_servers, live_ice_servers_for_browser, turn_credentials


def test_credentials_expire_and_verify_with_the_shared_secret(settings):
    settings.TURN_SECRET = "shared-with-coturn"
    username, credential = turn_credentials(ttl_s=600)
    expires = int(username.split(":")[0])
    assert time.time() + 590 < expires <= time.time() + 600
    expected = base64.b64encode(hmac.new(b"shared-with-coturn", username.encode(), hashlib.sha1).digest()).decode()
    assert credential == expected


def test_servers_come_from_the_settings(settings):
    settings.STUN_URLS = ["stun:turn.example.org:3478"]
    settings.TURN_URLS = ["turn:turn.example.org:3478"]
    settings.TURN_SECRET = "s"
    servers = live_ice_servers_for_browser()
    assert servers[0] == {"urls": "stun:turn.example.org:3478"}
    assert servers[1]["urls"] == "turn:turn.example.org:3478" and servers[1]["credential"]


def test_no_servers_by_default(settings):
    settings.STUN_URLS, settings.TURN_URLS = [], []
    assert ice_servers() == []
