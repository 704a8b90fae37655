"""The portal's one settings module. Every value comes from the environment through portal.env.Env,
which fails loudly on a bad value. Names are listed in README.md ("Configuration")."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env()

DEBUG = env.get_bool("DEBUG", False)
TESTING = env.get_bool("PORTAL_TESTING", False)

# --- Secrets: never a default outside DEBUG -------------------------------------------------------
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"  # noqa: S105 - DEBUG only  # nosec B105
_DEV_FIELD_KEY = "Wm9vcGxhLWRldi1vbmx5LWZpZWxkLWtleS0xMjM0NTY="  # noqa: S105 - DEBUG only

SECRET_KEY = env.get_str("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: set SECRET_KEY to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), or set DEBUG=1 for local work."
        )
    SECRET_KEY = _DEV_SECRET_KEY
# Rotating SECRET_KEY (docs/operations.md): the old key goes here for a while, so signed-in sessions, password-reset
# and e-mail confirmation links signed with it stay valid; new signatures use SECRET_KEY only.
SECRET_KEY_FALLBACKS = env.get_list("SECRET_KEY_FALLBACKS")

FIELD_ENCRYPTION_KEYS = env.get_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set: set it to one or more comma-separated Fernet keys, newest first "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
        )
    FIELD_ENCRYPTION_KEYS = [_DEV_FIELD_KEY]
for _index, _key in enumerate(FIELD_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS: key number {_index} is not a valid Fernet key (32 url-safe base64-encoded bytes)."
        ) from None

ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS")
PORT = env.get_int("PORT", 8000, minimum=1, maximum=65535)
SITE_URL = env.get_str("SITE_URL", f"http://127.0.0.1:{PORT}")
DEMO_PASSWORD: str = env.get_str("DEMO_PASSWORD", "") or ""  # seed_demo: a printed random one when unset

# --- Services ---------------------------------------------------------------------------------------
_database_url = env.get_url("DATABASE_URL", schemes=("postgres", "postgresql", "pgsql"))
if not _database_url:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set: set it to postgresql://USER@HOST:PORT/NAME, or start the embedded servers "
        "with `make run` / `make test` (python -m portal.devservices run -- COMMAND)."
    )
DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env.get_int("DB_CONN_MAX_AGE", 600, minimum=0))}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.get_int("DB_CONNECT_TIMEOUT", 5, minimum=1)
if TESTING:
    # The audit trail's trigger refuses TRUNCATE except where this is set: the suite's flush between
    # transactional tests truncates every table (portal/migrations/0003_auditevent_append_only.py).
    DATABASES["default"]["OPTIONS"]["options"] = "-c portal.allow_audit_truncate=on"

REDIS_URL = env.get_url("REDIS_URL", schemes=("redis", "rediss"))
if not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_URL is not set: set it to redis://HOST:PORT/DB, or start the embedded servers with `make run` / `make test`."
    )
REQUIRE_SERVICES = env.get_bool("REQUIRE_SERVICES", False)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.get_str("CACHE_KEY_PREFIX", "portal"),
        "TIMEOUT": 300,
    }
}

# --- Applications -----------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "django_celery_beat",
    "csp",
    "portal",
    "accounts",
    "evaluations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.QueryParameterMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.UserSessionActivityMiddleware",  # allauth's UserSessionsMiddleware, at most once a minute
    "accounts.middleware.MFARequiredMiddleware",
    "portal.middleware.ApplicationErrorMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
                "portal.context_processors.portal",
            ],
        },
    }
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- allauth: invitation-only accounts, MFA for everyone -------------------------------------------
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = env.get_int("REAUTHENTICATION_TIMEOUT", 300, minimum=30)
# Per account ("key": the email, or the user for MFA codes) a handful of failures; per IP generous, so one
# person mistyping does not lock out an office behind one address. Counted in the Redis cache.
ACCOUNT_RATE_LIMITS = {
    "login": "60/m/ip",
    "login_failed": "30/m/ip,5/5m/key",
    "reset_password": "5/m/ip,3/m/key",  # a rate limit, not a password  # nosec B105
}
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_REAUTHENTICATION_METHODS = ("password", "mfa")  # never "a code sent by email"
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
# The code forms audit attempts the rate limit refuses (accounts/mfa_forms.py).
MFA_FORMS = {"authenticate": "accounts.mfa_forms.AuthenticateForm",
             "reauthenticate": "accounts.mfa_forms.ReauthenticateForm"}
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
MFA_TOTP_ISSUER = "Joint Testing Portal"
MFA_RECOVERY_CODE_COUNT = 10
MFA_TOTP_TOLERANCE = 1
USERSESSIONS_TRACK_ACTIVITY = True
# A session's last activity is written at most this often per session and client (accounts.middleware); 0: on
# every request, as allauth's own middleware does.
USERSESSION_ACTIVITY_SECONDS = env.get_int("USERSESSION_ACTIVITY_SECONDS", 60, minimum=0)
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

# --- Internationalisation ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE: str = env.get_str("TIME_ZONE", "UTC") or "UTC"
USE_I18N = True
# Sentence case for allauth's own strings (GOV.UK style): locale/en_GB/LC_MESSAGES/django.po, compiled .mo committed.
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

# --- Static and media -------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("govuk", NODE_MODULES / "govuk-frontend" / "dist" / "govuk"),
    ("htmx", NODE_MODULES / "htmx.org" / "dist"),
]
# GOV.UK Frontend's compiled CSS asks for /assets/fonts and /assets/images at the site root.
WHITENOISE_ROOT = NODE_MODULES / "govuk-frontend" / "dist" / "govuk"
WHITENOISE_USE_FINDERS = DEBUG or TESTING
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Run logs and uploads go to an S3-compatible bucket (django-storages) when S3_BUCKET is set.
S3_BUCKET = env.get_str("S3_BUCKET") or ""
if S3_BUCKET:
    _s3_access_key = env.get_str("S3_ACCESS_KEY_ID") or ""
    _s3_secret_key = env.get_str("S3_SECRET_ACCESS_KEY") or ""
    if not DEBUG and not (_s3_access_key and _s3_secret_key):
        raise ImproperlyConfigured(
            "S3_BUCKET is set but S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are not: set both to the bucket's "
            "credentials, or unset S3_BUCKET to keep files under MEDIA_ROOT."
        )
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.get_url("S3_ENDPOINT_URL", schemes=("http", "https")),
            "region_name": env.get_str("S3_REGION"),
            "access_key": _s3_access_key or None,
            "secret_key": _s3_secret_key or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
MEDIA_ROOT = Path(env.get_str("MEDIA_ROOT", str(BASE_DIR / "media")) or BASE_DIR / "media")
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# JSON bodies (API) and JSON text in form fields: at most this many bytes and levels of nesting (portal/parsers.py).
JSON_MAX_BYTES = env.get_int("JSON_MAX_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE, minimum=1024, maximum=512 * 1024 * 1024)
JSON_MAX_DEPTH = env.get_int("JSON_MAX_DEPTH", 32, minimum=2, maximum=500)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Security headers -------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.get_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
SECURE_SSL_REDIRECT = env.get_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env.get_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env.get_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env.get_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
if env.get_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"

# --- REST API ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "accounts.authentication.MFASessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api_permissions.IsMFAAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["portal.parsers.JSONParser", "portal.parsers.FormParser",
                               "portal.parsers.MultiPartParser"],
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Joint Testing Portal API",
    "DESCRIPTION": "Joint testing of AI models by the UK and US AI safety institutes.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "portal.api.schema_error_responses"],
}

# --- Celery: nothing lost -----------------------------------------------------------------------------
CELERY_BROKER_URL: str = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.get_int("CELERY_TASK_TIME_LIMIT", 6 * 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = env.get_int(
    "CELERY_TASK_SOFT_TIME_LIMIT", max(CELERY_TASK_TIME_LIMIT - 300, CELERY_TASK_TIME_LIMIT * 9 // 10), minimum=5
)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT.")
CELERY_VISIBILITY_TIMEOUT = env.get_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 3600, minimum=1)
if CELERY_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_VISIBILITY_TIMEOUT}s) must be longer than CELERY_TASK_TIME_LIMIT "
        f"({CELERY_TASK_TIME_LIMIT}s), or a long task would be delivered twice."
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_DEFAULT_QUEUE = env.get_str("CELERY_QUEUE", "portal")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Runs: a worker's lease on an item, items in flight at once, the reconciler's period (evaluations/tasks/runs.py)
# and the largest Inspect log an import accepts.
RUNS_LEASE_SECONDS = env.get_int("RUNS_LEASE_SECONDS", 60, minimum=2)
RUNS_MAX_ITEMS_IN_FLIGHT = env.get_int("RUNS_MAX_ITEMS_IN_FLIGHT", 8, minimum=1)
RUNS_QUEUED_GRACE_SECONDS = env.get_int("RUNS_QUEUED_GRACE_SECONDS", 1800, minimum=1)
RUNS_IMPORT_MAX_BYTES = env.get_int("RUNS_IMPORT_MAX_BYTES", 512 * 1024 * 1024, minimum=1024)
# The audit trail's head is exported this often to storage outside the database (portal/anchors.py), so that
# `audit_verify` notices events deleted from the end of the trail: AUDIT_ANCHOR_PATH (a directory) when set, else the
# log storage (MEDIA_ROOT or the S3 bucket) under audit-anchors/.
AUDIT_ANCHOR_INTERVAL_SECONDS = env.get_int("AUDIT_ANCHOR_INTERVAL_SECONDS", 300, minimum=1)
AUDIT_ANCHOR_PATH: str = env.get_str("AUDIT_ANCHOR_PATH", "") or ""
# A run's JSON (GET /api/v1/runs/{id}/, polled by API clients) is kept this many seconds in the cache and shared by
# everyone who may see the run (who may is still decided on every request); 0 turns it off.
RUNS_API_CACHE_SECONDS = env.get_int("RUNS_API_CACHE_SECONDS", 1, minimum=0, maximum=60)
# How long a worker keeps trying to store an item's log while the storage refuses it (a full disk, S3 down).
RUNS_LOG_STORE_RETRY_SECONDS = env.get_int("RUNS_LOG_STORE_RETRY_SECONDS", 600, minimum=0)
# Test-only, off (0) by default: a pause inside each sample-ingestion batch's transaction, so that the fault suite
# can stop a worker in the middle of a batch (tests/faults/test_worker_faults.py).
RUNS_INGEST_PAUSE_MS = env.get_int("RUNS_INGEST_PAUSE_MS", 0, minimum=0, maximum=60_000)
# Search (docs/search.md): a search ranks only the first this many matching samples the index yields that the reader
# may see (its cost grows with this number: 1,000 ranked at 1,000,000 samples, a 2.7 ms page query, 5,000 took 35 ms;
# beyond the cap the ranked set is the first found, not the best, so a larger one buys little: docs/benchmarks.md
# section 7); beat sends the indexing of samples a lost task left unindexed every this many seconds.
SEARCH_RANK_MAX = env.get_int("SEARCH_RANK_MAX", 200, minimum=1, maximum=1_000_000)
SEARCH_INDEX_SWEEP_SECONDS = env.get_int("SEARCH_INDEX_SWEEP_SECONDS", 300, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "runs-reconcile": {
        "task": "evaluations.run_items_reconcile",
        "schedule": float(env.get_int("RUNS_RECONCILE_SECONDS", 30, minimum=1)),
    },
    "search-index-sweep": {
        "task": "evaluations.samples_search_index_sweep",
        "schedule": float(SEARCH_INDEX_SWEEP_SECONDS),
    },
    "audit-anchor-export": {
        "task": "portal.audit_anchor_export",
        "schedule": float(AUDIT_ANCHOR_INTERVAL_SECONDS),
    },
}
READYZ_WORKER_TIMEOUT: float = float(env.get_int("READYZ_WORKER_TIMEOUT_MS", 1500, minimum=100)) / 1000

# --- E-mail -----------------------------------------------------------------------------------------
EMAIL_BACKEND = env.get_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.get_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.get_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
DEFAULT_FROM_EMAIL = env.get_str("DEFAULT_FROM_EMAIL", "portal@localhost")

# --- Model endpoints ----------------------------------------------------------------------------------
MODEL_ENDPOINT_ALLOWLIST = env.get_networks("MODEL_ENDPOINT_ALLOWLIST")
DATASET_UPLOAD_MAX_BYTES = env.get_int("DATASET_UPLOAD_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)

# --- Logging ------------------------------------------------------------------------------------------
LOG_LEVEL = env.get_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # WeasyPrint logs every layout step of a report at INFO.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "weasyprint": {"level": "WARNING"},
                "fontTools": {"level": "WARNING"}},
}
