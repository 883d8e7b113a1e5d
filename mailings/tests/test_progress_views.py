"""The live progress block of the mailing and attempt pages (mailings/views/progress.py), polled by htmx."""

import pytest
from django.test import Client
from django.urls import reverse

from mailings.delivery.counts import attempt_counts_recount
from mailings.models import Attempt, Delivery
from mailings.tests.sending_support import make_run
from users.models import User

pytestmark = pytest.mark.django_db

S = Delivery.State


def _urls(attempt: Attempt) -> list[str]:
    return [
        reverse("mailings:mailing_progress", args=[attempt.mailing_id]),
        reverse("mailings:attempt_progress", args=[attempt.pk]),
    ]


def _half_done(owner: User) -> Attempt:
    _mailing, attempt = make_run(owner, ["a@example.com", "b@example.com", "c@example.com", "d@example.com"])
    Delivery.objects.filter(attempt=attempt, email__in=["a@example.com", "b@example.com"]).update(
        state=S.SENT, smtp_code=250, smtp_reply="250 2.0.0 Ok"
    )
    attempt_counts_recount(attempt_id=attempt.pk)
    return attempt


def test_a_run_in_progress_shows_its_progress_and_keeps_polling(client: Client, owner: User) -> None:
    attempt = _half_done(owner)
    client.force_login(owner)
    for url in _urls(attempt):
        response = client.get(url, headers={"hx-request": "true"})
        html = response.content.decode()
        assert response.status_code == 200 and "HX-Refresh" not in response
        assert f'hx-get="{url}"' in html and 'hx-trigger="every 2s"' in html
        assert f'<progress class="w-100" id="run-progress-{attempt.pk}" max="4" value="2">' in html
        assert "готово 2 из 4 (50%)" in html and "Доставлено: 2" in html and "В очереди: 2" in html


def test_the_pages_start_the_polling_while_a_run_is_in_progress(client: Client, owner: User) -> None:
    attempt = _half_done(owner)
    client.force_login(owner)
    pages = [
        reverse("mailings:mailing_detail", args=[attempt.mailing_id]),
        reverse("mailings:attempt_detail", args=[attempt.pk]),
    ]
    for page, url in zip(pages, _urls(attempt), strict=True):
        html = client.get(page).content.decode()
        assert f'hx-get="{url}"' in html and "vendor/htmx/htmx.min.js" in html


def test_a_finished_run_stops_the_polling_and_reloads_the_page(client: Client, owner: User) -> None:
    attempt = _half_done(owner)
    Delivery.objects.filter(attempt=attempt).update(state=S.SENT)
    Attempt.objects.filter(pk=attempt.pk).update(status=Attempt.Status.SUCCESS)
    client.force_login(owner)
    for url in _urls(attempt):
        response = client.get(url, headers={"hx-request": "true"})
        assert response["HX-Refresh"] == "true"
        assert "hx-trigger" not in response.content.decode()


def test_it_requires_login(client: Client, owner: User) -> None:
    attempt = _half_done(owner)
    for url in _urls(attempt):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("users:login"))


def test_it_refuses_other_users_runs(client: Client, owner: User, other_user: User) -> None:
    attempt = _half_done(owner)
    client.force_login(other_user)
    for url in _urls(attempt):
        assert client.get(url).status_code == 404


def test_a_manager_sees_anyones_progress(client: Client, owner: User, manager: User) -> None:
    attempt = _half_done(owner)
    client.force_login(manager)
    for url in _urls(attempt):
        assert "готово 2 из 4" in client.get(url).content.decode()


def test_it_is_get_only(client: Client, owner: User) -> None:
    attempt = _half_done(owner)
    client.force_login(owner)
    for url in _urls(attempt):
        assert client.post(url).status_code == 405
