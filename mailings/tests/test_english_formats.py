"""English pages: one 24-hour time format everywhere, and «attempts» (of a mailing) apart from «tries» (per address)."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from mailings.models import Attempt, Delivery
from mailings.tests.world import make_attempt, make_mailing
from users.models import User

pytestmark = pytest.mark.django_db

EVENING = datetime(2026, 3, 10, 16, 41, 32, tzinfo=UTC)  # 19:41:32 in Moscow


def _english(client: Client, url: str) -> str:
    return client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_an_english_attempt_page_uses_one_24_hour_format(client: Client, owner: User) -> None:
    with time_machine.travel(EVENING, tick=False):
        mailing = make_mailing(owner)
        attempt = make_attempt(mailing, states=[Delivery.State.RETRY_WAIT], status=Attempt.Status.IN_PROGRESS)
        attempt.started_at = EVENING
        attempt.save(update_fields=["started_at"])
        Delivery.objects.filter(attempt=attempt).update(next_try_at=EVENING, tries=1)
    client.force_login(owner)
    page = _english(client, reverse("mailings:attempt_detail", args=[attempt.pk]))
    assert "p.m." not in page and "a.m." not in page
    assert "03/10/2026 19:41" in page  # the breadcrumb and the retry time, in the English short format
    assert "10.03 19:41" not in page  # the Russian format once hard-coded for the retry time
    assert ">Tries<" in page


def test_the_statistics_count_attempts_not_tries(client: Client, owner: User) -> None:
    make_attempt(make_mailing(owner), states=[Delivery.State.SENT])
    client.force_login(owner)
    page = _english(client, reverse("mailings:stats"))
    assert ">Attempts<" in page and "Tries" not in page
