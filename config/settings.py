"""Vestnik settings, read from the environment (and `.env` when present).

Every variable is documented in `.env.example`.
"""

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _drop_empty_settings() -> None:
    """A variable left empty (as in a copied .env.example) means "use the default"."""
    example = BASE_DIR / ".env.example"
    if not example.is_file():
        return
    for line in example.read_text(encoding="utf-8").splitlines():
        name = line.partition("=")[0].strip()
        if name and not name.startswith("#") and os.environ.get(name) == "":
            del os.environ[name]


_drop_empty_settings()

DEBUG = env.bool("DEBUG", default=False)

# Development commands that never serve a request nor sign anything need no secret.
_OFFLINE_COMMANDS = {"makemigrations", "makemessages", "compilemessages"}
_OFFLINE = Path(sys.argv[0]).name == "manage.py" and len(sys.argv) > 1 and sys.argv[1] in _OFFLINE_COMMANDS

# `make run` generates a secret once and keeps it here (git-ignored), so that every command run in this
# folder afterwards (`manage.py create_managers`, `manage.py shell`) signs with the same key.
SECRET_KEY_FILE = Path(env.str("SECRET_KEY_FILE", default=str(BASE_DIR / "var" / "secret_key")))
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY and SECRET_KEY_FILE.is_file():
    SECRET_KEY = SECRET_KEY_FILE.read_text(encoding="utf-8").strip()
if not SECRET_KEY:
    if not DEBUG and not _OFFLINE:
        # A clear message and a non-zero exit instead of a traceback.
        sys.stderr.write(
            "Vestnik cannot start: SECRET_KEY is not set. Set SECRET_KEY in the environment or in .env "
            "(see .env.example), run `make run` once (it keeps a generated key in var/secret_key), "
            "or set DEBUG=true for local development.\n"
        )
        raise SystemExit(2)
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_countries",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "django_apscheduler",
    "core",
    "csp",
    "users",
    "mailings",
    "senders",
    "moderation",
    "audience",
    "consents",
    "suppressions",
    "blog",
    "webhooks",
    "bounces",
    "api",
]
# django-ninja's templates and static files (the API docs page with its own Swagger UI, no CDN) come from its package
# folder, found without importing it: as an installed app it would be imported by every process at start-up, and with
# pydantic it weighs about 10 MB in each worker, which never serves the API (config/urls.py loads the API lazily).
_NINJA_DIR = Path(importlib.util.find_spec("ninja").submodule_search_locations[0])  # type: ignore[union-attr,index]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy on every response: scripts and styles come from our own static files only.
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Date-times on the signed-in user's clock (their profile's time zone).
    "core.middleware.user_time_zone",
    # Cache-Control: private, no-cache on every signed-in page that does not set its own.
    "core.middleware.private_when_signed_in",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After auth and messages: ends a blocked user's session with a message.
    "users.middleware.BlockedUserLogoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A retried API POST with the same Idempotency-Key gets the stored answer (api/idempotency.py).
    "api.idempotency.idempotency_middleware",
    # Last, as django-axes requires.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", _NINJA_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite file by default; DATABASE_URL switches to PostgreSQL.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
}
SQLITE_SYNCHRONOUS = env.str("SQLITE_SYNCHRONOUS", default="FULL").upper()
if SQLITE_SYNCHRONOUS not in {"FULL", "NORMAL"}:
    sys.stderr.write("Vestnik cannot start: SQLITE_SYNCHRONOUS must be FULL or NORMAL.\n")
    raise SystemExit(2)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, scheduler) write to one file: IMMEDIATE
    # transactions take the write lock up front instead of failing on upgrade
    # ("database is locked"), WAL lets readers run beside the single writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        # FULL: a committed write (e.g. "this message was handed to the server") survives a power
        # loss too, not only a crash of the process; NORMAL trades that for speed.
        "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={SQLITE_SYNCHRONOUS};",
    }
    DATABASES["default"].setdefault("TEST", {})
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "users:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Cache shared by all processes: Redis when configured, else the database
# (a per-process memory cache would show stale pages after the worker writes).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                # A cache that is away must not take the site down.
                "IGNORE_EXCEPTIONS": True,
            },
            "KEY_PREFIX": "vestnik",
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "vestnik_cache",
            "KEY_PREFIX": "vestnik",
            # The default 300 entries is a few users' pages (core/data_versions.py): culling would empty it constantly.
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }

