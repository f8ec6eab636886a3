"""Settings for the test suite: the real settings, plus a fast hasher, eager Celery and a scratch data folder."""

import tempfile
from pathlib import Path

from config.settings import *  # noqa: F403
from config.settings import STORAGES

_default_storage: dict = STORAGES["default"]  # type: ignore[assignment]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PROBE_TIMEOUT_S = 5.0
# The simulator and the tests' web servers are on loopback; the address-check tests turn this off.
STREAM_ALLOW_PRIVATE = True
# The live tests run relays; the recording tests turn this on where they need it.
RECORDING_ENABLED = False
# Every registered segment would be analysed (eagerly) in tests that only need segments; analytics tests
# turn it on.
ANALYTICS_ENABLED = False

_scratch = Path(tempfile.mkdtemp(prefix="lantern-test-"))
RECORDING_SPOOL_DIR = _scratch / "spool"
if _default_storage["BACKEND"].endswith("FileSystemStorage"):
    _default_storage["OPTIONS"]["location"] = str(_scratch / "media")
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
# pytest-django runs with DEBUG off; the ASGI test server still serves static files from the finders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# On SQLite, a file rather than shared-cache memory: the live-view tests write from the ASGI server's
# threads and the test's at once, and a file database waits for its lock where shared cache fails.
from config.settings import DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(_scratch / "test.sqlite3")}
