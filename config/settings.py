"""All of Lantern's settings, read from LANTERN_* environment variables with embedded defaults."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()


def _secret(name: str, default: str | None = None) -> str | None:
    """Read LANTERN_<name>, or the file named by LANTERN_<name>_FILE (Docker and Kubernetes secrets)."""
    path = os.environ.get(f"LANTERN_{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(f"LANTERN_{name}", default)


DATA_DIR = Path(env.str("LANTERN_DATA_DIR", default=str(BASE_DIR / "var")))
DEBUG = env.bool("LANTERN_DEBUG", default=True)


def _installation_secret_key(folder: Path) -> str:
    """The embedded demo's own key: made once per installation, kept in its data folder, readable by its owner only.

    A key published in the source would let anyone sign media links and sessions for every demo. The web
    server, relay and worker of `./dev run` start together; the file appears whole or not at all (a link of a
    finished file), and the first one made is the one they all read.
    """
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        draft = folder / f".secret_key.{os.getpid()}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


# The embedded default runs on one machine for a demo; a deployment must bring its own key.
SECRET_KEY = _secret("SECRET_KEY") or (_installation_secret_key(DATA_DIR) if DEBUG else "")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("Set LANTERN_SECRET_KEY (or LANTERN_SECRET_KEY_FILE) when LANTERN_DEBUG is off.")

ALLOWED_HOSTS = env.list("LANTERN_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("LANTERN_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("LANTERN_SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "community",
    "cameras",
    "alerts",
    "tips",
]

MIDDLEWARE = [
    # First: on the tip routes no app code, log line or library (django-axes included) sees the client address.
    "tips.middleware.TipAnonymityMiddleware",
    # Outside every middleware that writes (sessions, auth, axes): a still-locked SQLite is a 503, not a 500.
    "config.middleware.DatabaseBusyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "community.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "community.middleware.StaffTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks, so it sees the outcome of every login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "community.context_processors.lantern",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("LANTERN_DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'lantern.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded default keeps everything under one data folder; SQLite needs it to exist.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # The web server, the recorder and the worker all write to this one file. WAL lets readers go on while one
    # writes; BEGIN IMMEDIATE takes the write lock when a transaction starts, so a writer waits its turn (up to
    # the busy timeout) instead of failing at once when a read lock cannot be upgraded, which no timeout helps.
    # What still times out becomes a 503 with Retry-After (config/middleware.py), never a 500.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.float("LANTERN_SQLITE_TIMEOUT_S", default=20.0),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# With PostgreSQL, a pool of connections per process (psycopg's, through Django): under a burst every request
# waits its turn for one of these instead of opening its own and exhausting the server's max_connections.
DB_POOL_MAX_SIZE = env.int("LANTERN_DB_POOL_MAX_SIZE", default=0)
if DB_POOL_MAX_SIZE and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env.float("LANTERN_DB_POOL_TIMEOUT_S", default=10.0),
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("LANTERN_DB_CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A redis:// URL, or unix:///path/to/redis.sock (the embedded server `./dev run` starts: devtools/embedded_redis.py).
REDIS_URL = env.str("LANTERN_REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # channels-redis waits for a message with a blocking pop of up to 5 s; redis-py 8 reads every reply within
    # a 5 s socket timeout by default, so an idle receive used to fail and drop its websocket. The timeout here
    # stays well above the pop's, and still notices a dead connection.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}]},
        },
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: Redis when configured, otherwise kombu's filesystem transport, which needs no server.
_REDIS_BROKER_URL = (
    # kombu spells a Redis unix socket redis+socket:///path.
    f"redis+socket://{REDIS_URL.removeprefix('unix://')}" if REDIS_URL.startswith("unix://") else REDIS_URL
)
CELERY_BROKER_URL = env.str("LANTERN_CELERY_BROKER_URL", default=_REDIS_BROKER_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = DATA_DIR / "celery" / "queue"
    # kombu's filesystem transport does not create its folders.
    _queue_dir.mkdir(parents=True, exist_ok=True)
    (DATA_DIR / "celery" / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(DATA_DIR / "celery" / "processed"),
        "store_processed": False,
        # Broadcast (control) messages; kombu's default is ./control, in whatever folder the process runs.
        "control_folder": str(DATA_DIR / "celery" / "control"),
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://", "redis+socket://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A message whose worker died unacknowledged is delivered again after this long (late acks).
        "visibility_timeout": env.int("LANTERN_CELERY_VISIBILITY_TIMEOUT_S", default=3600),
        # A worker asks its queues in the order of CELERY_TASK_QUEUES every time (kombu's default takes turns),
        # so a free worker process always takes a probe, export, tip or alert before the next video segment.
        "queue_order_strategy": "priority",
    }
# Each kind of work has its own queue, most urgent first; a worker started without -Q consumes them all in this
# order. Video analysis comes last: it is the bulk of the work, and its backlog is bounded (alerts/services.py).
CELERY_TASK_QUEUES: dict[str, dict[str, str]] = {
    "probes": {},
    "exports": {},
    "tips": {},
    "alerts": {},
    "celery": {},  # housekeeping that beat sends (retention, sweeps)
    "analysis": {},
}
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "cameras.tasks.camera_probe_task": {"queue": "probes"},
    "cameras.tasks.cameras_probe_due": {"queue": "probes"},
    "cameras.tasks.evidence_export_task": {"queue": "exports"},
    "cameras.tasks.evidence_exports_resume": {"queue": "exports"},
    "tips.tasks.attachment_process_task": {"queue": "tips"},
    "tips.tasks.attachments_retry_task": {"queue": "tips"},
    "alerts.tasks.segment_analyse_task": {"queue": "analysis"},
    "alerts.tasks.*": {"queue": "alerts"},
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("LANTERN_CELERY_EAGER", default=False)
CELERY_BEAT_SCHEDULE = {
    "probe-cameras": {
        "task": "cameras.tasks.cameras_probe_due",
        "schedule": env.float("LANTERN_PROBE_INTERVAL_S", default=300.0),
    },
    "expire-segments": {
        "task": "cameras.tasks.segments_expire_task",
        "schedule": env.float("LANTERN_RETENTION_INTERVAL_S", default=3600.0),
    },
    "resume-stalled-exports": {
        "task": "cameras.tasks.evidence_exports_resume",
        "schedule": 300.0,
    },
    # Live sessions whose relay died without closing them stop locking their viewer out.
    "sweep-stale-live-sessions": {
        "task": "cameras.tasks.live_sessions_sweep_task",
        "schedule": 60.0,
    },
    # Tip attachments that could not be stored or processed (storage down) are tried again.
    "retry-tip-attachments": {
        "task": "tips.tasks.attachments_retry_task",
        "schedule": 300.0,
    },
}

# Storage: S3 (django-storages) when a bucket is named, local files otherwise.
S3_BUCKET = env.str("LANTERN_S3_BUCKET", default="")
if S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.str("LANTERN_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("LANTERN_S3_REGION", default="") or None,
            "access_key": _secret("S3_ACCESS_KEY_ID"),
            "secret_key": _secret("S3_SECRET_ACCESS_KEY"),
            "addressing_style": env.str("LANTERN_S3_ADDRESSING_STYLE", default="path"),
            "default_acl": None,
            "querystring_expire": 300,
            # botocore signs presigned URLs with V2 for custom endpoints unless told; AWS wants V4.
            "signature_version": "s3v4",
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "media"), "base_url": "/media-not-served/"},
    }
# Presigned URLs are signed for the host they name, so browsers that cannot reach the endpoint above
# (a compose-internal `minio:9000`) get URLs signed for this public one instead.
S3_PUBLIC_ENDPOINT_URL = env.str("LANTERN_S3_PUBLIC_ENDPOINT_URL", default="")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

AUTH_USER_MODEL = "community.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env.bool("LANTERN_FAST_PASSWORD_HASHER", default=False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "community:login"
LOGIN_REDIRECT_URL = "community:home"
LOGOUT_REDIRECT_URL = "community:login"

# django-axes: lock an e-mail (in any case) from one client address after repeated failures, for a fixed
# cool-off: attempts refused during the lockout do not restart it, and a completed password reset ends it.
AXES_FAILURE_LIMIT = env.int("LANTERN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LANTERN_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "community.lockout.lockout_username"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "community.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "community.client_address.client_address"
AXES_ENABLED = env.bool("LANTERN_AXES_ENABLED", default=True)
# How many reverse proxies of our own stand in front of the app, each appending its peer's address to
# X-Forwarded-For: the client is that many entries from the right (community/client_address.py). 0 means the
# app is reached directly and the TCP peer is the client.
TRUSTED_PROXY_COUNT = env.int("LANTERN_TRUSTED_PROXY_COUNT", default=0)

OTP_TOTP_ISSUER = "Lantern"

EMAIL_CONFIG = env.email_url("LANTERN_EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("LANTERN_DEFAULT_FROM_EMAIL", default="lantern@localhost")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
# The agency's own zone: every time a page, e-mail or CSV shows is in it, with its label ("EST"), and every
# time a form takes is read in it. Stored times and standard formats (ISO 8601 in the API and JSON, HTTP
# headers) stay UTC or carry their offset; sharing schedules are read in each site's own zone.
AGENCY_TIME_ZONE = env.str("LANTERN_AGENCY_TIME_ZONE", default="America/Detroit")
ZoneInfo(AGENCY_TIME_ZONE)  # an unknown zone stops the start with a clear error, not the first tip
TIME_ZONE = AGENCY_TIME_ZONE
USE_I18N = True
USE_TZ = True

REST_FRAMEWORK = {
    # The token class first, so that anonymous API calls get 401 with `WWW-Authenticate: Bearer`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "community.api_auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Bounded: ?limit= above 500 is clamped, a non-number or a huge offset is a 400 (community/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "community.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lantern API",
    "DESCRIPTION": "Partner cameras, sharing agreements, health and the audit trail.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from drf-spectacular-sidecar's static files: the docs page loads nothing from the internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Lantern's own settings.
FIELD_ENCRYPTION_KEYS = env.list("LANTERN_FIELD_ENCRYPTION_KEYS", default=[]) or [
    k for k in [_secret("FIELD_ENCRYPTION_KEY")] if k
]
TERMS_VERSION = env.str("LANTERN_TERMS_VERSION", default="2026-11")
PROBE_TIMEOUT_S = env.float("LANTERN_PROBE_TIMEOUT_S", default=10.0)
PROBE_INTERVAL_S = env.float("LANTERN_PROBE_INTERVAL_S", default=300.0)
# Stream addresses on loopback, private, link-local or shared networks are refused (an owner could otherwise
# make the server fetch its own internal services). Deployments whose cameras are on a LAN the server shares
# turn this on, or list just those networks; cloud metadata addresses stay refused either way.
STREAM_ALLOW_PRIVATE = env.bool("LANTERN_STREAM_ALLOW_PRIVATE", default=False)
STREAM_ALLOWED_NETWORKS = env.list("LANTERN_STREAM_ALLOWED_NETWORKS", default=[])
for _network in STREAM_ALLOWED_NETWORKS:
    ipaddress.ip_network(_network, strict=False)  # a mistyped network stops the start, not the first enrolment
# No base map by default: a public tile server is the internet, which Lantern never needs. The maps say so
# and how to set one (README: "Maps"); the cameras and alerts are drawn either way.
MAP_TILE_URL = env.str("LANTERN_MAP_TILE_URL", default="")
MAP_TILE_ATTRIBUTION = env.str("LANTERN_MAP_TILE_ATTRIBUTION", default="")
MAP_CENTER = env.list("LANTERN_MAP_CENTER", cast=float, default=[42.3314, -83.0458])
INVITATION_DAYS = env.int("LANTERN_INVITATION_DAYS", default=7)

# Live view (WHEP relay). ICE host candidates are only these addresses (aioice would otherwise offer
# every interface); a 1:1 NAT deployment adds its public address.
RELAY_ICE_ADDRESSES = env.list("LANTERN_RELAY_ICE_ADDRESSES", default=["127.0.0.1"])
RELAY_PUBLIC_ADDRESS = env.str("LANTERN_RELAY_PUBLIC_ADDRESS", default="") or None
RELAY_MAX_VIEWERS = env.int("LANTERN_RELAY_MAX_VIEWERS", default=200)
RELAY_GRACE_S = env.float("LANTERN_RELAY_GRACE_S", default=10.0)
# This relay's own base URL and id, for the 307 that sends a viewer to the relay owning a camera.
RELAY_URL = env.str("LANTERN_RELAY_URL", default=SITE_URL)
RELAY_ID = env.str("LANTERN_RELAY_ID", default="") or RELAY_URL
RELAY_HEARTBEAT_S = env.float("LANTERN_RELAY_HEARTBEAT_S", default=2.0)
LIVE_MAX_SESSIONS_PER_VIEWER = env.int("LANTERN_LIVE_MAX_SESSIONS_PER_VIEWER", default=16)
# How often open sessions are re-checked against the terms (schedule windows, alarm windows).
LIVE_RECHECK_S = env.float("LANTERN_LIVE_RECHECK_S", default=2.0)
# Each relay reports its open sessions (connected, bytes so far) this often, in one query; a session not
# reported for LIVE_STALE_S is closed by the beat sweep, and one not connected within
# LIVE_CONNECT_TIMEOUT_S is ended by its relay (and stops counting towards the per-viewer cap).
LIVE_REPORT_S = env.float("LANTERN_LIVE_REPORT_S", default=10.0)
LIVE_STALE_S = env.float("LANTERN_LIVE_STALE_S", default=60.0)
LIVE_CONNECT_TIMEOUT_S = env.float("LANTERN_LIVE_CONNECT_TIMEOUT_S", default=30.0)
STUN_URLS = env.list("LANTERN_STUN_URLS", default=[])
TURN_URLS = env.list("LANTERN_TURN_URLS", default=[])
# coturn's static-auth-secret: time-limited TURN credentials are derived from it per viewer.
TURN_SECRET = _secret("TURN_SECRET") or ""

# Recording: ~10 s MP4 segments cut on keyframes, spooled to local disk until storage takes them.
RECORDING_ENABLED = env.bool("LANTERN_RECORDING", default=True)
RECORDING_SEGMENT_S = env.float("LANTERN_RECORDING_SEGMENT_S", default=10.0)
RECORDING_SPOOL_DIR = Path(env.str("LANTERN_RECORDING_SPOOL_DIR", default=str(DATA_DIR / "spool")))
RECORDING_RESCAN_S = env.float("LANTERN_RECORDING_RESCAN_S", default=30.0)
# How far back a monitor may scrub a shared camera without an evidence request.
PLAYBACK_HOURS = env.int("LANTERN_PLAYBACK_HOURS", default=24)
# Presigned URLs (S3) and signed links (local files) for segments and evidence live this long at most.
MEDIA_URL_EXPIRE_S = min(env.int("LANTERN_MEDIA_URL_EXPIRE_S", default=300), 300)

# Evidence requests.
EVIDENCE_MAX_WINDOW_HOURS = env.float("LANTERN_EVIDENCE_MAX_WINDOW_HOURS", default=12.0)
# Case numbers as the agency writes them, e.g. 2026-001234; a regular expression matched in full.
EVIDENCE_CASE_NUMBER_PATTERN = env.str("LANTERN_EVIDENCE_CASE_NUMBER_PATTERN", default=r"[0-9]{4}-[0-9]{4,8}")
EVIDENCE_CASE_NUMBER_HINT = env.str("LANTERN_EVIDENCE_CASE_NUMBER_HINT", default="year-number, e.g. 2026-001234")
# How long Object Lock (compliance mode) keeps an exported file from being changed or deleted.
EVIDENCE_LOCK_DAYS = env.int("LANTERN_EVIDENCE_LOCK_DAYS", default=365)
# Ed25519 private key (PEM) that signs evidence manifests; derived from SECRET_KEY when unset (embedded).
EVIDENCE_SIGNING_KEY = _secret("EVIDENCE_SIGNING_KEY") or ""
# An export that has not finished after this long is taken to be dead and is claimed again.
EVIDENCE_EXPORT_LEASE_S = env.int("LANTERN_EVIDENCE_EXPORT_LEASE_S", default=1800)

# Analytics (alerts app): which detector, how many frames per second of video are looked at, and motion.
ANALYTICS_ENABLED = env.bool("LANTERN_ANALYTICS", default=True)
ANALYTICS_BACKEND = env.str("LANTERN_ANALYTICS_BACKEND", default="opencv")  # "opencv" or "yolo"
ANALYTICS_FPS = env.float("LANTERN_ANALYTICS_FPS", default=5.0)
ANALYTICS_MOTION_MIN_FRACTION = env.float("LANTERN_ANALYTICS_MOTION_MIN_FRACTION", default=0.002)
ANALYTICS_YOLO_WEIGHTS = env.str("LANTERN_ANALYTICS_YOLO_WEIGHTS", default="")
ANALYTICS_YOLO_MODEL = env.str("LANTERN_ANALYTICS_YOLO_MODEL", default="yolo11n.yaml")
ANALYTICS_THUMBNAILS = env.bool("LANTERN_ANALYTICS_THUMBNAILS", default=True)
# When more newer segments of a camera than this wait for analysis, the oldest are skipped and counted (shown on
# the camera's page): a worker that falls behind catches up on what is happening now. 6 is a minute of 10 s ones.
ANALYTICS_MAX_BACKLOG_SEGMENTS = env.int("LANTERN_ANALYTICS_MAX_BACKLOG_SEGMENTS", default=6)
# The cameras placed on the wall around an alert or a tip.
ALERT_NEARBY_RADIUS_M = env.float("LANTERN_ALERT_NEARBY_RADIUS_M", default=300.0)
# A sensor's signed timestamp may be this old at most (replayed requests are refused).
SENSOR_SIGNATURE_MAX_AGE_S = env.int("LANTERN_SENSOR_SIGNATURE_MAX_AGE_S", default=300)

# Anonymous tips. Attachment limits are per file; the rate limits are per client per hour, keyed on a coarse
# bucket of the address (a 20-bit HMAC with a daily key derived from SECRET_KEY and never stored; see
# tips/middleware.py). Wrong codenames are limited per tip and per client; past the count across all tips each
# client's budget shrinks (a slowdown, never a lockout for everyone). Follow-ups are limited per tip and client.
TIP_MAX_ATTACHMENTS = env.int("LANTERN_TIP_MAX_ATTACHMENTS", default=5)
TIP_MAX_IMAGE_MB = env.int("LANTERN_TIP_MAX_IMAGE_MB", default=15)
TIP_MAX_VIDEO_MB = env.int("LANTERN_TIP_MAX_VIDEO_MB", default=200)
TIP_RATE_PER_HOUR = env.int("LANTERN_TIP_RATE_PER_HOUR", default=10)
# scrypt's work factor for codename hashes (a power of two; see tips/services.py for why 2**12).
TIP_CODENAME_SCRYPT_N = env.int("LANTERN_TIP_CODENAME_SCRYPT_N", default=2**10)
TIP_CODENAME_GUESSES_PER_TIP_PER_HOUR = env.int("LANTERN_TIP_CODENAME_GUESSES_PER_TIP_PER_HOUR", default=5)
TIP_CODENAME_GUESSES_PER_CLIENT_PER_HOUR = env.int("LANTERN_TIP_CODENAME_GUESSES_PER_CLIENT_PER_HOUR", default=20)
TIP_CODENAME_GUESSES_PER_HOUR = env.int("LANTERN_TIP_CODENAME_GUESSES_PER_HOUR", default=500)
TIP_CODENAME_GUESSES_PER_CLIENT_UNDER_PRESSURE = env.int(
    "LANTERN_TIP_CODENAME_GUESSES_PER_CLIENT_UNDER_PRESSURE", default=3
)
TIP_FOLLOW_UPS_PER_TIP_PER_HOUR = env.int("LANTERN_TIP_FOLLOW_UPS_PER_TIP_PER_HOUR", default=10)
TIP_FOLLOW_UPS_PER_CLIENT_PER_HOUR = env.int("LANTERN_TIP_FOLLOW_UPS_PER_CLIENT_PER_HOUR", default=20)
TIP_FOLLOW_UP_MB_PER_HOUR = env.int("LANTERN_TIP_FOLLOW_UP_MB_PER_HOUR", default=2 * TIP_MAX_VIDEO_MB)
# The beat's retry (every 5 minutes) queues failed attachments again, and pending ones whose task message was
# lost once they have waited this long; one queued again this many times is given up: its raw upload deleted
# and the tipster told on the thread (48: four hours of failures, or a day of lost messages).
TIP_ATTACHMENT_PENDING_RETRY_S = env.int("LANTERN_TIP_ATTACHMENT_PENDING_RETRY_S", default=1800)
TIP_ATTACHMENT_MAX_REQUEUES = env.int("LANTERN_TIP_ATTACHMENT_MAX_REQUEUES", default=48)

# Request sizes (config/asgi.py refuses a larger Content-Length at once with 413 and stops reading a chunked
# body past the cap, before Django spools anything to disk; docker/nginx.conf caps the same). The tip form and
# follow-up take the tip attachment limits; every other route (sensor ingest, WHEP/WHIP, the APIs) a small cap.
REQUEST_MAX_MB = env.int("LANTERN_REQUEST_MAX_MB", default=10)
TIP_UPLOAD_REQUEST_MAX_MB = TIP_MAX_ATTACHMENTS * max(TIP_MAX_VIDEO_MB, TIP_MAX_IMAGE_MB) + 1
# Form fields and request.body outside files: the largest legitimate one (an SDP offer, a tip's text) is far less.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# A few over the tip limit, so that six files get the form's own message rather than a bare 400.
DATA_UPLOAD_MAX_NUMBER_FILES = TIP_MAX_ATTACHMENTS + 5

# Production hardening; `manage.py check --deploy` must be clean when LANTERN_DEBUG is off.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("LANTERN_BEHIND_PROXY", default=False) else None
)
SECURE_SSL_REDIRECT = env.bool("LANTERN_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("LANTERN_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Pages' Content-Security-Policy (community/middleware.py) allows this host, the map tiles and the object store;
# relays that answer WHEP on another host (LANTERN_RELAY_URL of each) must be added here for live view to connect.
CSP_CONNECT_SRC = env.list("LANTERN_CSP_CONNECT_SRC", default=[])

# Who gets an e-mail when a page fails (never for the tip routes: see LOGGING's tip_routes_excluded).
ADMINS = [("Lantern administrator", address) for address in env.list("LANTERN_ADMINS", default=[])]

# Every handler carries the tip filters: addresses are redacted from anything logged about the tip routes (the
# servers' access lines included), and error reports by e-mail stay off those routes altogether.
_TIP_FILTERS = ["tip_addresses"]
_LOG_LEVEL = env.str("LANTERN_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "tip_addresses": {"()": "tips.middleware.TipAddressFilter"},
        "tip_routes_excluded": {"()": "tips.middleware.TipRoutesExcluded"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": _TIP_FILTERS},
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", "tip_routes_excluded", *_TIP_FILTERS],
        },
    },
    "root": {"handlers": ["console"], "level": _LOG_LEVEL},
    "loggers": {
        # Replaces Django's default handlers for its own loggers (whose mail_admins has no tip filter).
        "django": {"handlers": ["mail_admins"], "level": _LOG_LEVEL, "propagate": True},
        "axes": {"level": "WARNING"},
        # The servers' own lines name the client; through the console handler the tip routes' are redacted.
        # Its children (uvicorn.error) inherit this level: LANTERN_LOG_LEVEL rules the server's lines too.
        "uvicorn": {"handlers": ["console"], "level": _LOG_LEVEL, "propagate": False},
        "uvicorn.access": {"handlers": ["console"], "propagate": False},
        "django.server": {"handlers": ["console"], "propagate": False},
    },
}