# Background tasks: django.tasks API (django-tasks backport). Database backend
# by default; RQ when REDIS_URL is set and TASKS_BACKEND=rq.
TASK_QUEUES = ["default", "mail"]
TASKS_BACKEND = env.str("TASKS_BACKEND", default="rq" if REDIS_URL else "database")
if TASKS_BACKEND == "rq":
    TASKS = {
        "default": {
            "BACKEND": "django_tasks_rq.RQBackend",
            "QUEUES": TASK_QUEUES,
        }
    }
    RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600} for name in TASK_QUEUES}
    # Brings the `rqworker` command.
    INSTALLED_APPS.append("django_rq")
else:
    TASKS = {
        "default": {
            "BACKEND": "django_tasks_db.DatabaseBackend",
            "QUEUES": TASK_QUEUES,
        }
    }

# Internationalisation: Russian by default, English available.
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English times in 24-hour form, as everywhere else on the pages (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static", _NINJA_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
# Uploaded files served by Django itself: in development, and under `make run` (one machine, no reverse proxy).
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG)

# Email. Without EMAIL_HOST, mail goes to the local development mail sink
# (`manage.py mailsink`, started by `make run`) that writes every message as a
# readable file into var/mail/.
EMAIL_BACKEND = "mailings.delivery.mail_backend.EmailBackend"
MAILSINK_DIR = env.path("MAILSINK_DIR", default=BASE_DIR / "var" / "mail")
MAILSINK_PORT = env.int("MAILSINK_PORT", default=1025)
EMAIL_HOST = env.str("EMAIL_HOST", default="") or "127.0.0.1"
EMAIL_USES_MAILSINK = not env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=MAILSINK_PORT if EMAIL_USES_MAILSINK else 25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
# Seconds per SMTP command; never unlimited (a stalled server must not hang a worker).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Vestnik <noreply@vestnik.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The sender of account emails (confirmations, resets, notices), e.g. "Vestnik <accounts@example.com>"; sent through
# the service's own SMTP server. Empty: DEFAULT_FROM_EMAIL. Mailings always use their SMTP account's address.
ACCOUNT_FROM_EMAIL = env.str("ACCOUNT_FROM_EMAIL", default="")
# The name given in EHLO and the domain of Message-IDs; default: the domain of DEFAULT_FROM_EMAIL
# (never the machine's host name, which receiving servers score as spam). `check --deploy` warns
# about .local and localhost names.
EMAIL_HELO_DOMAIN = env.str("EMAIL_HELO_DOMAIN", default="")
MESSAGE_ID_DOMAIN = env.str("MESSAGE_ID_DOMAIN", default="")
# Optional DKIM signing inside Vestnik, for relays that do not sign (README, «DKIM»): all three or none.
DKIM_SELECTOR = env.str("DKIM_SELECTOR", default="")
DKIM_DOMAIN = env.str("DKIM_DOMAIN", default="")
DKIM_PRIVATE_KEY_FILE = env.str("DKIM_PRIVATE_KEY_FILE", default="")
# Unsubscribe links in mailing messages (suppressions/links.py) are absolute: the worker has no request to
# take the host from. In production the site's public https address.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The mailto: part of List-Unsubscribe (RFC 2369); empty: only the https one-click link is offered.
UNSUBSCRIBE_MAILTO = env.str("UNSUBSCRIBE_MAILTO", default="")
# Test sends («Отправить тестовое письмо») per user within TEST_SEND_WINDOW seconds.
TEST_SEND_LIMIT = env.int("TEST_SEND_LIMIT", default=5)
TEST_SEND_WINDOW = env.int("TEST_SEND_WINDOW", default=600)

