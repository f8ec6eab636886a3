"""Personas and helpers shared by every test.

alice owns a verified business with two cameras under live-always terms; bob is her staff;
charlie owns another business and must get a 404 for every one of alice's things; monica is a
police monitor and sam a supervisor of the same agency.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from cameras.models import Camera
from community.models import Agency, Business, SharingAgreement, Site, User
from tests.celery_worker import worker  # noqa: F401  (a real Celery worker, for the tests that kill one)
from tests.factories import (
    AgencyFactory,
    AgreementFactory,
    BusinessFactory,
    CameraFactory,
    OfficerFactory,
    SiteFactory,
    UserFactory,
)
from tests.s3 import S3Endpoint, s3_server

PASSWORD = "correct horse battery staple"


@pytest.fixture
def agency(db) -> Agency:
    return AgencyFactory()


@pytest.fixture
def alice(db) -> User:
    return UserFactory(email="alice@example.com", full_name="Alice Owner")


@pytest.fixture
def bob(db, alice_business: Business) -> User:
    bob = UserFactory(email="bob@example.com", full_name="Bob Staff")
    alice_business.staff.add(bob)
    return bob


@pytest.fixture
def charlie(db) -> User:
    return UserFactory(email="charlie@example.com", full_name="Charlie Elsewhere")


@pytest.fixture
def monitor(db, agency: Agency) -> User:
    return OfficerFactory(email="monica@police.example", full_name="Monica Monitor", agency=agency)


@pytest.fixture
def supervisor(db, agency: Agency) -> User:
    return OfficerFactory(
        email="sam@police.example", full_name="Sam Supervisor", agency=agency, role=User.Role.SUPERVISOR, is_staff=True
    )


@pytest.fixture
def alice_business(alice: User) -> Business:
    return BusinessFactory(owner=alice, name="Alice's Market")


@pytest.fixture
def alice_site(alice_business: Business) -> Site:
    return SiteFactory(business=alice_business, name="Main Street")


@pytest.fixture
def alice_agreement(alice_business: Business) -> SharingAgreement:
    return AgreementFactory(business=alice_business, name="Storefront, live always")


@pytest.fixture
def alice_camera(alice_site: Site, alice_agreement: SharingAgreement) -> Camera:
    return CameraFactory(site=alice_site, name="Front door", agreement=alice_agreement)


@pytest.fixture
def charlie_camera(charlie: User) -> Camera:
    business = BusinessFactory(owner=charlie, name="Charlie's Garage")
    agreement = AgreementFactory(business=business)
    return CameraFactory(site=SiteFactory(business=business), name="Garage door", agreement=agreement)


def otp_device_for(user: User) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="phone", defaults={"confirmed": True})
    return device


def log_in(client: Client, user: User) -> Client:
    """Log a persona in the way the app would: police officers also pass the second factor."""
    client.force_login(user)
    if user.is_police:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = otp_device_for(user).persistent_id
        session.save()
    return client


@pytest.fixture
def client_for(db) -> Callable[[User | None], Client]:
    def make(user: User | None) -> Client:
        client = Client()
        return log_in(client, user) if user is not None else client

    return make


@pytest.fixture
def api_client_for(db) -> Callable[[User | None], APIClient]:
    def make(user: User | None) -> APIClient:
        client = APIClient()
        return log_in(client, user) if user is not None else client  # type: ignore[return-value]

    return make


@pytest.fixture
def client_as(request, api_client_for) -> Callable[[str], APIClient]:
    """`client_as("monitor")` is an API client logged in as the monitor; "anonymous" is nobody."""

    def make(persona: str) -> APIClient:
        user = None if persona == "anonymous" else request.getfixturevalue(persona)
        return api_client_for(user)

    return make


class AsgiServer:
    def __init__(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            "config.asgi:application", host="127.0.0.1", port=self.port, lifespan="on", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def asgi_server(transactional_db, settings) -> Iterator[AsgiServer]:
    # One relay, as in the embedded default: no registry, so relays of other tests never get redirects.
    settings.REDIS_URL = ""
    settings.RELAY_GRACE_S = 1.0
    settings.LIVE_RECHECK_S = 0.5
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    server = AsgiServer()
    settings.RELAY_URL = server.url
    settings.RELAY_ID = f"test-relay-{server.port}"
    server.start()
    yield server
    server.stop()


# ---------------------------------------------------------------- S3 on loopback


@pytest.fixture(scope="session")
def s3_service() -> Iterator[S3Endpoint]:
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_storage(settings, s3_service: S3Endpoint) -> S3Endpoint:
    """Point Django's default storage at a fresh bucket (with Object Lock) on the loopback S3 server for one test."""
    endpoint = s3_service.with_new_bucket()
    # A new dict, not an edit in place: assigning fires setting_changed, whose STORAGES receiver
    # (django.test.signals.storages_changed) forgets the cached backends and default_storage; the
    # `settings` fixture restores STORAGES afterwards and fires it again.
    settings.STORAGES = {**settings.STORAGES, "default": endpoint.storage_setting()}
    return endpoint
