"""The embedded default's SQLite under its own demo load: the recorder and the worker (other OS processes) write to
the same file while people sign up and save their wall, and no page answers 500 "database is locked"; a lock that
outlasts the busy timeout is a 503 with Retry-After that says to try again, and nothing half-saved is left.

These run the real settings (`config.settings`, SQLite in a scratch data folder) in processes of their own, as
`./dev run` does, whichever database the rest of the suite uses.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(600)

# One writer as the recorder and the worker are: short transactions that read, then write (segment_register,
# the analysis state), one after another, from its own process.
WRITER = """
import os, sys, time, uuid
import django
django.setup()
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

stop = sys.argv[1]
written = 0
while not os.path.exists(stop):
    with transaction.atomic():
        Session.objects.filter(expire_date__lt=timezone.now()).count()
        Session.objects.create(session_key=uuid.uuid4().hex, session_data="x", expire_date=timezone.now())
        # A recorder's transaction also touches the file system while it holds the lock.
        time.sleep(0.02)
    written += 1
    # Far busier than the demo's four cameras (a segment each per 10 s), yet with a gap as real writers have.
    time.sleep(0.1)
print(written)
"""

# The pages, through Django's test client against the same file: sign-ups and wall saves, one after another.
PAGES = """
import json, sys
import django
django.setup()
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from community.models import Agency, User

rounds = int(sys.argv[1])
agency = Agency.objects.create(name="Metro Police")
monitor = User.objects.create_user(
    email="monica@police.example", password="x-long-password", full_name="Monica Monitor",
    role=User.Role.MONITOR, agency=agency,
)
device = TOTPDevice.objects.create(user=monitor, name="phone", confirmed=True)
officer = Client(raise_request_exception=False)
officer.force_login(monitor)
session = officer.session
session[DEVICE_ID_SESSION_KEY] = device.persistent_id
session.save()

statuses = {"signup": [], "wall": []}
for n in range(rounds):
    newcomer = Client(raise_request_exception=False)
    response = newcomer.post("/account/signup/", {
        "full_name": f"Erin Baker {n}", "email": f"erin{n}@example.com",
        "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase",
    })
    statuses["signup"].append(response.status_code)
    response = officer.post(
        "/police/wall/", json.dumps({"layout": 4, "tiles": [None, None, None, None]}), content_type="application/json"
    )
    statuses["wall"].append(response.status_code)
print(json.dumps(statuses))
"""


def _environment(data_dir: Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LANTERN_") and key != "DJANGO_SETTINGS_MODULE"
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        LANTERN_DATA_DIR=str(data_dir),
        LANTERN_FAST_PASSWORD_HASHER="1",
        LANTERN_LOG_LEVEL="ERROR",
        LANTERN_ALLOWED_HOSTS="testserver,127.0.0.1",
    )
    return environment


def _run(args: list[str], environment: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def embedded_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    data_dir = tmp_path_factory.mktemp("embedded")
    environment = _environment(data_dir)
    migrated = _run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], environment, timeout=500)
    assert migrated.returncode == 0, migrated.stderr
    return data_dir, environment


def test_the_embedded_database_is_in_wal_mode(embedded_data):
    data_dir, _ = embedded_data

    with sqlite3.connect(data_dir / "lantern.sqlite3") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_signing_up_and_saving_the_wall_never_fail_while_the_recorder_and_worker_write(embedded_data, tmp_path):
    _, environment = embedded_data
    stop = tmp_path / "stop"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(stop)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        time.sleep(2)  # the writers are busy before the first page is asked for
        pages = _run([sys.executable, "-c", PAGES, "12"], environment)
    finally:
        stop.touch()
        outputs = [writer.communicate(timeout=120) for writer in writers]

    assert pages.returncode == 0, pages.stderr[-3000:]
    statuses = json.loads(pages.stdout.strip().splitlines()[-1])
    assert statuses["signup"] == [302] * 12, (statuses, pages.stderr[-3000:])
    assert statuses["wall"] == [200] * 12, (statuses, pages.stderr[-3000:])
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err[-3000:]
        assert int(out.strip()) > 0


# Holds the write lock on the file for `seconds`, as a long write in another process would.
LOCK_HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
"""

SIGNUP_ONCE = """
import json
import django
django.setup()
from django.test import Client
from community.models import User

response = Client(raise_request_exception=False).post("/account/signup/", {
    "full_name": "Frank Busy", "email": "frank@example.com",
    "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase",
}, HTTP_ACCEPT="text/html")
print(json.dumps({
    "status": response.status_code,
    "retry_after": response.headers.get("Retry-After"),
    "text": response.content.decode(),
    "saved": User.objects.filter(email="frank@example.com").exists(),
}))
"""


def test_a_database_locked_past_the_busy_timeout_is_a_503_that_says_to_try_again(embedded_data):
    data_dir, environment = embedded_data
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(data_dir / "lantern.sqlite3"), "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = _run([sys.executable, "-c", SIGNUP_ONCE], {**environment, "LANTERN_SQLITE_TIMEOUT_S": "1"})
    finally:
        holder.kill()
        holder.wait()

    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503, answer
    assert answer["retry_after"] == "5"
    assert "try again" in answer["text"]
    assert not answer["saved"]