# Owners' own SMTP accounts (senders/): their passwords are encrypted at rest with Fernet keys from
# SMTP_PASSWORD_KEY (comma-separated; the first encrypts, every one decrypts: add a new key in front to rotate,
# then `manage.py smtp_passwords_rotate`). Without it and with DEBUG, a development key is derived from
# SECRET_KEY (a system check warns); without it in production, passwords cannot be saved (`check --deploy` warns).
SMTP_PASSWORD_KEYS = [key.strip() for key in env.str("SMTP_PASSWORD_KEY", default="").split(",") if key.strip()]
SMTP_PASSWORD_KEY_DERIVED = not SMTP_PASSWORD_KEYS and DEBUG
# May a mailing without an account of its owner send through the service account (EMAIL_*)? Default yes, so
# the mailings created before owners had accounts keep sending.
ALLOW_SERVICE_ACCOUNT_FOR_MAILINGS = env.bool("ALLOW_SERVICE_ACCOUNT_FOR_MAILINGS", default=True)

# Bounce and complaint processing (bounces/): owners' IMAP mailboxes are polled every BOUNCE_POLL_SECONDS;
# a hard bounce or a complaint suppresses the address at once, soft bounces after BOUNCE_SOFT_LIMIT of them;
# a sent delivery reads «принято сервером» for BOUNCE_LATE_DAYS (a relay may still bounce it). Processed
# reports are flagged \Seen and $VestnikProcessed, and deleted only with BOUNCE_DELETE_PROCESSED.
BOUNCE_POLL_SECONDS = env.int("BOUNCE_POLL_SECONDS", default=300)
BOUNCE_SOFT_LIMIT = env.int("BOUNCE_SOFT_LIMIT", default=3)
BOUNCE_LATE_DAYS = env.int("BOUNCE_LATE_DAYS", default=5)
BOUNCE_DELETE_PROCESSED = env.bool("BOUNCE_DELETE_PROCESSED", default=False)
BOUNCE_IMAP_TIMEOUT = env.float("BOUNCE_IMAP_TIMEOUT", default=30.0)
# How far back a report without our Message-ID is matched by its recipient's address to a sent delivery.
BOUNCE_MATCH_DAYS = env.int("BOUNCE_MATCH_DAYS", default=14)
# The service's shared bounce mailbox (the service SMTP account's, EMAIL_*): read like an owner's, each report
# credited to the owner its Message-ID names. Off while BOUNCE_SERVICE_IMAP_HOST is empty.
BOUNCE_SERVICE_IMAP_HOST = env.str("BOUNCE_SERVICE_IMAP_HOST", default="")
BOUNCE_SERVICE_IMAP_PORT = env.int("BOUNCE_SERVICE_IMAP_PORT", default=993)
BOUNCE_SERVICE_IMAP_SECURITY = env.str("BOUNCE_SERVICE_IMAP_SECURITY", default="ssl")  # ssl, starttls or none
BOUNCE_SERVICE_IMAP_LOGIN = env.str("BOUNCE_SERVICE_IMAP_LOGIN", default="")
BOUNCE_SERVICE_IMAP_PASSWORD = env.str("BOUNCE_SERVICE_IMAP_PASSWORD", default="")
BOUNCE_SERVICE_IMAP_FOLDER = env.str("BOUNCE_SERVICE_IMAP_FOLDER", default="INBOX")

