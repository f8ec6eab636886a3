"""Sign-in lockouts end on time, a password reset ends them, they warn first, and neither the e-mail's case nor a
forged X-Forwarded-For buys fresh guesses."""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse

from community.client_address import client_address
from community.models import AuditEvent
from tests.conftest import PASSWORD

WRONG = "not the password at all"


def login(client, email, password=PASSWORD, **headers):
    return client.post(reverse("community:login"), {"username": email, "password": password}, **headers)


def fail_until_locked(client, email, **headers):
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        login(client, email, WRONG, **headers)


def let_time_pass(delta: timedelta) -> None:
    # django-axes keeps one row per e-mail and client with the time of the last counted failure.
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= delta
        attempt.save(update_fields=["attempt_time"])


def cool_off() -> timedelta:
    return timedelta(hours=django_settings.AXES_COOLOFF_TIME)


def test_a_locked_account_says_when_to_retry_and_links_to_the_reset(client, alice):
    fail_until_locked(client, alice.email)
    locked = login(client, alice.email)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Try again after" in page
    assert re.search(r"in about 1[45] minutes", page)
    assert reverse("community:password_reset") in page
    assert int(locked["Retry-After"]) > 0


def test_the_right_password_works_once_the_cool_off_has_passed(client, alice):
    fail_until_locked(client, alice.email)
    assert login(client, alice.email).status_code == 429
    let_time_pass(cool_off() + timedelta(seconds=1))
    assert login(client, alice.email).status_code == 302


def test_attempts_during_a_lockout_do_not_extend_it(client, alice):
    fail_until_locked(client, alice.email)
    let_time_pass(timedelta(minutes=10))
    assert login(client, alice.email, WRONG).status_code == 429
    assert login(client, alice.email).status_code == 429
    let_time_pass(cool_off() - timedelta(minutes=10) + timedelta(seconds=1))
    assert login(client, alice.email).status_code == 302


def test_a_completed_password_reset_ends_the_lockout(client, alice):
    fail_until_locked(client, alice.email)
    client.post(reverse("community:password_reset"), {"email": alice.email})
    link = re.search(r"http://\S+", mail.outbox[0].body).group(0)
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "another-long-phrase", "new_password2": "another-long-phrase"},
    )
    assert login(client, alice.email, "another-long-phrase").status_code == 302
    assert AuditEvent.objects.filter(action="auth.lockout_cleared", actor=alice).exists()


def test_wrong_passwords_warn_how_many_tries_are_left(client, alice):
    for _ in range(django_settings.AXES_FAILURE_LIMIT - 3):
        login(client, alice.email, WRONG)
    page = login(client, alice.email, WRONG).content.decode()
    assert "2 tries left" in page
    assert "1 try left" in login(client, alice.email, WRONG).content.decode()


def test_the_emails_case_gives_no_fresh_guesses(client, alice):
    variants = ["Alice@Example.com", "ALICE@EXAMPLE.COM", " alice@Example.com", "aLiCe@example.com"]
    for i in range(django_settings.AXES_FAILURE_LIMIT):
        login(client, variants[i % len(variants)], WRONG)
    assert login(client, "Alice@Example.com").status_code == 429
    assert login(client, alice.email).status_code == 429


def test_a_rotating_forwarded_for_behind_our_proxy_gives_no_fresh_guesses(client, alice, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for i in range(django_settings.AXES_FAILURE_LIMIT):
        login(client, alice.email, WRONG, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.9")
    locked = login(client, alice.email, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.77, 203.0.113.9")
    assert locked.status_code == 429


def test_clients_behind_our_proxy_are_counted_apart(client, alice, settings):
    # The proxy's own address is not the client: one attacker must not lock alice out for everyone.
    settings.TRUSTED_PROXY_COUNT = 1
    fail_until_locked(client, alice.email, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    elsewhere = login(client, alice.email, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert elsewhere.status_code == 302


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "127.0.0.1"),
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),
        (2, "198.51.100.1, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "203.0.113.9", "127.0.0.1"),
        (1, "not-an-address", "127.0.0.1"),
        (1, "", "127.0.0.1"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address_trusts_only_what_our_proxies_appended(settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_the_officers_second_factor_still_follows_the_password_after_a_lockout(client, monitor):
    fail_until_locked(client, monitor.email)
    let_time_pass(cool_off() + timedelta(seconds=1))
    response = login(client, monitor.email)
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"].startswith(reverse("community:otp_verify"))


# ---------------------------------------------------------------- the deployment's own web server settings


def _compose_web() -> tuple[list[str], dict[str, str]]:
    compose = yaml.safe_load((Path(django_settings.BASE_DIR) / "docker" / "compose.yaml").read_text())
    web = compose["services"]["web"]
    return [str(part) for part in web["command"]], {k: str(v) for k, v in web["environment"].items()}


@pytest.fixture
def compose_web_server(transactional_db, settings, monkeypatch):
    """uvicorn on loopback with the proxy options the compose file gives the web service; the test is the proxy."""
    command, environment = _compose_web()
    settings.TRUSTED_PROXY_COUNT = int(environment.get("LANTERN_TRUSTED_PROXY_COUNT", "0"))
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    if "FORWARDED_ALLOW_IPS" in environment:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", environment["FORWARDED_ALLOW_IPS"])
    else:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(
        "config.asgi:application",
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        proxy_headers="--no-proxy-headers" not in command,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_the_deployed_web_server_gives_a_rotating_forwarded_for_no_fresh_guesses(compose_web_server, alice):
    with httpx.Client(base_url=compose_web_server, timeout=60) as browser:

        def attempt(password: str, forged: str) -> httpx.Response:
            page = browser.get("/account/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            # What the host's proxy sends on: the client's own header, then the address it saw.
            headers = {"X-Forwarded-For": f"{forged}, 203.0.113.9", "Referer": f"{compose_web_server}/account/login/"}
            data = {"username": alice.email, "password": password, "csrfmiddlewaretoken": token}
            return browser.post("/account/login/", data=data, headers=headers)

        for i in range(django_settings.AXES_FAILURE_LIMIT):
            assert attempt(WRONG, f"198.51.100.{i}").status_code in (200, 429)
        assert attempt(PASSWORD, "192.0.2.200").status_code == 429
