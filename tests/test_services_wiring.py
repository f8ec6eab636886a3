"""When LANTERN_REDIS_URL is set (as in CI), the cache and the Celery broker really use that Redis."""

import os
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache

from config.celery import app as celery_app

needs_redis = pytest.mark.skipif(not os.environ.get("LANTERN_REDIS_URL"), reason="LANTERN_REDIS_URL is not set")


@needs_redis
def test_the_cache_round_trips_through_redis():
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    key = f"wiring-{uuid.uuid4()}"
    cache.set(key, {"ok": True}, 30)
    assert cache.get(key) == {"ok": True}
    cache.delete(key)


@needs_redis
def test_the_celery_broker_is_redis_and_answers():
    assert celery_app.conf.broker_url.startswith("redis://")
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
        assert connection.connected


def test_the_embedded_broker_needs_no_server():
    if os.environ.get("LANTERN_REDIS_URL"):
        pytest.skip("Redis is configured")
    assert settings.CELERY_BROKER_URL == "filesystem://"
