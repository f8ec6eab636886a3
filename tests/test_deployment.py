"""The deployment: docker/ agrees with config/settings.py, and the settings pass Django's deploy checks."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
SETTINGS = ROOT / "config" / "settings.py"

# Prints what the settings resolved to, as JSON, from a fresh interpreter with only the environment we give it.
RESOLVE_SETTINGS = """
import json
from django.conf import settings

print(json.dumps({
    "database": settings.DATABASES["default"]["ENGINE"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "storage": settings.STORAGES["default"]["BACKEND"],
    "secret_key": settings.SECRET_KEY,
}))
"""


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _services() -> dict[str, dict]:
    return _compose()["services"]


def _app_services() -> dict[str, dict]:
    """The services that run Lantern's own image, built from docker/Dockerfile."""
    return {name: service for name, service in _services().items() if "build" in service}


def _environment(service: dict) -> dict[str, str]:
    """A service's environment, with each `${VAR...}` that compose fills in from docker/.env replaced by `x`."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: re.sub(r"\$\{[^}]*\}", "x", str(value)) for key, value in environment.items()}


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def _settings_variables() -> set[str]:
    """Every LANTERN_* variable that config/settings.py reads, including LANTERN_<NAME>[_FILE] via _secret()."""
    text = SETTINGS.read_text()
    names = set(re.findall(r"\bLANTERN_[A-Z0-9_]+\b", text))
    for name in re.findall(r"""_secret\(\s*["']([A-Z0-9_]+)["']""", text):
        names |= {f"LANTERN_{name}", f"LANTERN_{name}_FILE"}
    return names


def _clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any LANTERN_* or pytest-django's settings module, plus `variables`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LANTERN_") and key != "DJANGO_SETTINGS_MODULE"
    }
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings"
    environment.update(variables)
    return environment


def _production_environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    return _clean_environment(
        LANTERN_DEBUG="0",
        LANTERN_SECRET_KEY=secrets.token_urlsafe(48),
        LANTERN_ALLOWED_HOSTS="lantern.example.org",
        LANTERN_FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        LANTERN_DATA_DIR=str(tmp_path),
        **variables,
    )


def _run(args: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False)


def _resolved_settings(environment: dict[str, str]) -> dict[str, str]:
    result = _run([sys.executable, "-c", RESOLVE_SETTINGS], environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_settings_scan_finds_plain_and_secret_variables():
    names = _settings_variables()

    assert {"LANTERN_DEBUG", "LANTERN_DATABASE_URL", "LANTERN_REDIS_URL", "LANTERN_S3_BUCKET"} <= names
    assert {"LANTERN_SECRET_KEY_FILE", "LANTERN_S3_SECRET_ACCESS_KEY", "LANTERN_S3_SECRET_ACCESS_KEY_FILE"} <= names


def test_compose_has_every_service():
    expected = {"postgres", "redis", "minio", "web", "worker", "beat", "coturn"}

    assert expected <= set(_services())


def test_web_runs_the_asgi_application_under_uvicorn():
    command = _command(_services()["web"])

    assert command[0] == "uvicorn"
    assert "config.asgi:application" in command


@pytest.mark.parametrize("role", ["worker", "beat"])
def test_worker_and_beat_run_celery_with_the_config_app(role):
    command = _command(_services()[role])

    assert command[:4] == ["celery", "-A", "config", role]


def test_web_worker_and_beat_run_the_lantern_image_after_migrations():
    services = _services()
    app_services = _app_services()

    assert {"web", "worker", "beat"} <= set(app_services)
    assert "migrate" in _command(services["migrate"])
    for name in ("web", "worker", "beat"):
        assert app_services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_names_only_variables_that_settings_read():
    known = _settings_variables()
    named = {
        (service_name, key)
        for service_name, service in _services().items()
        for key in _environment(service)
        if key.startswith("LANTERN_")
    }

    unknown = sorted(f"{service_name}: {key}" for service_name, key in named if key not in known)
    assert named
    assert not unknown, f"config/settings.py does not read {unknown}"


def test_every_app_service_gets_the_same_lantern_environment():
    environments = {
        name: {key: value for key, value in _environment(service).items() if key.startswith("LANTERN_")}
        for name, service in _app_services().items()
    }

    first = next(iter(environments.values()))
    assert first["LANTERN_DEBUG"] == "0"
    assert all(environment == first for environment in environments.values()), environments


def test_app_services_use_the_compose_servers():
    for name, service in _app_services().items():
        environment = _environment(service)
        database = urlsplit(environment["LANTERN_DATABASE_URL"])
        redis = urlsplit(environment["LANTERN_REDIS_URL"])
        s3 = urlsplit(environment["LANTERN_S3_ENDPOINT_URL"])

        assert (database.scheme, database.hostname) == ("postgres", "postgres"), name
        assert (redis.scheme, redis.hostname) == ("redis", "redis"), name
        assert s3.hostname == "minio", name
        assert environment["LANTERN_S3_BUCKET"], name


def test_the_bucket_is_created_with_object_locking():
    init = _services()["minio-init"]
    script = " ".join(_command(init))

    assert "mc mb" in script
    assert "--with-lock" in script


def test_the_image_is_built_in_stages_and_runs_as_a_non_root_user():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    stages = [line for line in lines if line.upper().startswith("FROM ")]
    users = [line.split(None, 1)[1] for line in lines if line.upper().startswith("USER ")]

    assert len(stages) >= 2
    assert users, "the Dockerfile never switches away from root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]

    result = _run(command, _production_environment(tmp_path))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


def test_deploy_check_asks_for_a_key_of_its_own_for_stream_credentials(tmp_path):
    environment = _production_environment(tmp_path)
    del environment["LANTERN_FIELD_ENCRYPTION_KEY"]

    result = _run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], environment)

    assert result.returncode != 0
    assert "lantern.W001" in result.stdout + result.stderr


def test_static_files_collect_with_the_production_storage(tmp_path):
    # The Dockerfile runs exactly this at build time: the hashed, compressed storage fails on any file that
    # a collected CSS or JS file references but the repository lacks (a source map, a font).
    command = [sys.executable, "manage.py", "collectstatic", "--noinput"]

    result = _run(command, _production_environment(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()


def test_settings_use_the_servers_when_they_are_configured(tmp_path):
    environment = _clean_environment(
        LANTERN_DATA_DIR=str(tmp_path),
        LANTERN_DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        LANTERN_REDIS_URL="redis://127.0.0.1:6379/2",
        LANTERN_S3_BUCKET="b",
        LANTERN_S3_ENDPOINT_URL="http://127.0.0.1:9000",
    )

    resolved = _resolved_settings(environment)

    assert resolved["database"] == "django.db.backends.postgresql"
    assert resolved["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert resolved["channel_layer"] == "channels_redis.core.RedisChannelLayer"
    assert resolved["broker"] == "redis://127.0.0.1:6379/2"
    assert resolved["storage"] == "storages.backends.s3.S3Storage"


RESOLVE_QUEUES = """
import json
from django.conf import settings

print(json.dumps({
    "queues": list(settings.CELERY_TASK_QUEUES),
    "routes": {name: route["queue"] for name, route in settings.CELERY_TASK_ROUTES.items()},
    "default": settings.CELERY_TASK_DEFAULT_QUEUE,
}))
"""


def _celery_queues(command: list[str]) -> set[str] | None:
    """The queues a `celery worker` command consumes (-Q), or None for all of CELERY_TASK_QUEUES."""
    if "-Q" not in command:
        return None
    return set(command[command.index("-Q") + 1].split(","))


def test_compose_workers_consume_every_queue_and_analysis_never_holds_up_the_rest(tmp_path):
    resolved = json.loads(_run([sys.executable, "-c", RESOLVE_QUEUES], _production_environment(tmp_path)).stdout)
    queues = set(resolved["queues"])
    workers = {
        name: _celery_queues(_command(service))
        for name, service in _app_services().items()
        if _command(service)[:4] == ["celery", "-A", "config", "worker"]
    }

    consumed = set().union(*(queues if these is None else these for these in workers.values()))
    assert set(resolved["routes"].values()) | {resolved["default"]} <= queues
    assert consumed == queues, workers
    for name, these in workers.items():
        assert these is not None, f"{name} consumes analysis with everything else"
        assert these <= queues, f"{name} consumes a queue the settings do not declare: {these - queues}"
        assert these == {"analysis"} or "analysis" not in these, name


def test_settings_use_the_embedded_redis_on_a_unix_socket(tmp_path):
    socket = tmp_path / "redis.sock"
    environment = _clean_environment(LANTERN_DATA_DIR=str(tmp_path), LANTERN_REDIS_URL=f"unix://{socket}")

    resolved = _resolved_settings(environment)

    assert resolved["database"] == "django.db.backends.sqlite3"
    assert resolved["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert resolved["channel_layer"] == "channels_redis.core.RedisChannelLayer"
    assert resolved["broker"] == f"redis+socket://{socket}"


def test_the_demo_gives_every_process_the_embedded_redis(tmp_path):
    from devtools.demo import demo_environment
    from devtools.embedded_redis import EmbeddedRedis

    redis = EmbeddedRedis(folder=tmp_path / "redis")
    environment = demo_environment(data_dir=tmp_path, redis=redis, base=_clean_environment())

    resolved = _resolved_settings(environment)

    assert resolved["channel_layer"] == "channels_redis.core.RedisChannelLayer"
    assert resolved["broker"].startswith("redis+socket://")


def test_settings_fall_back_to_the_embedded_default(tmp_path):
    resolved = _resolved_settings(_clean_environment(LANTERN_DATA_DIR=str(tmp_path)))

    assert resolved["database"] == "django.db.backends.sqlite3"
    assert resolved["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert resolved["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert resolved["broker"] == "filesystem://"
    assert resolved["storage"] == "django.core.files.storage.FileSystemStorage"


def test_the_secret_key_is_read_from_a_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("a-key-from-a-docker-secret\n")
    environment = _clean_environment(
        LANTERN_DEBUG="0", LANTERN_DATA_DIR=str(tmp_path), LANTERN_SECRET_KEY_FILE=str(key_file)
    )

    resolved = _resolved_settings(environment)

    assert resolved["secret_key"] == "a-key-from-a-docker-secret"


def test_settings_refuse_to_load_without_a_secret_key_when_debug_is_off(tmp_path):
    environment = _clean_environment(LANTERN_DEBUG="0", LANTERN_DATA_DIR=str(tmp_path))

    result = _run([sys.executable, "-c", RESOLVE_SETTINGS], environment)

    assert result.returncode != 0
    assert "LANTERN_SECRET_KEY" in result.stderr
