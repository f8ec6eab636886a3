"""Who may call what: every community endpoint and method against every persona (DESIGN.md, "Roles and access").

Anonymous callers get 401; charlie gets 404 for each of alice's things, writes included; police read
partners' things but change nothing (403) except what a supervisor verifies, suspends and manages;
whole lists a role has no row for answer 403. A refused request leaves no trace and changes nothing.
"""

from __future__ import annotations

import pytest

from community.models import AuditEvent, Business

PERSONAS = ("alice", "bob", "charlie", "monitor", "supervisor")

# (name, method, path, body, expected status for alice, bob, charlie, monitor, supervisor)
# fmt: off
ENDPOINTS = [
    ("business list", "get", "/api/businesses/", None, (200, 200, 200, 200, 200)),
    ("business detail", "get", "/api/businesses/{business}/", None, (200, 200, 404, 200, 200)),
    ("business update", "patch", "/api/businesses/{business}/", {"contact_phone": "+1 313 555 0199"},
     (200, 200, 404, 403, 403)),
    # alice's business is verified already: her side gets past the access check to the service's 400.
    ("business submit", "post", "/api/businesses/{business}/submit/", None, (400, 400, 404, 403, 403)),
    ("business suspend", "post", "/api/businesses/{business}/suspend/", {"reason": "Camera pointed at a home"},
     (403, 403, 404, 403, 200)),
    ("site list", "get", "/api/sites/", None, (200, 200, 200, 200, 200)),
    ("site detail", "get", "/api/sites/{site}/", None, (200, 200, 404, 200, 200)),
    ("site update", "patch", "/api/sites/{site}/", {"address": "2 Woodward Ave"}, (200, 200, 404, 403, 403)),
    ("site create", "post", "/api/sites/",
     {"business": "{business}", "name": "Back lot", "address": "3 Woodward", "latitude": "42.3", "longitude": "-83"},
     (201, 201, 404, 403, 403)),
    ("agreement list", "get", "/api/agreements/", None, (200, 200, 200, 200, 200)),
    ("agreement detail", "get", "/api/agreements/{agreement}/", None, (200, 200, 404, 200, 200)),
    ("agreement update", "patch", "/api/agreements/{agreement}/", {"terms_accepted": True, "retention_days": 14},
     (200, 200, 404, 403, 403)),
    ("agreement revoke", "post", "/api/agreements/{agreement}/revoke/", {"reason": "Closing down"},
     (200, 200, 404, 403, 403)),
    ("agreement create", "post", "/api/agreements/",
     {"business": "{business}", "name": "Registry only", "mode": "registry", "terms_accepted": True},
     (201, 201, 404, 403, 403)),
    ("audit events", "get", "/api/audit-events/", None, (200, 200, 200, 403, 200)),
    ("officer list", "get", "/api/officers/", None, (403, 403, 403, 403, 200)),
    ("officer detail", "get", "/api/officers/{officer}/", None, (403, 403, 403, 403, 200)),
    ("officer invite", "post", "/api/officers/",
     {"email": "new.officer@police.example", "full_name": "New Officer", "role": "monitor"},
     (403, 403, 403, 403, 201)),
    ("officer deactivate", "post", "/api/officers/{officer}/deactivate/", {"reason": "Left"},
     (403, 403, 403, 403, 200)),
    ("officer reactivate", "post", "/api/officers/{officer}/reactivate/", None, (403, 403, 403, 403, 200)),
    # Only a bearer token is revoked here; the anonymous test covers it, tests/community/api/test_token.py the rest.
    ("token revoke", "delete", "/api/auth/token/", None, None),
    ("schema", "get", "/api/schema/", None, (200, 200, 200, 200, 200)),
]
# fmt: on

MATRIX = [
    pytest.param(method, path, data, persona, expected[i], id=f"{name}-{persona}")
    for name, method, path, data, expected in ENDPOINTS
    if expected is not None
    for i, persona in enumerate(PERSONAS)
]


def _fill(value, ids):
    if isinstance(value, str):
        filled = value.format(**ids)
        return int(filled) if value.startswith("{") and filled.isdigit() else filled
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


@pytest.fixture
def ids(alice_business, alice_site, alice_agreement, alice_camera, monitor) -> dict[str, int]:
    return {
        "business": alice_business.pk,
        "site": alice_site.pk,
        "agreement": alice_agreement.pk,
        "camera": alice_camera.pk,
        "officer": monitor.pk,
    }


@pytest.mark.parametrize(("method", "path", "data", "persona", "expected"), MATRIX)
def test_each_persona_gets_the_status_the_access_matrix_gives(client_as, ids, method, path, data, persona, expected):
    client = client_as(persona)
    events_before = AuditEvent.objects.count()

    response = getattr(client, method)(_fill(path, ids), _fill(data, ids), format="json")

    assert response.status_code == expected, response.content
    if response.status_code >= 400:
        assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [pytest.param(method, path, data, id=name) for name, method, path, data, _ in ENDPOINTS],
)
def test_anonymous_callers_get_401_everywhere_but_the_public_endpoints(client_as, ids, method, path, data):
    response = getattr(client_as("anonymous"), method)(_fill(path, ids), _fill(data, ids), format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_supervisor_verifies_a_pending_partner_that_monitors_cannot_see_yet(client_as, alice_business):
    Business.objects.filter(pk=alice_business.pk).update(state=Business.State.PENDING)
    path = f"/api/businesses/{alice_business.pk}/verify/"
    expected = {"alice": 403, "bob": 403, "charlie": 404, "monitor": 404, "supervisor": 200}

    statuses = {
        persona: client_as(persona).post(path, {"reason": "Visited"}, format="json").status_code for persona in expected
    }

    assert statuses == expected


@pytest.mark.parametrize("persona", ["anonymous", *PERSONAS])
def test_everyone_may_read_the_transparency_report(client_as, persona):
    assert client_as(persona).get("/api/transparency/").status_code == 200


def test_charlie_gets_404_for_every_one_of_alices_things(client_as, ids):
    charlie = client_as("charlie")
    for path in ("/api/businesses/{business}/", "/api/sites/{site}/", "/api/agreements/{agreement}/"):
        assert charlie.get(_fill(path, ids)).status_code == 404
        assert charlie.patch(_fill(path, ids), {"name": "Mine now"}, format="json").status_code == 404


def test_charlie_does_not_see_alices_things_in_lists(client_as, ids):
    charlie = client_as("charlie")
    for path in ("/api/businesses/", "/api/sites/", "/api/agreements/", "/api/audit-events/"):
        assert charlie.get(path).json()["results"] == [], path
