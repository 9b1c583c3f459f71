"""Settings, read from environment variables.

Every variable has a safe production default; a malformed value stops start-up with a
clear message (healthchecks style) instead of being silently ignored.
"""
from pathlib import Path
import os
import secrets

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent

# `yingji --help` must list the project's commands even on a machine not configured yet: the CLI
# sets YINGJI_HELP_ONLY=1 for help invocations only, and then a missing or malformed value is
# recorded in SETTINGS_PROBLEMS (and a placeholder used) instead of stopping; the CLI prints them.
HELP_ONLY = os.environ.get("YINGJI_HELP_ONLY") == "1"
SETTINGS_PROBLEMS: list[str] = []


def _fail(message: str, placeholder):
    if not HELP_ONLY:
        raise ImproperlyConfigured(message)
    SETTINGS_PROBLEMS.append(message)
    return placeholder


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    return _fail(f"{name} must be a boolean (true/false), got {raw!r}", default)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return _fail(f"{name} must be an integer, got {raw!r}", default)


def env_schedule(name: str, default: str) -> list[tuple[str, int]]:
    """``kind=seconds,kind=seconds`` → [(kind, seconds)]; an empty value turns the schedule off."""
    raw = os.environ.get(name, default).strip()
    result = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        kind, sep, seconds = part.partition("=")
        if not sep or not kind.strip() or not seconds.strip().isdigit() or int(seconds) < 60:
            return _fail(
                f"{name} must look like 'hazards.escalate_overdue=3600,stats.refresh=600' "
                f"(periods of at least 60 seconds), got {part!r}", [])
        result.append((kind.strip(), int(seconds)))
    return result


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or env_bool("YINGJI_INSECURE_DEV_KEY", False):
        SECRET_KEY = "insecure-dev-key-do-not-use-in-production"
    else:
        # (the placeholder of a help-only run is random: never a known key)
        SECRET_KEY = _fail("SECRET_KEY must be set (or DEBUG=true for local development)",
                           "help-only-" + secrets.token_urlsafe(32))

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

