"""Static files: hashed names from collectstatic, served by WhiteNoise with a year-long, immutable cache lifetime;
the unhashed name stays revalidated (it may change with the next deploy)."""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from whitenoise.middleware import WhiteNoiseMiddleware


@pytest.fixture
def collected(settings: Any, tmp_path: Path) -> WhiteNoiseMiddleware:
    """The production storage (config/settings.py with DEBUG off), collected into a scratch STATIC_ROOT."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)

    def not_found(request: HttpRequest) -> HttpResponse:
        return HttpResponse(status=404)

    return WhiteNoiseMiddleware(not_found)


def test_a_hashed_static_file_is_cached_for_a_year(collected: WhiteNoiseMiddleware) -> None:
    url = staticfiles_storage.url("css/vestnik.css")
    assert url != "/static/css/vestnik.css" and url.startswith("/static/css/vestnik.")

    response = collected(RequestFactory().get(url, headers={"accept-encoding": "gzip"}))

    assert response.status_code == 200
    assert "max-age=315360000" in response["Cache-Control"] and "immutable" in response["Cache-Control"]
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]


def test_the_unhashed_name_is_revalidated(collected: WhiteNoiseMiddleware) -> None:
    response = collected(RequestFactory().get("/static/css/vestnik.css"))

    assert response.status_code == 200
    assert "immutable" not in response["Cache-Control"]
    assert "max-age=60" in response["Cache-Control"]
