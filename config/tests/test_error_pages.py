from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path

from config.urls import urlpatterns as site_urls


def _explode(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    raise RuntimeError(f"login failed with {settings.EMAIL_HOST_PASSWORD} and {settings.SECRET_KEY}")


urlpatterns = [path("explode/", _explode), *site_urls]


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_an_error_page_is_friendly_and_shows_no_secret(settings: Any) -> None:
    settings.EMAIL_HOST_PASSWORD = "app-Password-7391"
    client = Client(raise_request_exception=False)
    response = client.get("/explode/")
    page = response.content.decode()
    assert response.status_code == 500
    assert "Что-то пошло не так" in page
    assert "app-Password-7391" not in page
    assert settings.SECRET_KEY not in page
    assert "Traceback" not in page


@pytest.mark.django_db
def test_a_missing_page_says_so_in_the_site_layout(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Страница не найдена" in response.content.decode()
