"""Managers disable and enable an owner's SMTP account, audited; its runs wait meanwhile and end at end_at."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mailings.delivery.engine import SENDER_PAUSE_SECONDS, StopReason, attempt_deliver
from mailings.delivery.status import mailing_sending_status
from mailings.models import Attempt, Delivery, Mailing
from mailings.tests.sending_support import make_run, states
from moderation.services import ModerationRefused, smtp_account_disable, smtp_account_enable
from senders.models import SmtpAccount
from senders.tests.conftest import PASSWORD_A
from senders.tests.support import AuthSmtpServer, account_for
from users.models import AuditEvent, User


def _account(owner: User, server: AuthSmtpServer) -> SmtpAccount:
    return account_for(
        owner, server, name="Магазин", login="shop@a.example", password=PASSWORD_A, from_email="shop@a.example"
    )


def test_disabling_is_audited_needs_a_reason_and_happens_once(
    owner: User, manager: User, server_a: AuthSmtpServer
) -> None:
    account = _account(owner, server_a)
    with pytest.raises(ModerationRefused):
        smtp_account_disable(account=account, actor=manager, reason="  ")

    smtp_account_disable(account=account, actor=manager, reason="жалобы на спам")

    account.refresh_from_db()
    assert not account.is_enabled and account.disabled_by == manager and account.disabled_reason == "жалобы на спам"
    event = AuditEvent.objects.get()
    assert event.action == AuditEvent.Action.SMTP_ACCOUNT_DISABLED and event.target_user == owner
    assert event.target_type == AuditEvent.TargetType.SMTP_ACCOUNT and event.target_id == account.pk
    with pytest.raises(ModerationRefused):
        smtp_account_disable(account=account, actor=manager, reason="ещё раз")

    smtp_account_enable(account=account, actor=manager)
    account.refresh_from_db()
    assert account.is_enabled and account.disabled_reason == ""
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SMTP_ACCOUNT_ENABLED).count() == 1


def test_a_manager_disables_through_the_page_and_the_owner_cannot(
    owner: User, manager: User, server_a: AuthSmtpServer
) -> None:
    account = _account(owner, server_a)
    owner_client, manager_client = Client(), Client()
    owner_client.force_login(owner)
    manager_client.force_login(manager)
    url = reverse("senders:smtp_account_disable", args=[account.pk])

    assert owner_client.post(url, {"reason": "сам"}).status_code == 403
    response = manager_client.post(url, {"reason": "жалобы на спам"})

    assert response.status_code == 302
    account.refresh_from_db()
    assert not account.is_enabled
    page = owner_client.get(reverse("senders:smtp_account_detail", args=[account.pk])).content.decode()
    assert "жалобы на спам" in page and "Учётная запись отключена" in page
    # The manager reads the account but cannot edit it.
    assert manager_client.get(reverse("senders:smtp_account_update", args=[account.pk])).status_code == 403


def test_a_run_through_a_disabled_account_waits_and_goes_on_once_it_is_enabled(
    owner: User, manager: User, server_a: AuthSmtpServer
) -> None:
    account = _account(owner, server_a)
    mailing, attempt = make_run(owner, ["a@example.com", "b@example.com"])
    Mailing.objects.filter(pk=mailing.pk).update(smtp_account=account)
    smtp_account_disable(account=account, actor=manager, reason="жалобы на спам")

    before = timezone.now()
    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    assert server_a.handler.messages == []
    assert set(states(attempt).values()) == {Delivery.State.PENDING}
    wait_until = Delivery.objects.filter(attempt=attempt).values_list("next_try_at", flat=True).first()
    assert wait_until is not None and wait_until >= before + timedelta(seconds=SENDER_PAUSE_SECONDS)
    mailing.refresh_from_db()
    status = mailing_sending_status(mailing=mailing)
    assert status.paused and status.account_paused
    assert "Магазин" in status.paused_reason and "жалобы на спам" in status.paused_reason
    page = Client()
    page.force_login(owner)
    assert "жалобы на спам" in page.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()

    smtp_account_enable(account=account, actor=manager)
    with time_machine.travel(wait_until + timedelta(seconds=1)):
        assert attempt_deliver(attempt_id=attempt.pk) == StopReason.IDLE
    assert set(states(attempt).values()) == {Delivery.State.SENT}
    assert len(server_a.handler.messages) == 2


def test_a_run_that_waits_past_its_end_is_skipped_not_sent(
    owner: User, manager: User, server_a: AuthSmtpServer
) -> None:
    account = _account(owner, server_a)
    mailing, attempt = make_run(owner, ["a@example.com"], end_in=timedelta(seconds=30))
    Mailing.objects.filter(pk=mailing.pk).update(smtp_account=account)
    smtp_account_disable(account=account, actor=manager, reason="жалобы")

    # The next look at the account would come after the mailing's end: the rest is skipped at once.
    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    assert states(attempt) == {"a@example.com": Delivery.State.SKIPPED}
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.FAILURE
    assert server_a.handler.messages == []


def test_without_an_account_and_with_the_service_account_forbidden_the_run_waits(owner: User, settings: Any) -> None:
    settings.ALLOW_SERVICE_ACCOUNT_FOR_MAILINGS = False
    mailing, attempt = make_run(owner, ["a@example.com"])

    assert attempt_deliver(attempt_id=attempt.pk) == StopReason.PAUSED

    assert states(attempt) == {"a@example.com": Delivery.State.PENDING}
    assert "служебная" in mailing_sending_status(mailing=mailing).paused_reason
