"""Every list page makes the same number of queries whatever the number of rows (no N+1)."""

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django import Settings

from mailings.models import Attempt, Delivery
from mailings.tests.world import make_attempt, make_mailing, make_message, make_recipient
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cache(settings: Settings) -> None:
    # These tests count the queries of computing a page, not of serving its cached copy (test_cache.py).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


def _fill(owner: User, start: int, stop: int) -> None:
    """Rows numbered start..stop-1 of every kind, each mailing with recipients, an attempt and deliveries."""
    for i in range(start, stop):
        recipient = make_recipient(owner, f"r{i}@example.com", full_name=f"Получатель {i}")
        message = make_message(owner, f"Тема {i}")
        mailing = make_mailing(owner, message=message, recipients=[recipient])
        make_attempt(
            mailing,
            states=[Delivery.State.SENT, Delivery.State.FAILED],
            status=Attempt.Status.SUCCESS if i % 2 else Attempt.Status.FAILURE,
        )


def _queries(client: Client, url: str) -> int:
    # Warm up first: per-process caches (content types, the blog's cached articles) fill on the first request.
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


PAGES: list[Callable[[], str]] = [
    lambda: reverse("home"),
    lambda: reverse("mailings:recipient_list"),
    lambda: reverse("mailings:recipient_list") + "?q=example",
    lambda: reverse("mailings:message_list"),
    lambda: reverse("mailings:mailing_list"),
    lambda: reverse("mailings:attempt_list"),
    lambda: reverse("mailings:attempt_list") + "?status=success",
    lambda: reverse("mailings:stats"),
]


def test_list_pages_do_not_query_per_row(client: Client, owner: User) -> None:
    client.force_login(owner)
    _fill(owner, 0, 3)
    small = {url(): _queries(client, url()) for url in PAGES}
    _fill(owner, 3, 30)
    large = {url(): _queries(client, url()) for url in PAGES}
    assert large == small


def test_the_home_page_for_visitors_does_not_query_per_row(client: Client, owner: User) -> None:
    _fill(owner, 0, 3)
    small = _queries(client, reverse("home"))
    _fill(owner, 3, 30)
    assert _queries(client, reverse("home")) == small


def test_an_attempt_page_does_not_query_per_delivery(client: Client, owner: User) -> None:
    client.force_login(owner)
    mailing = make_mailing(owner)
    few = make_attempt(mailing, states=[Delivery.State.SENT, Delivery.State.SENT, Delivery.State.FAILED])
    many = make_attempt(mailing, states=[Delivery.State.SENT, Delivery.State.FAILED] * 15)
    assert _queries(client, reverse("mailings:attempt_detail", args=[few.pk])) == _queries(
        client, reverse("mailings:attempt_detail", args=[many.pk])
    )
