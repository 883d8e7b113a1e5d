"""The API's URLs are read only when wanted: a worker building the site's links never loads django-ninja."""

import os
import subprocess
import sys
from pathlib import Path

from django.urls import resolve, reverse

from config.urls import API_APP_NAME, API_NAMESPACE

BASE_DIR = Path(__file__).resolve().parent.parent.parent

_WORKER_LIKE = """
import sys
import django
django.setup()
from django.urls import resolve, reverse
import mailings.delivery.tasks  # what a worker imports
links = [reverse("suppressions:unsubscribe", args=["t"]), reverse("users:login"), resolve("/accounts/login/").url_name]
print("site", links, "ninja" in sys.modules, "pydantic" in sys.modules)
print("api", reverse("api-v1:openapi-json"), resolve("/api/v1/openapi.json").url_name, "ninja" in sys.modules)
"""


def test_reversing_and_resolving_the_sites_pages_does_not_load_the_api_and_the_api_still_resolves() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "test-only"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", _WORKER_LIKE], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    site, api = out.stdout.splitlines()
    assert site == "site ['/unsubscribe/t/', '/accounts/login/', 'login'] False False"
    assert api == "api /api/v1/openapi.json openapi-json True"


def test_the_lazy_include_carries_django_ninjas_own_app_name_and_namespace() -> None:
    from api.api import api

    _patterns, app_name, namespace = api.urls
    assert (app_name, namespace) == (API_APP_NAME, API_NAMESPACE)
    assert reverse(f"{API_NAMESPACE}:openapi-json") == "/api/v1/openapi.json"
    assert resolve("/api/v1/openapi.json").namespace == API_NAMESPACE
