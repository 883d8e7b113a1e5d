"""Account emails (users.tasks.send_account_email) under the service account's rules: retried, limited, paused."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings as SettingsWrapper

from mailings.delivery.breaker import breaker_open
from mailings.delivery.engine import smtp_config
from mailings.delivery.reasons import reason
from mailings.models import SmtpAccountState
from tests.support import SmtpServer, run_tasks
from users.tasks import send_account_email

pytestmark = pytest.mark.django_db

TO = "olga@example.com"


def _queue(subject: str = "Подтвердите адрес") -> None:
    send_account_email.enqueue(TO, subject, "Ссылка: https://example.com/x", "")


def _database_backend(settings: SettingsWrapper) -> None:
    if not settings.TASKS["default"]["BACKEND"].startswith("django_tasks_db"):
        pytest.skip("reads the database task backend's rows (the server leg runs the same code on RQ)")


def test_it_is_sent_once_marked_as_an_automatic_message(smtp_server: SmtpServer) -> None:
    _queue()
    run_tasks()
    assert [m.rcpt_tos for m in smtp_server.messages] == [[TO]]
    assert smtp_server.messages[0].parsed["Auto-Submitted"] == "auto-generated"


def test_account_emails_may_have_their_own_sender(smtp_server: SmtpServer, settings: SettingsWrapper) -> None:
    settings.ACCOUNT_FROM_EMAIL = "Вестник — учётные записи <accounts@vestnik.example>"
    _queue()
    run_tasks()
    (message,) = smtp_server.messages
    assert message.mail_from == "accounts@vestnik.example"
    assert message.parsed["From"].addresses[0].addr_spec == "accounts@vestnik.example"
    # (Python's decoder doubles the space kept inside an encoded word: compose._encoded_words.)
    assert " ".join(message.parsed["From"].addresses[0].display_name.split()) == "Вестник — учётные записи"


def test_a_server_that_is_away_gets_it_later_with_back_off(
    smtp_server: SmtpServer, settings: SettingsWrapper, caplog: pytest.LogCaptureFixture
) -> None:
    _database_backend(settings)
    settings.ACCOUNT_EMAIL_RETRY_BACKOFF = [60, 300]
    smtp_server.handler.on_mail = lambda sender: "421 4.3.2 Service not available"
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _queue()
        run_tasks()
    assert smtp_server.messages == []
    waiting = DBTaskResult.objects.filter(status="READY").get()
    assert waiting.run_after is not None and waiting.run_after >= start + timedelta(seconds=30)
    # The account's breaker opened with the server's reply: mailings pause too.
    assert "421 4.3.2" in SmtpAccountState.objects.get(account=smtp_config().account).breaker_reason_text

    smtp_server.handler.on_mail = None
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        run_tasks()
    assert [m.rcpt_tos for m in smtp_server.messages] == [[TO]]


def test_it_gives_up_when_the_retries_run_out(
    smtp_server: SmtpServer, settings: SettingsWrapper, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ACCOUNT_EMAIL_RETRY_BACKOFF = []
    settings.SEND_BREAKER_BACKOFF = [1]
    smtp_server.handler.on_mail = lambda sender: "421 4.3.2 Service not available"
    with caplog.at_level(logging.ERROR, logger="users.tasks"):
        _queue()
        run_tasks()
    assert smtp_server.messages == []
    assert "given up" in caplog.text


def test_it_counts_in_the_service_accounts_daily_limit(smtp_server: SmtpServer, settings: SettingsWrapper) -> None:
    _database_backend(settings)
    settings.SEND_RATE_PER_DAY = 1
    _queue("Первое")
    _queue("Второе")
    run_tasks()
    assert [m.subject for m in smtp_server.messages] == ["Первое"]
    waiting = DBTaskResult.objects.filter(status="READY").get()
    # Midnight in TIME_ZONE: the day's quota is spent.
    assert waiting.run_after is not None and waiting.run_after > timezone.now() + timedelta(minutes=1)
    assert SmtpAccountState.objects.get(account=smtp_config().account).day_count == 1


def test_an_open_breaker_holds_it_until_the_probe(smtp_server: SmtpServer, settings: SettingsWrapper) -> None:
    _database_backend(settings)
    until = breaker_open(
        account=smtp_config().account, reason=reason("connection_refused", error="x"), now=timezone.now()
    )
    _queue()
    run_tasks()
    assert smtp_server.messages == []
    assert DBTaskResult.objects.filter(status="READY").get().run_after == until
    with time_machine.travel(until + timedelta(seconds=1), tick=False):
        run_tasks()
    assert len(smtp_server.messages) == 1
    assert SmtpAccountState.objects.get(account=smtp_config().account).breaker_open_until is None
