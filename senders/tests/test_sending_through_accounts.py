"""Two shops send, each through its own mailbox within its own limits; one's broken mailbox never stops the other."""

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from mailings.delivery.engine import StopReason, attempt_deliver, smtp_config
from mailings.delivery.status import mailing_sending_status
from mailings.models import Attempt, Delivery, SmtpAccountState
from mailings.tests.sending_support import make_run, states
from senders.tests.conftest import PASSWORD_A, PASSWORD_B
from senders.tests.support import AuthSmtpServer, account_for
from users.models import User

pytestmark = pytest.mark.django_db(transaction=False)

EMAILS_A = ("a1@example.com", "a2@example.com", "a3@example.com")
EMAILS_B = ("b1@example.com", "b2@example.com")


def _run_through(owner: User, account: Any, emails: tuple[str, ...]) -> Attempt:
    mailing, attempt = make_run(owner, emails)
    mailing.smtp_account = account
    mailing.save(update_fields=["smtp_account"])
    return attempt


def test_each_shop_sends_through_its_own_server_and_a_refused_login_pauses_only_its_own(
    owner: User, other_user: User, server_a: AuthSmtpServer, server_b: AuthSmtpServer, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    account_a = account_for(
        owner,
        server_a,
        name="Магазин А",
        login="shop@a.example",
        password=PASSWORD_A,
        from_email="shop@a.example",
        from_name="Магазин А",
        reply_to="help@a.example",
    )
    account_b = account_for(
        other_user, server_b, name="Shop B", login="shop@b.example", password=PASSWORD_B, from_email="shop@b.example"
    )
    attempt_a = _run_through(owner, account_a, EMAILS_A)
    attempt_b = _run_through(other_user, account_b, EMAILS_B)

    assert attempt_deliver(attempt_id=attempt_b.pk) == StopReason.PAUSED
    assert attempt_deliver(attempt_id=attempt_a.pk) == StopReason.IDLE

    # Shop A: every message through its own server, with its From and Reply-To, and the run finished.
    assert states(attempt_a) == dict.fromkeys(EMAILS_A, Delivery.State.SENT)
    attempt_a.refresh_from_db()
    assert attempt_a.status == Attempt.Status.SUCCESS
    assert sorted(r for m in server_a.handler.messages for r in m.rcpt_tos) == sorted(EMAILS_A)
    for message in server_a.handler.messages:
        assert message.mail_from == "shop@a.example"
        assert message.parsed["From"].addresses[0].addr_spec == "shop@a.example"
        assert message.parsed["From"].addresses[0].display_name == "Магазин А"
        assert str(message.parsed["Reply-To"]) == "help@a.example"
    # Shop B: its server refused the login; nothing was sent, nobody failed, its own breaker is open.
    assert server_b.handler.messages == []
    # smtplib tries each mechanism the server offers (PLAIN, LOGIN), always with B's own login.
    assert set(server_b.authenticator.tries) == {"shop@b.example"}
    assert set(states(attempt_b).values()) == {Delivery.State.PENDING}
    state_b = SmtpAccountState.objects.get(account=f"acct:{account_b.pk}")
    assert state_b.breaker_open_until is not None
    assert state_b.breaker_reason == "auth_failed"
    state_a = SmtpAccountState.objects.filter(account=f"acct:{account_a.pk}").first()
    assert state_a is None or state_a.breaker_open_until is None
    # The service account was never touched.
    assert not SmtpAccountState.objects.filter(account=smtp_config().account).exists()
    # B's page names the reason; A has nothing in progress.
    status_b = mailing_sending_status(mailing=attempt_b.mailing)
    assert status_b.paused and status_b.paused_reason == state_b.breaker_reason_text != ""
    # The passwords never reached the logs.
    assert PASSWORD_A not in caplog.text and PASSWORD_B not in caplog.text


def test_daily_limits_are_counted_per_account_and_kept_in_the_database(
    owner: User, other_user: User, server_a: AuthSmtpServer, settings: Any
) -> None:
    # Shop B's server for this test accepts its login.
    server_b = AuthSmtpServer(login="shop@b.example", password=PASSWORD_B).start()
    try:
        settings.SEND_RATE_PER_DAY = 1  # the service account's limit must not apply to owners' accounts
        account_a = account_for(
            owner,
            server_a,
            name="A",
            login="shop@a.example",
            password=PASSWORD_A,
            from_email="shop@a.example",
            per_day=2,
        )
        account_b = account_for(
            other_user,
            server_b,
            name="B",
            login="shop@b.example",
            password=PASSWORD_B,
            from_email="shop@b.example",
            per_day=5,
        )
        attempt_a = _run_through(owner, account_a, EMAILS_A)
        attempt_b = _run_through(other_user, account_b, EMAILS_B)

        assert attempt_deliver(attempt_id=attempt_a.pk) == StopReason.LIMITED
        assert attempt_deliver(attempt_id=attempt_b.pk) == StopReason.IDLE

        assert len(server_a.handler.messages) == 2
        assert len(server_b.handler.messages) == 2
        assert list(
            Delivery.objects.filter(attempt=attempt_a, state=Delivery.State.SENT).values_list("email", flat=True)
        )
        assert Delivery.objects.filter(attempt=attempt_a, state=Delivery.State.PENDING).count() == 1
        counts = dict(SmtpAccountState.objects.values_list("account", "day_count"))
        assert counts == {f"acct:{account_a.pk}": 2, f"acct:{account_b.pk}": 2}
        # A new task run (another worker, or after a restart) reads the counts back: still limited today.
        assert attempt_deliver(attempt_id=attempt_a.pk) == StopReason.LIMITED
        assert len(server_a.handler.messages) == 2
    finally:
        server_b.stop()


def test_the_password_is_stored_encrypted(owner: User, server_a: AuthSmtpServer) -> None:
    account = account_for(
        owner, server_a, name="A", login="shop@a.example", password=PASSWORD_A, from_email="shop@a.example"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM senders_smtpaccount WHERE id = %s", [account.pk])
        row = cursor.fetchone()
    assert row is not None
    assert not any(PASSWORD_A in str(value) for value in row)
    assert account.password_encrypted.startswith("gAAAAA")  # a Fernet token


def test_the_expected_finish_follows_the_accounts_own_limits(
    owner: User, server_a: AuthSmtpServer, settings: Any
) -> None:
    settings.SEND_RATE_PER_HOUR = 1000  # the service account's: must not be what the page uses
    account = account_for(
        owner, server_a, name="A", login="shop@a.example", password=PASSWORD_A, from_email="a@a.example", per_hour=2
    )
    attempt = _run_through(owner, account, EMAILS_A)

    status = mailing_sending_status(mailing=attempt.mailing)

    assert status.in_progress and status.remaining == 3 and not status.paused
    # Two this hour, the third in the next one.
    assert status.expected_finish_at is not None
    assert status.expected_finish_at >= timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def test_a_sender_name_with_line_breaks_cannot_inject_headers(owner: User, server_a: AuthSmtpServer) -> None:
    account = account_for(
        owner,
        server_a,
        name="A",
        login="shop@a.example",
        password=PASSWORD_A,
        from_email="shop@a.example",
        from_name="Магазин\r\nBcc: victim@example.com",
    )
    attempt = _run_through(owner, account, ("a1@example.com",))

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE

    (message,) = server_a.handler.messages
    assert message.rcpt_tos == ["a1@example.com"]
    assert message.parsed["Bcc"] is None
    assert message.parsed["From"].addresses[0].addr_spec == "shop@a.example"