# Sending limits of the service account (EMAIL_*; 0 = no limit). Yandex allows 500 a day. Owners' accounts
# carry their own limits (senders.SmtpAccount).
SEND_RATE_PER_SECOND = env.float("SEND_RATE_PER_SECOND", default=0)
SEND_RATE_PER_HOUR = env.int("SEND_RATE_PER_HOUR", default=0)
SEND_RATE_PER_DAY = env.int("SEND_RATE_PER_DAY", default=0)
# Delivery engine (mailings/delivery/engine.py, ledger.py). Back-off between retries of a transient
# failure, seconds (the last value repeats); retries stop at the mailing's end_at or after
# SEND_RETRY_MAX_AGE seconds since the run started, and the delivery becomes failed.
SEND_RETRY_BACKOFF = env.list("SEND_RETRY_BACKOFF", cast=int, default=[60, 300, 1800, 7200, 21600])
SEND_RETRY_MAX_AGE = env.int("SEND_RETRY_MAX_AGE", default=3 * 24 * 3600)
# Overall deadline for one message (connect to final reply), on top of EMAIL_TIMEOUT per command.
SEND_MESSAGE_DEADLINE = env.float("SEND_MESSAGE_DEADLINE", default=120.0)
# The most deliveries claimed per conditional UPDATE (a task run starts at 50 and claims about half a second's
# worth at the speed it sees: engine.next_batch_size), and the longest one task run keeps sending
# before it re-enqueues itself (keeps SIGTERM and fairness between attempts prompt).
SEND_BATCH_SIZE = env.int("SEND_BATCH_SIZE", default=500)
SEND_TASK_MAX_SECONDS = env.float("SEND_TASK_MAX_SECONDS", default=60.0)
SEND_HANDOVER_GROUP = env.int("SEND_HANDOVER_GROUP", default=25)  # hand-over marks per commit; 1: one per message
# Per-worker journals of final dots and outcomes, not forced to disk (mailings/delivery/journal.py): after a
# worker is killed, the sweep reads them to report only the message in flight as unknown. Must be on the
# scheduler's host (or shared with it); elsewhere the sweep falls back to the hand-over group rule.
SEND_JOURNAL_DIR = env.str("SEND_JOURNAL_DIR", default=str(BASE_DIR / "var" / "journal"))
# Tasks enqueued when a run starts: how many workers may share one attempt from the start.
SEND_TASKS_PER_ATTEMPT = env.int("SEND_TASKS_PER_ATTEMPT", default=2)
# Circuit breaker: consecutive connection failures that open it, and how long it stays open
# (seconds, growing with each consecutive opening; the last value repeats).
SEND_BREAKER_THRESHOLD = env.int("SEND_BREAKER_THRESHOLD", default=3)
SEND_BREAKER_BACKOFF = env.list("SEND_BREAKER_BACKOFF", cast=int, default=[30, 60, 120, 300, 600, 1800])
# A database task row RUNNING for this many seconds belongs to a worker killed outright: the scheduler marks it
# failed (mailings/worker_recovery.py). 0: twice the longest a task of ours can take.
TASK_STALE_AFTER = env.int("TASK_STALE_AFTER", default=0)
# The scheduler wakes an attempt with due retries at most once per this many seconds.
SEND_WAKE_INTERVAL = env.int("SEND_WAKE_INTERVAL", default=30)
# Account emails (confirmation, reset) that the server's trouble stopped are tried again after these pauses.
ACCOUNT_EMAIL_RETRY_BACKOFF = env.list("ACCOUNT_EMAIL_RETRY_BACKOFF", cast=int, default=[60, 300, 1800, 7200, 21600])
# How long the scheduler's tick executions stay in the admin (django-apscheduler's job executions).
SCHEDULER_HISTORY_HOURS = env.int("SCHEDULER_HISTORY_HOURS", default=24)

# Accounts.
ACCOUNT_CONFIRMATION_MAX_AGE = env.int("ACCOUNT_CONFIRMATION_MAX_AGE", default=3 * 24 * 3600)
# REST API (api/): requests per token per window (0: no limit), the window in seconds, how long an Idempotency-Key's
# answer is kept.
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=600)
API_RATE_WINDOW = env.int("API_RATE_WINDOW", default=60)
API_IDEMPOTENCY_TTL = env.int("API_IDEMPOTENCY_TTL", default=24 * 3600)
API_PATH_PREFIX = "/api/"
ACCOUNT_RESEND_INTERVAL = env.int("ACCOUNT_RESEND_INTERVAL", default=60)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)
# Reset links emailed per hour for requests from one client address (each address: one per ACCOUNT_RESEND_INTERVAL).
PASSWORD_RESET_PER_IP = env.int("PASSWORD_RESET_PER_IP", default=10)
AVATAR_MAX_BYTES = env.int("AVATAR_MAX_BYTES", default=2 * 1024 * 1024)
BLOG_PREVIEW_MAX_BYTES = env.int("BLOG_PREVIEW_MAX_BYTES", default=5 * 1024 * 1024)

# Login brute-force protection (django-axes): lock after AXES_FAILURE_LIMIT
# failures for the same account from the same address, for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "users.axes.axes_username"
AXES_CLIENT_IP_CALLABLE = "users.axes.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "users/locked_out.html"
AXES_VERBOSE = False

