"""Settings of bench/pages.py: the real settings, their own SQLite file under var/bench/, and a trivial view."""

import os
from pathlib import Path

_BASE = Path(__file__).resolve().parent.parent
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_BASE / 'var' / 'bench' / 'pages.sqlite3'}")

from config.settings import *  # noqa: E402,F401,F403
from config.settings import STORAGES  # noqa: E402

ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest storage needs collectstatic; the pages' cost does not depend on it.
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
