"""The embedded demo signs with a key of its own installation, never one published in the source."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from django.conf import settings

PUBLISHED_KEY = "lantern-insecure-development-key-never-use-in-production"  # the key the demo once shipped with


def _settings_secret_key(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_SECRET_KEY")}
    environment.update({"LANTERN_DATA_DIR": str(data_dir), "LANTERN_DEBUG": "1", **env})
    return subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.SECRET_KEY)"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_each_installation_makes_its_own_key_once_readable_by_its_owner_only(tmp_path):
    first = _settings_secret_key(tmp_path / "one")
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert len(key) >= 50
    assert key != PUBLISHED_KEY
    assert key not in (Path(settings.BASE_DIR) / "config" / "settings.py").read_text()
    stored = tmp_path / "one" / "secret_key"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert _settings_secret_key(tmp_path / "one").stdout.strip() == key
    assert _settings_secret_key(tmp_path / "two").stdout.strip() != key


def test_a_given_key_is_used_and_nothing_is_written(tmp_path):
    result = _settings_secret_key(tmp_path, LANTERN_SECRET_KEY="a key the operator chose for this server")
    assert result.stdout.strip() == "a key the operator chose for this server"
    assert not (tmp_path / "secret_key").exists()


def test_production_still_requires_a_key(tmp_path):
    result = _settings_secret_key(tmp_path, LANTERN_DEBUG="0")
    assert result.returncode != 0
    assert "LANTERN_SECRET_KEY" in result.stderr
    assert not (tmp_path / "secret_key").exists()
