"""Alerts for the alert pages, endpoints and socket: one on Alice's front door, one on a camera of a partner
still waiting for verification (the supervisor sees it, monitors do not), one on Charlie's garage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert
from alerts.services import alert_raise
from cameras.models import Camera
from community.models import Business, User
from tests.factories import AgreementFactory, BusinessFactory, CameraFactory, OfficerFactory, SiteFactory

PERSONAS = ("anonymous", "alice", "bob", "charlie", "monitor", "supervisor")

RaiseAlert = Callable[..., Alert]


@pytest.fixture
def raise_alert(db) -> RaiseAlert:
    counter = iter(range(1, 10_000))

    def make(camera: Camera | None, **fields: object) -> Alert:
        n = next(counter)
        options: dict = {
            "dedup_key": f"test:{n}",
            "kind": Alert.Kind.ZONE,
            "title": f"Person in the car park ({n})",
            "occurred_at": timezone.now() - timedelta(minutes=n),
            "camera": camera,
            "object_class": "person",
            **fields,
        }
        alert, created = alert_raise(**options)
        assert created
        return alert

    return make


@pytest.fixture
def alice_alert(raise_alert: RaiseAlert, alice_camera: Camera) -> Alert:
    return raise_alert(alice_camera)


@pytest.fixture
def charlie_alert(raise_alert: RaiseAlert, charlie_camera: Camera) -> Alert:
    return raise_alert(charlie_camera)


@pytest.fixture
def unverified_camera(db) -> Camera:
    """A camera of a partner waiting for verification: the supervisor sees it, monitors do not."""
    business = BusinessFactory(name="Dana's Diner", state=Business.State.PENDING, verified_at=None)
    site = SiteFactory(business=business, latitude=Decimal("42.331500"), longitude=Decimal("-83.045900"))
    return CameraFactory(site=site, name="Diner back door", agreement=AgreementFactory(business=business))


@pytest.fixture
def other_monitor(agency) -> User:
    return OfficerFactory(email="otto@police.example", full_name="Otto Other", agency=agency)