VAR_DIR = Path(os.environ.get("YINGJI_VAR_DIR", PROJECT_DIR / "var"))
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'yingji.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except Exception as exc:  # dj_database_url raises several types for bad URLs
    DATABASES = {"default": _fail(f"DATABASE_URL is not a valid database URL: {exc}",
                                  dj_database_url.parse("sqlite://:memory:"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL + immediate transactions: the worker and the server share one file safely.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("YINGJI_TEST_SQLITE", "")} if os.environ.get("YINGJI_TEST_SQLITE") else {}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["TEST"] = {"TEMPLATE": "template0", "CHARSET": "UTF8"}
    # Prepared statements for the hot statements only (yingji.core.hotsql, which asks for them
    # explicitly): everything else keeps client-side binding, which never prepares, whatever the
    # threshold. Off behind a transaction-pooling PgBouncer older than 1.21.
    if env_bool("YINGJI_PG_PREPARED", True):
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
else:
    DATABASES = {"default": _fail("DATABASE_URL must point to PostgreSQL or SQLite",
                                  dj_database_url.parse("sqlite://:memory:"))}

MEDIA_ROOT = Path(os.environ.get("YINGJI_MEDIA_ROOT", VAR_DIR / "media"))
STATIC_ROOT = Path(os.environ.get("YINGJI_STATIC_ROOT", VAR_DIR / "static"))
STATIC_URL = "/static/"
ATTACHMENT_MAX_BYTES = env_int("YINGJI_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ATTACHMENT_MAX_BYTES + 1024 * 1024  # the non-file fields of a request
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # larger uploaded files are spooled to a temporary file
# Upload guard (yingji.core.uploads): the whole request body, the site-import file, zip packages
# (.xlsx/.docx/.ods: checked from their central directory before anything is inflated) and the
# extent of an imported sheet (checked before python-calamine reads it).
IMPORT_MAX_BYTES = env_int("YINGJI_IMPORT_MAX_BYTES", 100 * 1024 * 1024)
UPLOAD_MAX_REQUEST_BYTES = env_int("YINGJI_UPLOAD_MAX_REQUEST_BYTES",
                                   max(10 * ATTACHMENT_MAX_BYTES, IMPORT_MAX_BYTES) + 1024 * 1024)
ARCHIVE_MAX_MEMBERS = env_int("YINGJI_ARCHIVE_MAX_MEMBERS", 5000)
ARCHIVE_MAX_UNCOMPRESSED_BYTES = env_int("YINGJI_ARCHIVE_MAX_UNCOMPRESSED_BYTES", 1024 * 1024 * 1024)
ARCHIVE_MAX_RATIO = env_int("YINGJI_ARCHIVE_MAX_RATIO", 100)
IMPORT_MAX_ROWS = env_int("YINGJI_IMPORT_MAX_ROWS", 300_000)
IMPORT_MAX_COLUMNS = env_int("YINGJI_IMPORT_MAX_COLUMNS", 200)
IMPORT_MAX_CELLS = env_int("YINGJI_IMPORT_MAX_CELLS", 20_000_000)
MAP_TILE_URL = os.environ.get("YINGJI_MAP_TILE_URL", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "yingji.core",
    "yingji.registry",
    "yingji.risk",
    "yingji.hazards",
    "yingji.checklists",
    "yingji.inspections",
    "yingji.supervision",
    "yingji.stats",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "yingji.core.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "yingji.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "yingji.core.middleware.ActorMiddleware",
    "yingji.core.uploads.UploadGuardMiddleware",
    "yingji.core.middleware.ErrorPageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "yingji.urls"
WSGI_APPLICATION = "yingji.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "yingji.core.context_processors.navigation",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env_bool("YINGJI_FAST_HASHER", False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if env_bool("YINGJI_COMPRESS_STATIC", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

# Security: HTTPS deployments set YINGJI_HTTPS=true to get secure cookies and HSTS.
HTTPS = env_bool("YINGJI_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = env_bool("YINGJI_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
BEHIND_PROXY = env_bool("YINGJI_BEHIND_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
# Behind proxies: how many reverse proxies append to X-Forwarded-For (nginx: $proxy_add_x_forwarded_for);
# the client address is that many entries from the right (core.middleware.client_ip).
TRUSTED_PROXIES = env_int("YINGJI_TRUSTED_PROXIES", 1)
if TRUSTED_PROXIES < 1:
    raise ImproperlyConfigured(f"YINGJI_TRUSTED_PROXIES must be at least 1, got {TRUSTED_PROXIES}")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("YINGJI_SESSION_SECONDS", 12 * 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts only from our static files, nothing inline; see
# core/csp_policy.py, core/security.py and docs/security.md.
from yingji.core.csp_policy import content_security_policy  # noqa: E402 - standard library only

CONTENT_SECURITY_POLICY = content_security_policy(MAP_TILE_URL)

# Failed-login throttling: after LOGIN_FAILURE_LIMIT failures of one account (from any address), or
# LOGIN_IP_FAILURE_LIMIT failures from one address (an office behind one NAT address shares it),
# within the window, further attempts are refused until the window passes. Failed API tokens count
# per address against LOGIN_IP_FAILURE_LIMIT too.
LOGIN_FAILURE_LIMIT = env_int("YINGJI_LOGIN_FAILURE_LIMIT", 5)
LOGIN_IP_FAILURE_LIMIT = env_int("YINGJI_LOGIN_IP_FAILURE_LIMIT", 50)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("YINGJI_LOGIN_FAILURE_WINDOW", 900)

# Background worker
WORKER_POLL_SECONDS = env_int("YINGJI_WORKER_POLL_SECONDS", 2)
JOB_MAX_ATTEMPTS = env_int("YINGJI_JOB_MAX_ATTEMPTS", 3)
JOB_LEASE_SECONDS = env_int("YINGJI_JOB_LEASE_SECONDS", 600)
# A running worker writes a heartbeat every JOB_HEARTBEAT_SECONDS (and extends the lease); a job
# whose heartbeat is older than JOB_HEARTBEAT_TIMEOUT belongs to a dead worker and is reclaimed.
JOB_HEARTBEAT_SECONDS = env_int("YINGJI_JOB_HEARTBEAT_SECONDS", 10)
JOB_HEARTBEAT_TIMEOUT = env_int("YINGJI_JOB_HEARTBEAT_TIMEOUT", 50)
if JOB_HEARTBEAT_SECONDS < 1 or JOB_HEARTBEAT_TIMEOUT < 3 * JOB_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("YINGJI_JOB_HEARTBEAT_TIMEOUT must be at least 3 × YINGJI_JOB_HEARTBEAT_SECONDS (≥ 1)")
# Retention (job core.cleanup): finished job rows, generated export files, uploaded import files.
JOB_RETENTION_DAYS = env_int("YINGJI_JOB_RETENTION_DAYS", 30)
JOB_FAILED_RETENTION_DAYS = env_int("YINGJI_JOB_FAILED_RETENTION_DAYS", 180)
EXPORT_RETENTION_DAYS = env_int("YINGJI_EXPORT_RETENTION_DAYS", 7)
IMPORT_RETENTION_DAYS = env_int("YINGJI_IMPORT_RETENTION_DAYS", 30)
for _name in ("JOB_RETENTION_DAYS", "JOB_FAILED_RETENTION_DAYS", "EXPORT_RETENTION_DAYS", "IMPORT_RETENTION_DAYS"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"YINGJI_{_name} must be at least 1 (days)")
# `yingji backup` writes its archives here unless --out is given.
BACKUP_DIR = Path(os.environ.get("YINGJI_BACKUP_DIR", VAR_DIR / "backups"))
# Periodic jobs the worker queues itself (one job per period slot, whatever the number of workers).
JOB_SCHEDULE = env_schedule("YINGJI_SCHEDULE",
                             "hazards.escalate_overdue=3600,hazards.remind_due=86400,stats.refresh=600,supervision.remind=3600,"
                             "registry.refresh_map=600,core.cleanup=86400")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("YINGJI_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
