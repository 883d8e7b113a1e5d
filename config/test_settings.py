"""Settings for the test suite: the real settings with test-only secrets and fast hashing."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")

from config.settings import *  # noqa: E402,F403
from config.settings import BASE_DIR, DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Nothing in a test may reach a real mail server by accident: port 9 (discard) refuses.
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = 9
EMAIL_TIMEOUT = 5.0
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Multi-process tests (workers, schedulers) need a file database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}
# Encrypts the test accounts' SMTP passwords (senders/crypto.py); 32 bytes, url-safe base64.
SMTP_PASSWORD_KEYS = ["dmVzdG5pay10ZXN0cy1vbmx5LW5vdC1hLXNlY3JldCE="]
SMTP_PASSWORD_KEY_DERIVED = False
