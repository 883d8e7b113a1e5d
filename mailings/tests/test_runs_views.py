"""«Отправить сейчас» and «Повторить для неудачных»: POST only, owner only, returns at once, the worker sends."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from mailings.delivery.engine import attempt_deliver
from mailings.models import Attempt, Delivery, Mailing, SmtpAccountState
from mailings.tests.sending_support import fast_settings, make_run
from tests.support import SmtpServer, run_tasks
from users.models import User

pytestmark = pytest.mark.django_db


def _mailing(owner: User) -> Mailing:
    mailing, attempt = make_run(owner, ["a@example.com", "b@example.com"])
    attempt.delete()
    return mailing


def test_send_now_creates_a_run_returns_at_once_and_the_worker_sends_it(
    client: Client, owner: User, server: SmtpServer, django_capture_on_commit_callbacks: Any
) -> None:
    mailing = _mailing(owner)
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mailings:mailing_send", args=[mailing.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("mailings:mailing_detail", args=[mailing.pk])
    assert "Отправка запущена" in response.content.decode()
    attempt = Attempt.objects.get(mailing=mailing)
    assert attempt.trigger == Attempt.Trigger.MANUAL and attempt.total_count == 2
    # The request itself sent nothing: the worker does.
    assert server.messages == []
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.RUNNING
    run_tasks()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUCCESS and len(server.messages) == 2


def test_send_now_is_post_only_and_requires_login(client: Client, owner: User) -> None:
    mailing = _mailing(owner)
    url = reverse("mailings:mailing_send", args=[mailing.pk])
    assert client.post(url).status_code == 302 and "login" in client.post(url)["Location"]
    client.force_login(owner)
    assert client.get(url).status_code == 405
    assert not Attempt.objects.exists()


def test_send_now_refuses_other_users_mailing_even_for_a_manager(
    client: Client, owner: User, other_user: User, manager: User
) -> None:
    mailing = _mailing(owner)
    for user, status in ((other_user, 404), (manager, 403)):
        client.force_login(user)
        assert client.post(reverse("mailings:mailing_send", args=[mailing.pk])).status_code == status
    assert not Attempt.objects.exists()


def test_send_now_refuses_a_disabled_mailing_with_a_message(client: Client, owner: User) -> None:
    mailing = _mailing(owner)
    Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)
    client.force_login(owner)
    response = client.post(reverse("mailings:mailing_send", args=[mailing.pk]), follow=True)
    assert "Рассылка отключена" in response.content.decode()
    assert not Attempt.objects.exists()


def test_the_mailing_page_has_the_button_and_shows_a_paused_run(client: Client, owner: User, settings: Any) -> None:
    mailing, _attempt = make_run(owner)
    fast_settings(settings, port=9)
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert reverse("mailings:mailing_send", args=[mailing.pk]) in html
    assert "Идёт отправка" in html
    until = timezone.now() + timedelta(minutes=5)
    SmtpAccountState.objects.create(
        account="127.0.0.1:9",
        breaker_open_until=until,
        breaker_reason="connection_refused",
        breaker_reason_params={"error": "[Errno 111] Connection refused"},
    )
    html = client.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert "Отправка приостановлена: почтовый сервер недоступен" in html
    assert date_format(timezone.localtime(until), "SHORT_DATETIME_FORMAT") in html


def test_the_page_shows_the_expected_finish_under_sending_limits(client: Client, owner: User, settings: Any) -> None:
    mailing, _attempt = make_run(owner, [f"r{i}@example.com" for i in range(5)])
    fast_settings(settings, port=9)
    settings.SEND_RATE_PER_HOUR = 2
    client.force_login(owner)
    html = client.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert "отправка ожидается к" in html


def test_retry_failed_starts_a_run_for_failed_and_unknown_only(
    client: Client, owner: User, server: SmtpServer, django_capture_on_commit_callbacks: Any
) -> None:
    server.handler.on_rcpt = lambda a: "550 5.1.1 User unknown" if a == "b@example.com" else None
    _mailing_obj, attempt = make_run(owner, ["a@example.com", "b@example.com", "c@example.com"])
    attempt_deliver(attempt_id=attempt.pk)
    Delivery.objects.filter(attempt=attempt, email="c@example.com").update(state=Delivery.State.UNKNOWN)
    Attempt.objects.filter(pk=attempt.pk).update(unknown_count=1)
    client.force_login(owner)
    html = client.get(reverse("mailings:attempt_detail", args=[attempt.pk])).content.decode()
    assert reverse("mailings:attempt_retry", args=[attempt.pk]) in html

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mailings:attempt_retry", args=[attempt.pk]))
    retry = Attempt.objects.get(retry_of=attempt)
    assert response["Location"] == reverse("mailings:attempt_detail", args=[retry.pk])
    assert retry.trigger == Attempt.Trigger.RETRY
    assert sorted(Delivery.objects.filter(attempt=retry).values_list("email", flat=True)) == [
        "b@example.com",
        "c@example.com",
    ]


def test_retry_failed_is_owner_only_and_post_only(client: Client, owner: User, other_user: User) -> None:
    _m, attempt = make_run(owner, ["a@example.com"])
    Delivery.objects.filter(attempt=attempt).update(state=Delivery.State.FAILED)
    Attempt.objects.filter(pk=attempt.pk).update(status=Attempt.Status.FAILURE)
    url = reverse("mailings:attempt_retry", args=[attempt.pk])
    client.force_login(other_user)
    assert client.post(url).status_code == 404
    client.force_login(owner)
    assert client.get(url).status_code == 405
    assert not Attempt.objects.filter(retry_of=attempt).exists()


def test_retry_failed_with_nothing_to_retry_says_so(client: Client, owner: User) -> None:
    _m, attempt = make_run(owner, ["a@example.com"])
    Delivery.objects.filter(attempt=attempt).update(state=Delivery.State.SENT)
    Attempt.objects.filter(pk=attempt.pk).update(status=Attempt.Status.SUCCESS)
    client.force_login(owner)
    response = client.post(reverse("mailings:attempt_retry", args=[attempt.pk]), follow=True)
    assert "нет неудачных получателей" in response.content.decode()
    assert not Attempt.objects.filter(retry_of=attempt).exists()


def test_a_double_click_on_send_now_starts_one_run(client: Client, owner: User) -> None:
    mailing = _mailing(owner)
    client.force_login(owner)
    url = reverse("mailings:mailing_send", args=[mailing.pk])

    client.post(url)
    response = client.post(url, follow=True)

    assert Attempt.objects.filter(mailing=mailing).count() == 1
    assert "уже отправляется" in response.content.decode()


def test_send_now_works_again_once_the_previous_run_is_over(client: Client, owner: User) -> None:
    mailing = _mailing(owner)
    client.force_login(owner)
    url = reverse("mailings:mailing_send", args=[mailing.pk])
    client.post(url)
    Attempt.objects.filter(mailing=mailing).update(status=Attempt.Status.SUCCESS)

    client.post(url)

    assert Attempt.objects.filter(mailing=mailing).count() == 2


def test_an_attempt_is_retried_once_and_the_button_goes_away(client: Client, owner: User) -> None:
    _m, attempt = make_run(owner, ["a@example.com", "b@example.com"])
    Delivery.objects.filter(attempt=attempt).update(state=Delivery.State.FAILED)
    Attempt.objects.filter(pk=attempt.pk).update(status=Attempt.Status.FAILURE, failed_count=2)
    client.force_login(owner)
    url = reverse("mailings:attempt_retry", args=[attempt.pk])

    client.post(url)
    Attempt.objects.filter(retry_of=attempt).update(status=Attempt.Status.FAILURE)
    response = client.post(url, follow=True)

    assert Attempt.objects.filter(retry_of=attempt).count() == 1
    assert "уже повторили" in response.content.decode()
    assert url not in client.get(reverse("mailings:attempt_detail", args=[attempt.pk])).content.decode()
