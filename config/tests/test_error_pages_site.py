"""The refused-form (CSRF) page, the error pages' language and the favicon, as a visitor meets them."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from users.models import User

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def test_a_stale_form_gets_the_sites_page_that_leads_back_to_it(csrf_client: Client) -> None:
    csrf_client.get(reverse("users:login"))
    response = csrf_client.post(reverse("users:login"), {"username": "a@example.com", "password": "x"})
    page = response.content.decode()
    assert response.status_code == 403
    assert "Форма устарела" in page
    assert 'data-action="history-back"' in page
    assert "всё, что вы ввели, осталось на месте" in page
    assert "CSRF verification failed" not in page
    assert "js/vestnik.js" in page


def test_without_the_cookie_the_page_says_to_allow_cookies(csrf_client: Client) -> None:
    response = csrf_client.post(reverse("users:login"), {"username": "a@example.com", "password": "x"})
    assert response.status_code == 403
    assert "Разрешите cookie" in response.content.decode()
    # The page itself sets a fresh token cookie, which the form gets on the way back.
    assert "csrftoken" in response.cookies


def test_the_refused_form_page_speaks_english_to_an_english_reader(csrf_client: Client) -> None:
    csrf_client.get(reverse("users:login"))
    response = csrf_client.post(reverse("users:login"), {"username": "a"}, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert "The form has expired" in page
    assert "Back to the form" in page


def test_the_form_sent_again_with_the_current_cookie_token_goes_through(csrf_client: Client, owner: User) -> None:
    """What static/js/vestnik.js does on the way back: the form's token replaced by the cookie's value."""
    csrf_client.get(reverse("users:login"))
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(
        reverse("users:login"),
        {"username": owner.email, "password": "correct-horse-battery-staple", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


def test_the_server_error_page_follows_the_readers_language(client: Client, settings: object) -> None:
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override("en"):
        page = render_to_string("500.html")
    assert "Something went wrong" in page
    assert "Что-то пошло не так" not in page
    with translation.override("ru"):
        assert "Что-то пошло не так" in render_to_string("500.html")


def test_the_favicon_is_linked_and_favicon_ico_does_not_404(client: Client) -> None:
    page = client.get(reverse("home")).content.decode()
    assert 'rel="icon"' in page and "img/favicon.svg" in page
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("img/favicon.svg")
    assert (ROOT / "static" / "img" / "favicon.svg").is_file()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def request_log() -> Iterator[_Records]:
    handler = _Records()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_a_403_is_logged_in_one_line_without_a_traceback(client: Client, owner: User, request_log: _Records) -> None:
    client.force_login(owner)
    response = client.get(reverse("users:user_list"))
    assert response.status_code == 403
    forbidden = [r for r in request_log.records if getattr(r, "status_code", None) == 403]
    assert forbidden, [r.getMessage() for r in request_log.records]
    assert all(record.exc_info is None for record in forbidden)