# Production hardening; see README (Production).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_HTTPS_PROXY", default=False) else None
# Reverse proxies in front of Vestnik that append to X-Forwarded-For (the login lockout counts per client address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if SECURE_PROXY_SSL_HEADER else 0)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Nothing inline (no inline scripts, event-handler attributes or style attributes; static/js/vestnik.js does the
# little there is), nothing from elsewhere: the service works on a closed network. `data:` images are Bootstrap's
# icons inside its CSS. config/tests/test_csp.py and tests/e2e/test_csp.py hold every page to it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# A refused form (stale page, another tab signed in or out) gets the site's page that leads back to the form.
CSRF_FAILURE_VIEW = "mailings.views.errors.csrf_failure"

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FILE = env.str("LOG_FILE", default="")
# json: one JSON object per line (production); plain: readable lines (default with DEBUG).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "core.logs.RedactSecretsFilter"},
        "client_errors_brief": {"()": "core.logs.ClientErrorWithoutTraceback"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"},
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # A 403 or 404 is the visitor's doing, not a bug: one line each, no traceback.
        "django.request": {"filters": ["client_errors_brief"]},
        "apscheduler": {"level": "WARNING"},
        # aiosmtpd (the development mail sink) logs every connection at INFO.
        "mail.log": {"level": "WARNING"},
    },
}
if LOG_FILE:
    LOGGING["handlers"]["file"] = {
        "class": "logging.handlers.RotatingFileHandler",
        "filename": LOG_FILE,
        "maxBytes": 10 * 1024 * 1024,
        "backupCount": 5,
        "formatter": "json",
        "filters": ["redact"],
    }
    LOGGING["root"]["handlers"].append("file")
    LOGGING["loggers"]["django"]["handlers"].append("file")

SITE_NAME = "Vestnik"
# The site's own address, for absolute links in emails (the finish report) and webhook payloads.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Webhooks (webhooks/): pauses before each retry of a message the endpoint did not take with a 2xx, seconds
# (Standard Webhooks / Svix schedule: the first try at once, then these); then the message has failed.
WEBHOOKS_RETRY_SCHEDULE = env.list("WEBHOOKS_RETRY_SCHEDULE", cast=int, default=[5, 300, 1800, 7200, 18000, 36000])
# Seconds one request may take (connect, and each read); never unlimited.
WEBHOOKS_TIMEOUT = env.float("WEBHOOKS_TIMEOUT", default=10.0)
# An endpoint is disabled after this many failed messages in a row (every retry used up), and its owner told.
WEBHOOKS_DISABLE_AFTER = env.int("WEBHOOKS_DISABLE_AFTER", default=5)
# May endpoints resolve to private, loopback, link-local or other non-global addresses? Off: such requests are
# refused (server-side request forgery). Tests and closed networks turn it on.
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False)
# Endpoints one owner may have (each event is one message per endpoint).
WEBHOOKS_MAX_ENDPOINTS = env.int("WEBHOOKS_MAX_ENDPOINTS", default=10)
# Days a sent or failed webhook message and its delivery log are kept (the scheduler's hourly prune).
WEBHOOKS_LOG_DAYS = env.int("WEBHOOKS_LOG_DAYS", default=30)

# Imports of recipients (CSV, XLSX): the largest file accepted and the most rows read from it.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=1_000_000)
# An import that has not moved for this long (its worker was killed, or no worker runs) may be stopped by its owner.
IMPORT_STALL_SECONDS = env.int("IMPORT_STALL_SECONDS", default=600)
# An upload never confirmed (the owner left at the preview) is deleted with its file after this many hours.
IMPORT_UNCONFIRMED_HOURS = env.int("IMPORT_UNCONFIRMED_HOURS", default=24)


# Public subscribe forms (consents/): how long a confirmation link lives, at most one confirmation email per address
# per SUBSCRIBE_RESEND_INTERVAL seconds (no mail bombing through anybody's form), subscriptions per hour from one
# client address.
SUBSCRIBE_CONFIRM_MAX_AGE = env.int("SUBSCRIBE_CONFIRM_MAX_AGE", default=3 * 24 * 3600)
SUBSCRIBE_RESEND_INTERVAL = env.int("SUBSCRIBE_RESEND_INTERVAL", default=600)
SUBSCRIBE_PER_IP = env.int("SUBSCRIBE_PER_IP", default=20)
